"""JSON report: sorted keys and a stable layout so snapshot tests and diffs are stable."""

from __future__ import annotations

import json
from typing import Any, TextIO

from codeguard import __version__
from codeguard.model import ScanResult

SCHEMA_VERSION = 1


def to_json(result: ScanResult) -> dict[str, Any]:
    """The scan result as plain data."""
    return {
        "tool": {"name": "codeguard", "version": __version__},
        "schema_version": SCHEMA_VERSION,
        "root": result.root,
        "base": result.base,  # the directory every path is relative to
        "findings": [f.to_json() for f in result.findings],
        "license_findings": [f.to_json() for f in result.license_findings],
        "suppressed": [f.to_json() for f in result.suppressed],
        "suppressed_license_findings": [f.to_json() for f in result.suppressed_license],
        "project": result.project,
        "skipped": [{"path": s.path, "reason": s.reason} for s in result.skipped],
        "stats": result.stats,
        "index": result.index,
    }


class JsonReport:
    def write(self, result: ScanResult, out: TextIO, color: bool) -> None:
        json.dump(to_json(result), out, indent=2, sort_keys=True)
        out.write("\n")
