"""Baseline files: findings accepted once, keyed by content (not line numbers), subtracted from
later scans so that a gate fails on new findings only.

The file records the settings, index and codeguard version that produced it. Older formats
are upgraded in memory by versioned steps (``_UPGRADES``); the file is rewritten only by
``codeguard baseline create/update``, never behind the user's back by a scan.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from codeguard import __version__
from codeguard.errors import ConfigError
from codeguard.model import Finding, ScanResult

VERSION = 1
# version n -> function upgrading a baseline dict of version n to n + 1
_UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def _entry(f: Finding, previous: dict[str, Any] | None) -> dict[str, Any]:
    entry = {
        "fingerprint": f.fingerprint,
        "path": f.path,
        "chunk": f.chunk_name,
        "match_type": f.match_type,
        "origin": {
            "source": f.origin.source,
            "path": f.origin.path,
            "chunk": f.origin.chunk_name,
            "license": f.origin.license,
        },
        "rule_id": f.rule_id,
        "level": f.level,
        "lines": [f.start_line, f.end_line],  # informative only: matching ignores them
    }
    # A justification written by hand into the file is kept across updates.
    if previous and previous.get("justification"):
        entry["justification"] = previous["justification"]
    return entry


def build(result: ScanResult, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """A baseline accepting every finding of ``result``."""
    old = {e["fingerprint"]: e for e in (previous or {}).get("findings", [])}
    findings = sorted(
        (_entry(f, old.get(f.fingerprint)) for f in result.findings),
        key=lambda e: (e["path"], e["lines"][0], e["fingerprint"]),
    )
    return {
        "version": VERSION,
        "generated_by": f"codeguard {__version__}",
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "settings": {
            "thresholds": result.stats.get("thresholds", {}),
            "policy": result.project.get("policy"),
            "project_license": result.project.get("license"),
        },
        "index": {
            "path": result.index.get("path"),
            "manifest": result.index.get("manifest"),
            "sources": result.index.get("sources"),
            "files": result.index.get("files"),
        },
        "findings": findings,
    }


def write(path: Path, data: dict[str, Any]) -> None:
    """Write a baseline atomically, with sorted keys so that diffs stay small."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"Cannot write the baseline {path}: {exc.strerror or exc}") from None


def load(path: Path) -> dict[str, Any]:
    """Read, validate and upgrade a baseline file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"Baseline file not found: {path} (create one with `codeguard baseline create`)."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read the baseline {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: the baseline is not valid JSON ({exc.msg}).") from None
    except RecursionError:
        raise ConfigError(f"{path}: the baseline is nested too deeply to be a codeguard baseline.") from None
    if not isinstance(data, dict) or not isinstance(data.get("version"), int):
        raise ConfigError(f"{path}: not a codeguard baseline (no integer 'version').")
    version = data["version"]
    if version > VERSION:
        raise ConfigError(
            f"{path}: baseline version {version} is newer than this codeguard supports ({VERSION}); "
            "upgrade codeguard."
        )
    while version < VERSION:
        if version not in _UPGRADES:
            raise ConfigError(
                f"{path}: baseline version {version} cannot be upgraded; create a new baseline."
            )
        data = _UPGRADES[version](data)
        version = data["version"]
    entries = data.get("findings")
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("fingerprint"), str) for e in entries
    ):
        raise ConfigError(f"{path}: 'findings' must be a list of objects with a 'fingerprint' string.")
    checked: dict[str, Any] = data
    return checked


def fingerprints(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """fingerprint -> baseline entry."""
    return {e["fingerprint"]: e for e in data["findings"]}
