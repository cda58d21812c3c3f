"""The license of a tree (a project or a reference source) and of a file's own header.

A tree's license comes from its package metadata (an explicit SPDX declaration wins) or else
from its LICENSE / COPYING / NOTICE files. A file's own license comes from an
``SPDX-License-Identifier`` tag or a license notice in its header and overrides its tree's.
What cannot be decided stays ``None`` (unknown), never guessed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from codeguard.licenses.cache import LicenseFileCache, StampedCache
from codeguard.licenses.metadata import PARSERS, Declared, declared_in

LICENSE_FILE_RE = re.compile(
    r"^(licen[cs]e|copying|notice|unlicense|copyright|legal)([-_.][\w.-]*)?$", re.IGNORECASE
)
NOTICE_FILE_RE = re.compile(r"^(notice|third[-_]?party|credits|acknowledg|authors|licen[cs]e)", re.IGNORECASE)
# A header is the first lines of a file, where license notices sit.
HEADER_LINES = 60
HEADER_BYTES = 8192
# Cheap prefilter before running the matcher on a header.
_HINT_RE = re.compile(
    rb"licen[cs]|copyright|spdx|gpl|public domain|permission is hereby|redistribut|warrant", re.IGNORECASE
)
MAX_LICENSE_FILE_BYTES = 1_000_000
# A notice that sends the reader to the package's license file ("BSD, see LICENSE", "See
# LICENSE.txt", "see the LICENSE file in the root of this repository"): what it names is the
# file's license, whatever words the notice uses for it. Upper-case file names only, so that
# Apache's "See the License for the specific language" is not one, nor a URL's ".../LICENSE-2.0".
POINTER_RE = re.compile(
    r"(?<![/\w])(?:LICEN[CS]E|COPYING)(?:\.[A-Za-z]+)?\b(?![-/])|\b(?i:licen[cs]e\s+file)\b"
)


@dataclass
class TreeLicense:
    """A tree's license and how it was found."""

    expression: str | None
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"license": self.expression, "evidence": self.evidence}


def _detect(text: str) -> list[Any]:
    from codeguard.licenses.detect import detect_licenses

    return list(detect_licenses(text))


def join_expressions(expressions: list[str]) -> str | None:
    """Unique expressions joined with AND (each must be honoured), or None."""
    unique = list(dict.fromkeys(e for e in expressions if e))
    if not unique:
        return None
    if len(unique) == 1:
        return unique[0]
    return " AND ".join(f"({e})" if " OR " in e else e for e in unique)


def read_head(path: Path, limit: int = MAX_LICENSE_FILE_BYTES) -> bytes:
    """At most ``limit`` bytes of a file (an enormous NOTICE file is not read whole)."""
    with open(path, "rb") as fh:
        return fh.read(limit)


def _license_file_expressions(text: str) -> list[str]:
    """The SPDX expressions stated in a license file's text, in order, each once."""
    return list(dict.fromkeys(m.spdx for m in _detect(text) if m.spdx))


def tree_license(
    names: list[str], read: Callable[[str], bytes | None], cache: LicenseFileCache | None = None
) -> TreeLicense:
    """License of a tree from its top-level file ``names``; ``read`` returns a file's bytes.

    What license files state comes from ``cache`` (default: the per-user one) when their text
    was seen before."""
    evidence: list[dict[str, Any]] = []
    declared: list[Declared] = []
    for name in sorted(names):
        if name in PARSERS:
            raw = read(name)
            if raw is None:
                continue
            declared.extend(declared_in(name, raw))
    for d in declared:
        evidence.append(
            {"file": d.file, "kind": "metadata", "field": d.field, "value": d.value, "license": d.expression}
        )
    from_files: list[str] = []
    for name in sorted(names):
        if not LICENSE_FILE_RE.match(name):
            continue
        raw = read(name)
        if raw is None:
            continue
        text = raw[:MAX_LICENSE_FILE_BYTES].decode("utf-8", "replace")
        cache = cache or LicenseFileCache()
        exprs = cache.expressions(text, _license_file_expressions)
        evidence.append({"file": name, "kind": "license-file", "license": join_expressions(exprs)})
        from_files.extend(exprs)
    explicit = [d.expression for d in declared if d.expression]
    return TreeLicense(join_expressions(explicit) or join_expressions(from_files), evidence)


def directory_license(root: Path, cache: LicenseFileCache | None = None) -> TreeLicense:
    """License of a directory tree from its top-level files (license files' detections through
    ``cache``, default: the per-user one)."""
    try:
        names = [p.name for p in root.iterdir() if p.is_file()]
    except OSError:
        return TreeLicense(None)

    def read(name: str) -> bytes | None:
        try:
            return read_head(root / name)
        except OSError:
            return None

    return tree_license(names, read, cache)


