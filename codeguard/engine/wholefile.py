"""Whole-file matches at scan time: a scanned file identical to an indexed one (byte for byte, up
to whitespace, or up to a few lines) is one finding for the whole file, lines 1..N on both sides.

Looked up before chunk matching, by two indexed hashes per file and, for big files with no
identical copy, by a bottom-k line sketch verified with a line diff: cost per file is a few
index lookups plus work linear in the file, whatever the index holds. Files not chunked
(generated, minified, long-lined) are compared too. Whether a match is a copy (trivial files
are not) is codeguard.verdict.wholefile's decision.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from codeguard.engine.own import OwnCopies
from codeguard.fingerprint.wholefile import SKETCH_SIZE, WholeFile, matching_lines
from codeguard.index.store import IndexStore, SourceRow, WholeRow
from codeguard.licenses.packages import names_project
from codeguard.model import Finding, Fragment, Provenance, finding_fingerprint
from codeguard.verdict.wholefile import BYTES, KINDS, LINES, WHITESPACE, FileMatch, probability, says_nothing

# Chunk kind of a whole-file finding (reports show it where a chunk's kind stands).
FILE_KIND = "file"
# Identical copies listed in ``also_in``, after the origin.
ALSO_IN_MAX = 5
# Identical up to lines: a candidate's sketch shares at least this share of the scanned file's
# (bottom-k, so about the Jaccard similarity of their line sets); the best few are diffed, and
# only those whose non-blank line counts are within NEAR_SIZE_RATIO of each other.
MIN_SKETCH_SHARE = 0.75
MAX_NEAR_CANDIDATES = 3
NEAR_SIZE_RATIO = 0.9
# Differing line ranges named in a finding before "and N more".
MAX_NAMED_RANGES = 8

_NAMES = {BYTES: "identical file", WHITESPACE: "identical up to whitespace"}


def whole_file_findings(
    store: IndexStore,
    scanned: list[tuple[str, WholeFile]],
    sources: dict[int, SourceRow],
    min_probability: float,
    tokens: dict[str, int] | None = None,
    own: OwnCopies | None = None,
) -> list[Finding]:
    """One finding per scanned file that is (nearly) identical to an indexed file and not
    trivial; ``tokens`` gives the token counts of the files that were parsed; ``own`` the
    indexed copies that are the scanned files themselves (never an origin)."""
    tokens = tokens or {}
    own = own or OwnCopies()
    rows = store.whole_matches(h for _, w in scanned for h in (w.sha256, w.norm_sha256))
    by_sha: dict[str, list[WholeRow]] = defaultdict(list)
    by_norm: dict[str, list[WholeRow]] = defaultdict(list)
    for r in rows:
        by_sha[r.sha256].append(r)
        by_norm[r.norm_sha256].append(r)
    out: list[Finding] = []
    for relpath, w in scanned:
        mine = own.wholes_of(relpath)
        hits = [(BYTES, r) for r in by_sha.get(w.sha256, []) if r.id not in mine]
        same = {r.id for _, r in hits}
        hits += [(WHITESPACE, r) for r in by_norm.get(w.norm_sha256, []) if r.id not in same | mine]
        if any(sources[r.source_id].boilerplate for _, r in hits):
            continue  # the file is a template's (a boilerplate source is never reported)
        if hits:
            kind = hits[0][0] if hits[0][0] == BYTES else WHITESPACE
            sharing = len([r for r in by_sha[w.sha256] if r.id not in mine]) if kind == BYTES else len(hits)
            p = probability(_evidence(w, kind, sharing))
            if p >= min_probability:
                out.append(_identity_finding(relpath, w, hits, sources, p, tokens.get(relpath, 0)))
            continue
        near = _near_finding(store, relpath, w, sources, min_probability, tokens.get(relpath, 0), mine)
        if near is not None:
            out.append(near)
    return out


def trivial_files(scanned: Iterable[tuple[str, WholeFile]]) -> set[str]:
    """The scanned files that say too little to be a finding by any path (an empty
    ``__init__.py``, a lone ``__version__``): their chunks are not matched either."""
    return {relpath for relpath, w in scanned if says_nothing(_evidence(w, BYTES, 1))}


def _evidence(w: WholeFile, kind: str, sharing: int, line_share: float = 1.0) -> FileMatch:
    return FileMatch(kind, w.distinct_lines, w.chars, w.code, sharing, line_share, w.metadata)


def _order(kind: str, row: WholeRow, sources: dict[int, SourceRow]) -> tuple[bool, bool, int, str, str]:
    """Origins of a file: upstream before a vendored copy and a corpus named after the file's
    project before one that only bundles it (as for chunk findings, ``engine.scan._rank_origins``),
    then byte-identical before identical up to whitespace, then by name."""
    name = sources[row.source_id].name
    return (
        bool(row.vendored),
        not names_project(row.package_name, row.package, name),
        KINDS.index(kind),
        name,
        row.path,
    )


def _provenance(row: WholeRow, source: SourceRow, start: int = 1, end: int | None = None) -> Provenance:
    return Provenance(
        source=source.name,
        path=row.path,
        start_line=start,
        end_line=max(1, row.n_lines) if end is None else end,
        commit=source.commit_sha,
        license=row.license or source.license,
        chunk_kind=FILE_KIND,
        chunk_name=row.path.rsplit("/", 1)[-1],
        origin=source.location,
        license_from=row.license_from or "",
        license_note=row.license_note or "",
        vendored=(row.package or "") if row.vendored else "",
    )


def _identity_finding(
    relpath: str,
    w: WholeFile,
    hits: list[tuple[str, WholeRow]],
    sources: dict[int, SourceRow],
    p: float,
    n_tokens: int,
) -> Finding:
    hits = sorted(hits, key=lambda h: _order(h[0], h[1], sources))
    kind, top = hits[0]
    n = max(1, w.n_lines)
    fragment = Fragment(1, n, 1, max(1, top.n_lines), tokens=n_tokens, exact=True)
    return _file_finding(
        relpath,
        w,
        top,
        sources,
        p,
        name=_NAMES[kind],
        fragments=(fragment,),
        also_in=tuple(_provenance(r, sources[r.source_id]) for _, r in hits[1 : 1 + ALSO_IN_MAX]),
        longest=n_tokens,
    )


def _file_finding(
    relpath: str,
    w: WholeFile,
    top: WholeRow,
    sources: dict[int, SourceRow],
    p: float,
    name: str,
    fragments: tuple[Fragment, ...],
    also_in: tuple[Provenance, ...] = (),
    longest: int = 0,
    coverage: float = 1.0,
    match_type: str = "exact",
) -> Finding:
    source = sources[top.source_id]
    return Finding(
        path=relpath,
        start_line=1,
        end_line=max(1, w.n_lines),
        chunk_kind=FILE_KIND,
        chunk_name=name,
        match_type=match_type,
        score=coverage,
        coverage=coverage,
        origin_coverage=coverage,
        longest=longest,
        fragments=fragments,
        origin=_provenance(top, source),
        also_in=also_in,
        fingerprint=finding_fingerprint(relpath, source.name, top.path, FILE_KIND, w.norm_sha256.encode()),
        probability=p,
        channel="identical" if match_type == "exact" else "edited",
    )


def _near_finding(
    store: IndexStore,
    relpath: str,
    w: WholeFile,
    sources: dict[int, SourceRow],
    min_probability: float,
    n_tokens: int,
    mine: frozenset[int] = frozenset(),
) -> Finding | None:
    """The finding of a big file identical to an indexed one up to a few lines, if any (never
    one of ``mine``, the whole-file ids of the file's own indexed copies)."""
    sketch = w.sketch()
    if len(sketch) == 0:
        return None
    shared = store.sketch_candidates(sketch.tolist(), math.ceil(MIN_SKETCH_SHARE * len(sketch)))
    shared = {i: n for i, n in shared.items() if i not in mine}
    ranked = sorted(shared, key=lambda i: (-shared[i], i))[:MAX_NEAR_CANDIDATES]
    best: tuple[float, WholeRow, list[tuple[int, int, int]], np.ndarray] | None = None
    n_q = len(w.line_hashes)
    for row in store.whole_rows(ranked):
        if sources[row.source_id].boilerplate:
            continue
        hashes, numbers = store.whole_lines(row.id)
        if min(n_q, len(hashes)) < NEAR_SIZE_RATIO * max(n_q, len(hashes)):
            continue
        blocks = matching_lines(w.line_hashes, hashes)
        share = sum(n for _, _, n in blocks) / max(n_q, len(hashes))
        if best is None or share > best[0]:
            best = (share, row, blocks, numbers)
    if best is None:
        return None
    share, row, blocks, numbers = best
    p = probability(_evidence(w, LINES, 1, share))
    if p < min_probability:
        return None
    qn = w.line_numbers
    fragments = tuple(
        Fragment(int(qn[a]), int(qn[a + n - 1]), int(numbers[b]), int(numbers[b + n - 1]), 0, exact=True)
        for a, b, n in blocks
    )
    differing = _differing_lines(qn, blocks)
    return _file_finding(
        relpath,
        w,
        row,
        sources,
        p,
        name=f"identical except line(s) {_ranges(differing)}" if differing else "identical up to blank lines",
        fragments=fragments,
        longest=n_tokens,
        coverage=share,
        match_type="modified",
    )


def _differing_lines(numbers: np.ndarray, blocks: Iterable[tuple[int, int, int]]) -> list[int]:
    """Line numbers of the scanned file's non-blank lines outside every equal run."""
    inside = np.zeros(len(numbers), dtype=bool)
    for a, _, n in blocks:
        inside[a : a + n] = True
    return [int(x) for x in numbers[~inside].tolist()]


def _ranges(lines: list[int]) -> str:
    """``[3, 4, 5, 9]`` as ``3-5, 9`` (the first few ranges, then how many more)."""
    spans: list[list[int]] = []
    for n in lines:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    text = [f"{a}-{b}" if b > a else str(a) for a, b in spans[:MAX_NAMED_RANGES]]
    if len(spans) > MAX_NAMED_RANGES:
        text.append(f"and {len(spans) - MAX_NAMED_RANGES} more")
    return ", ".join(text)


__all__ = ["SKETCH_SIZE", "trivial_files", "whole_file_findings"]
