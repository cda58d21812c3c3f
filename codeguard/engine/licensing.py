"""`codeguard licenses PATH`: what license each file of a tree declares, and the tree's own."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from codeguard.discover import ALWAYS_SKIPPED_DIRS, Candidate, iter_tree, prepare_source
from codeguard.errors import UsageError
from codeguard.licenses.packages import Packages, attribute, directory_reader, find_packages, package_paths
from codeguard.licenses.project import (
    LICENSE_FILE_RE,
    directory_license,
    header_cache,
    header_license,
    project_root,
    read_head,
)
from codeguard.model import Skip

# codeguard's own files: the license ids in them (accepted findings' origins in a baseline, a
# project-license setting) are codeguard's records, not declarations of the project.
BASELINE_FILE = ".codeguard-baseline.json"  # the default name (`codeguard baseline create`)
OWN_FILES = frozenset({BASELINE_FILE, ".codeguardignore", ".codeguard.toml"})
OWN_DIR = ".codeguard"


def _is_own(item: Candidate, configured: set[Path]) -> bool:
    """Whether a file of the tree is one of codeguard's own (a baseline file given by name, too)."""
    rel = item.relpath.split("/")
    return rel[-1] in OWN_FILES or OWN_DIR in rel[:-1] or item.path.resolve() in configured


def _detect(text: str) -> list[Any]:
    from codeguard.licenses.detect import detect_licenses

    return list(detect_licenses(text))


def license_report(root: Path, exclude: tuple[str, ...] = (), own: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Detected licenses per file (whole license files, headers of other files), the packages
    of the tree (node_modules and the like included) and the tree's own license.

    codeguard's own files are left out: those of ``OWN_FILES``, ``.codeguard/`` and ``own``
    (a baseline file under another name)."""
    if not root.exists():
        raise UsageError(f"No such file or directory: {root}")
    t0 = time.perf_counter()
    packages = (
        find_packages(package_paths(root, ALWAYS_SKIPPED_DIRS), directory_reader(root))
        if root.is_dir()
        else None
    )
    items = (
        # No size limit here: only the head of each file is read (read_head).
        list(iter_tree(root, 1 << 62, exclude, all_files=True))
        if root.is_dir()
        else [Candidate(root.name, root, "")]
    )
    files: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    n = 0
    configured = {p.resolve() for p in own}
    headers = header_cache()
    for item in items:
        if isinstance(item, Skip):
            skipped.append({"path": item.path, "reason": item.reason})
            continue
        if root.is_dir() and _is_own(item, configured):
            continue
        n += 1
        try:
            raw = read_head(item.path)
        except OSError as exc:
            skipped.append({"path": item.relpath, "reason": f"unreadable: {exc.strerror or exc}"})
            continue
        text, _ = prepare_source(raw)  # binary -> None; UTF-16 and legacy encodings decoded
        if text is None:
            continue
        if LICENSE_FILE_RE.match(item.path.name):
            for m in _detect(text.decode("utf-8", "replace")):
                files.append(_row(item.relpath, m.spdx, m.start_line, m.end_line, m.score, m.kind))
        else:
            found = header_license(text, headers)
            if found:
                row = _row(
                    item.relpath, found.expression, found.start_line, found.end_line, found.score, found.kind
                )
                files.append({**row, **_resolved(packages, item.relpath, found.to_json())})
    headers.flush()
    proj = project_root(root)
    tree = directory_license(proj)
    return {
        "root": str(root),
        "project": {**tree.to_json(), "root": str(proj)},
        "packages": [p.to_json() for p in packages.table()] if packages else [],
        "files": files,
        "skipped": skipped,
        "stats": {"files_read": n, "seconds": round(time.perf_counter() - t0, 3)},
    }


def _row(path: str, spdx: str, start: int, end: int, score: float, kind: str) -> dict[str, Any]:
    return {
        "path": path,
        "license": spdx,
        "start_line": start,
        "end_line": end,
        "confidence": round(score, 3),
        "kind": kind,
    }


def _resolved(packages: Packages | None, relpath: str, notice: dict[str, Any]) -> dict[str, Any]:
    """What a header notice means for its file, where its package changes it (a pointer to the
    package's license file, a family name)."""
    if packages is None:
        return {}
    att = attribute(notice, packages.of(relpath))
    if att.license == notice["license"] and not att.note:
        return {}
    return {"resolved": att.license, "resolved_from": att.license_from, "note": att.note}
