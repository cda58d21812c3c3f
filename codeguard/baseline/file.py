"""Baseline files: findings accepted once, keyed by content (not line numbers), subtracted from
later scans so that a gate fails on new findings only.

Two kinds of entries: copied code (``kind: copy``) and a project file's own license notice
(``kind: license-notice``). A copy entry matches a finding with the same content fingerprint
(the file, the origin and the copied code's normalized tokens: moved lines do not matter); an
entry that no finding matches that way still accepts a finding of the same file copied from the
same origin file whose code shares most of its evidence (a bottom-k sample of its fingerprints,
``sketch``, estimated Jaccard >= ``CHANGED_MIN_SIMILARITY``): that copy was edited since it was
accepted, and is reported as *changed since accepted*, not as new; so is a finding of the same
file and origin file whose origin lines lie inside an accepted region (an accepted copy that an
edit split into several findings). A copy entry whose file is gone from the tree (``git mv``)
accepts a finding of another file copied from the same origin file with the same evidence: that
copy *moved since accepted*, not new. A copy of accepted code into another file while the
accepted copy is still there is new (the baseline accepts a copy where it is, not every later
use of its origin); ``resembling`` names the entry it resembles, for the reports. A notice
entry matches the same file declaring the same license.

The file is meant to be committed: paths in it are relative to the repository (the findings)
or to the baseline's directory (index, policy; left out when they lie outside it). It records
the settings, index and codeguard version that produced it. Older formats are upgraded in
memory by versioned steps (``_UPGRADES``); the file is rewritten only by ``codeguard baseline
create/update``, never behind the user's back by a scan.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from codeguard import __version__
from codeguard.errors import ConfigError
from codeguard.model import Finding, LicenseFinding, ScanResult

VERSION = 2
DEFAULT_NAME = ".codeguard-baseline.json"
COPY, NOTICE = "copy", "license-notice"
# Fingerprint values kept per copy entry (the smallest ones: a bottom-k sample).
SKETCH_SIZE = 32
# Estimated Jaccard similarity of two sketches from which an edited copy is the accepted one.
CHANGED_MIN_SIMILARITY = 0.5


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 knew copies only and stored absolute index and policy paths (dropped here)."""
    for e in data.get("findings") or []:
        if isinstance(e, dict):
            e.setdefault("kind", COPY)
    for section, key in (("index", "path"), ("settings", "policy")):
        part = data.get(section)
        if isinstance(part, dict) and isinstance(part.get(key), str) and Path(part[key]).is_absolute():
            part[key] = None
    return {**data, "version": 2}


# version n -> function upgrading a baseline dict of version n to n + 1
_UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


# -- sketches ------------------------------------------------------------------------------------
def make_sketch(hashes: Iterable[int]) -> str:
    """The bottom-k sample of a region's fingerprints, as space-separated 32-bit hex values."""
    values = sorted({h & 0xFFFFFFFF for h in hashes})[:SKETCH_SIZE]
    return " ".join(f"{v:08x}" for v in values)


def similarity(a: str, b: str) -> float:
    """Estimated Jaccard similarity of the regions two sketches sample (0 when one is empty)."""
    sa, sb = set(a.split()), set(b.split())
    if not sa or not sb:
        return 0.0
    union = sorted(sa | sb, key=lambda v: int(v, 16))[:SKETCH_SIZE]
    return sum(1 for v in union if v in sa and v in sb) / len(union)


# -- building and writing ------------------------------------------------------------------------
def _entry(f: Finding, previous: dict[str, Any] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "kind": COPY,
        "fingerprint": f.fingerprint,
        "path": f.path,
        "chunk": f.chunk_name,
        "match_type": f.match_type,
        "origin": {
            "source": f.origin.source,
            "path": f.origin.path,
            "chunk": f.origin.chunk_name,
            "license": f.origin.license,
            "lines": [f.origin.start_line, f.origin.end_line],
        },
        "rule_id": f.rule_id,
        "level": f.level,
        "lines": [f.start_line, f.end_line],  # informative only: matching ignores them
        "sketch": f.sketch,
    }
    return _keep_justification(entry, previous)


