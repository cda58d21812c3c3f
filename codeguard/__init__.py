"""codeguard: find code copied from indexed reference corpora, with provenance."""

from __future__ import annotations

__version__ = "0.1.0"