@dataclass(frozen=True)
class FileLicense:
    """A license found in a file's own header."""

    expression: str
    start_line: int
    end_line: int
    score: float
    kind: str
    pointer: bool = False  # the notice points at a license file (see POINTER_RE)

    def to_json(self) -> dict[str, Any]:
        return {"license": self.expression, "kind": self.kind, "pointer": self.pointer}


# Detected headers kept per user (codeguard.licenses.cache): ~150 bytes each.
HEADERS_FILE = "headers.json"
MAX_HEADERS = 1024


def header_cache() -> StampedCache:
    """The per-user cache of detected headers (stores written by its ``flush``)."""
    return StampedCache(HEADERS_FILE, max_entries=MAX_HEADERS)


def header_license(source: bytes, cache: StampedCache | None = None) -> FileLicense | None:
    """The license a source file declares in its header (SPDX tag or notice), if any; with a
    ``cache``, a header seen before is not detected again (new ones are stored without writing:
    the caller flushes it)."""
    head = source[:HEADER_BYTES]
    cut = 0
    for _ in range(HEADER_LINES):
        cut = head.find(b"\n", cut) + 1
        if cut == 0:
            cut = len(head)
            break
    head = head[:cut]
    if not _HINT_RE.search(head):
        return None
    if cache is None:
        return _header_license(head)
    key = hashlib.sha256(head).hexdigest()
    stored = cache.get(key)
    if isinstance(stored, dict):
        try:
            found = None if stored.get("none") is True else _file_license_from_json(stored)
            cache.hits += 1
            return found
        except (KeyError, TypeError, ValueError):
            pass
    cache.misses += 1
    found = _header_license(head)
    cache.put(key, {"none": True} if found is None else asdict(found), write=False)
    return found


def _file_license_from_json(node: dict[str, Any]) -> FileLicense:
    values = {k: node[k] for k in ("expression", "start_line", "end_line", "score", "kind", "pointer")}
    types = {
        "expression": str,
        "start_line": int,
        "end_line": int,
        "score": float,
        "kind": str,
        "pointer": bool,
    }
    for k, t in types.items():
        if not isinstance(values[k], t) or (t is int and isinstance(values[k], bool)):
            raise ValueError(f"bad {k}")
    return FileLicense(**values)


def _header_license(head: bytes) -> FileLicense | None:
    """The license a header (the first lines of a file, with a hint of one) declares."""
    matches = [m for m in _detect(head.decode("utf-8", "replace")) if m.spdx]
    if not matches:
        return None
    tags = [m for m in matches if m.kind == "tag"]
    if tags:  # an explicit SPDX-License-Identifier is the file's declaration (as in REUSE)
        matches = tags
    expr = join_expressions([m.spdx for m in matches])
    assert expr is not None
    start, end = min(m.start_line for m in matches), max(m.end_line for m in matches)
    # The pointer may sit on the line after the matched words ("...BSD License.\n# See LICENSE").
    lines = head.decode("utf-8", "replace").splitlines()[start - 1 : end + 1]
    return FileLicense(
        expression=expr,
        start_line=start,
        end_line=end,
        score=min(m.score for m in matches),
        kind=matches[0].kind,
        pointer=any(POINTER_RE.search(line) for line in lines),
    )


def _declares(d: Path) -> bool:
    try:
        return any(p.name in PARSERS or LICENSE_FILE_RE.match(p.name) for p in d.iterdir() if p.is_file())
    except OSError:
        return False


def project_root(path: Path) -> Path:
    """Where a scanned path's project starts: the nearest directory at or above it that has a
    license or package metadata file, not above the enclosing git work tree."""
    start = (path if path.is_dir() else path.parent).resolve()
    chain = [start, *start.parents]
    top = next((i for i, d in enumerate(chain) if (d / ".git").exists()), None)
    if top is not None:
        chain = chain[: top + 1]
    for d in chain:
        if _declares(d):
            return d
    return chain[-1] if top is not None else start


def notices_mention(root: Path, needles: list[str]) -> str | None:
    """The project notice file (NOTICE, THIRD-PARTY..., LICENSE) that names one of ``needles``."""
    try:
        files = sorted(p for p in root.iterdir() if p.is_file() and NOTICE_FILE_RE.match(p.name))
    except OSError:
        return None
    wanted = [n.lower() for n in needles if n and len(n) >= 3]
    for f in files:
        try:
            text = read_head(f).decode("utf-8", "replace").lower()
        except OSError:
            continue
        if any(n in text for n in wanted):
            return f.name
    return None
