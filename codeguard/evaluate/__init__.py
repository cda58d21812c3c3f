"""Evaluation harness: clone-detection benchmarks (POJ-104, BigCloneBench, GCJ, SOCO) run
through pluggable scorers (fingerprints today; embeddings and combinations later).

The datasets are read in place from ``$CODEGUARD_DATA`` (default ``../shared/data`` next to the
repository); they are never copied into the repository (non-commercial licenses).
"""

from __future__ import annotations