def _notice_entry(lf: LicenseFinding, previous: dict[str, Any] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "kind": NOTICE,
        "fingerprint": lf.fingerprint,
        "path": lf.path,
        "license": lf.license,
        "rule_id": lf.rule_id,
        "level": lf.level,
        "lines": [lf.start_line, lf.end_line],
    }
    return _keep_justification(entry, previous)


def _keep_justification(entry: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    # A justification written by hand into the file is kept across updates.
    if previous and previous.get("justification"):
        entry["justification"] = previous["justification"]
    return entry


def _relative(path: str | None, base: Path) -> str | None:
    """``path`` relative to ``base`` (posix) when it lies below it; else None (not stored: an
    absolute path means nothing on another machine)."""
    if not path:
        return None
    try:
        return Path(path).resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return None


def build(result: ScanResult, previous: dict[str, Any] | None, location: Path) -> dict[str, Any]:
    """A baseline (to be written at ``location``) accepting every finding of ``result``; entries
    of ``previous`` that still match (exactly or changed) keep their justification."""
    gone = gone_from(Path(result.base)) if result.base else None
    old = match(previous, result.findings, result.license_findings, gone) if previous else {}
    entries = [_entry(f, old.get(id(f), (None, None))[1]) for f in result.findings]
    entries += [_notice_entry(lf, old.get(id(lf), (None, None))[1]) for lf in result.license_findings]
    entries.sort(key=lambda e: (e["path"], e["lines"][0], e["kind"], e["fingerprint"]))
    here = location.parent
    return {
        "version": VERSION,
        "generated_by": f"codeguard {__version__}",
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "settings": {
            "thresholds": result.stats.get("thresholds", {}),
            "policy": _relative(result.project.get("policy"), here),
            "project_license": result.project.get("license"),
        },
        "index": {
            "path": _relative(result.index.get("path"), here),
            "manifest": result.index.get("manifest"),
            "sources": result.index.get("sources"),
            "files": result.index.get("files"),
        },
        "findings": entries,
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
    entries = data.get("findings")
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("fingerprint"), str) for e in entries
    ):
        raise ConfigError(f"{path}: 'findings' must be a list of objects with a 'fingerprint' string.")
    while version < VERSION:
        if version not in _UPGRADES:
            raise ConfigError(
                f"{path}: baseline version {version} cannot be upgraded; create a new baseline."
            )
        data = _UPGRADES[version](data)
        version = data["version"]
    checked: dict[str, Any] = data
    return checked


# -- matching ------------------------------------------------------------------------------------
def gone_from(base: Path) -> Callable[[str], bool]:
    """``gone(path)`` for baseline paths relative to ``base``: no such file any more."""

    def gone(path: str) -> bool:
        try:
            return not (base / path).exists()
        except (OSError, ValueError):
            return False

    return gone


def match(
    data: dict[str, Any],
    findings: Sequence[Finding],
    notices: Sequence[LicenseFinding] = (),
    gone: Callable[[str], bool] | None = None,
) -> dict[int, tuple[str, dict[str, Any]]]:
    """id(finding) -> ("same" | "changed" | "moved", the baseline entry accepting it), for the
    findings and license notices that ``data`` accepts; ``gone(path)`` says whether a file an
    entry names is no longer in the tree (without it nothing is matched as moved). Each entry
    accepts at most one finding by similarity; exact fingerprints are matched first so that an
    edit never steals them."""
    entries = data.get("findings") or []
    by_fp: dict[str, dict[str, Any]] = {}
    for e in entries:
        by_fp.setdefault(e["fingerprint"], e)
    out: dict[int, tuple[str, dict[str, Any]]] = {}
    used: set[int] = set()
    every: list[Finding | LicenseFinding] = [*findings, *notices]
    for f in every:
        e = by_fp.get(f.fingerprint)
        if e is not None and e.get("kind", COPY) == (COPY if isinstance(f, Finding) else NOTICE):
            out[id(f)] = ("same", e)
            used.add(id(e))
    free = [e for e in entries if id(e) not in used and e.get("kind", COPY) == COPY]
    for f in findings:
        if id(f) in out:
            continue
        best, best_sim = None, CHANGED_MIN_SIMILARITY
        for e in free:
            if id(e) in used or not _same_origin(e, f):
                continue
            sim = similarity(str(e.get("sketch") or ""), f.sketch)
            if sim >= best_sim:
                best, best_sim = e, sim
        if best is not None:
            out[id(f)] = ("changed", best)
            used.add(id(best))
    # An edit can split one accepted copy into several findings (an identical file accepted
    # whole becomes one finding per function once a line of it changes): a finding of the same
    # file whose origin lines lie inside an accepted region of the same origin file, that no
    # finding still matches exactly, is that copy changed since accepted.
    exact = {id(e) for kind, e in out.values() if kind == "same"}
    for f in findings:
        if id(f) in out:
            continue
        for e in entries:
            if id(e) not in exact and e.get("kind", COPY) == COPY and _inside(e, f):
                out[id(f)] = ("changed", e)
                break
    if gone is not None:
        for f in findings:
            if id(f) in out:
                continue
            for e in free:
                if id(e) not in used and _moved(e, f, gone):
                    out[id(f)] = ("moved", e)
                    used.add(id(e))
                    break
    return out


def resembling(data: dict[str, Any], f: Finding) -> dict[str, Any] | None:
    """The copy entry of *another* file that a finding the baseline does not accept resembles
    (same origin file, a similar fingerprint sample), if any: the accepted code copied once more
    while the accepted copy stays. That is a new finding (the baseline accepts a copy where it
    is, not every later use of the same origin); the reports name the entry so that the user sees
    why, and can accept it with ``baseline update`` after a look."""
    best, best_sim = None, CHANGED_MIN_SIMILARITY
    for e in data.get("findings") or []:
        origin = e.get("origin") or {}
        if (
            e.get("kind", COPY) != COPY
            or e.get("path") == f.path
            or origin.get("source") != f.origin.source
            or origin.get("path") != f.origin.path
        ):
            continue
        sketch = str(e.get("sketch") or "")
        if sketch or f.sketch:
            sim = similarity(sketch, f.sketch)
        else:  # a whole file hashed, not chunked: the same origin lines
            same = origin.get("lines") == [f.origin.start_line, f.origin.end_line]
            sim = 1.0 if same and e.get("chunk") == f.chunk_name else 0.0
        if sim >= best_sim and (best is None or sim > best_sim):
            best, best_sim = e, sim
    return best


def _moved(e: dict[str, Any], f: Finding, gone: Callable[[str], bool]) -> bool:
    """Whether ``f`` is the entry's copy in a file moved since accepted: the entry's file is
    gone, the origin file is the same and so is the evidence (a similar sketch; a whole file
    hashed but not chunked has none: the same origin lines)."""
    origin = e.get("origin") or {}
    path = e.get("path")
    if not isinstance(path, str) or path == f.path or not gone(path):
        return False
    if origin.get("source") != f.origin.source or origin.get("path") != f.origin.path:
        return False
    sketch = str(e.get("sketch") or "")
    if sketch or f.sketch:
        return similarity(sketch, f.sketch) >= CHANGED_MIN_SIMILARITY
    return e.get("chunk") == f.chunk_name and origin.get("lines") == [f.origin.start_line, f.origin.end_line]


def _inside(e: dict[str, Any], f: Finding) -> bool:
    """Whether ``f`` copies lines of the origin region the entry accepted."""
    lines = (e.get("origin") or {}).get("lines")
    if not _same_origin(e, f) or not isinstance(lines, list) or len(lines) != 2:
        return False
    try:
        lo, hi = int(lines[0]), int(lines[1])
    except (TypeError, ValueError):
        return False
    return lo <= f.origin.start_line and f.origin.end_line <= hi


def _same_origin(e: dict[str, Any], f: Finding) -> bool:
    origin = e.get("origin") or {}
    return bool(
        e.get("path") == f.path
        and origin.get("source") == f.origin.source
        and origin.get("path") == f.origin.path
    )
