"""Turn shared fingerprints into aligned fragments and group them by chunk.

Seeds are pairs (query k-gram position, reference k-gram position) with equal hashes. Seeds on
the same diagonal that overlap are merged, verified token by token and extended left and right
as far as the normalized tokens agree, so fragment bounds are exact rather than limited to the
winnowed positions. Overlapping fragments (repeated code) are resolved greedily, longest first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codeguard.fingerprint.winnow import K, kgram_hashes
from codeguard.model import Chunk

Span = tuple[int, int, int, int]  # query start, query end, ref start, ref end (token positions)


def _equal_runs(a: np.ndarray, b: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    """Maximal runs where ``a`` and ``b`` agree, at least ``min_len`` long."""
    eq = np.concatenate(([False], a == b, [False]))
    edges = np.flatnonzero(eq[1:] != eq[:-1])
    return [(int(s), int(e)) for s, e in zip(edges[::2], edges[1::2]) if e - s >= min_len]


def align(q: np.ndarray, r: np.ndarray, qpos: np.ndarray, rpos: np.ndarray, k: int = K) -> list[Span]:
    """Maximal fragments of identical tokens between ``q`` and ``r`` seeded by k-gram matches."""
    if len(qpos) == 0:
        return []
    qpos = np.asarray(qpos, dtype=np.int64)
    rpos = np.asarray(rpos, dtype=np.int64)
    diag = rpos - qpos
    order = np.lexsort((qpos, diag))
    runs: list[list[int]] = []
    for d, qs in zip(diag[order].tolist(), qpos[order].tolist()):
        if runs and runs[-1][0] == d and qs <= runs[-1][2]:
            runs[-1][2] = max(runs[-1][2], qs + k)
        else:
            runs.append([d, qs, qs + k])
    nq, nr = len(q), len(r)
    found: set[Span] = set()
    for d, qs0, qe0 in runs:
        qs0, qe0 = max(qs0, 0, -d), min(qe0, nq, nr - d)
        if qe0 - qs0 < k:
            continue
        for s, e in _equal_runs(q[qs0:qe0], r[qs0 + d : qe0 + d], k):
            qs, qe = qs0 + s, qs0 + e
            while qs > 0 and qs + d > 0 and q[qs - 1] == r[qs - 1 + d]:
                qs -= 1
            while qe < nq and qe + d < nr and q[qe] == r[qe + d]:
                qe += 1
            found.add((qs, qe, qs + d, qe + d))
    return _resolve_overlaps(sorted(found), nq, nr)


def _resolve_overlaps(frags: list[Span], nq: int, nr: int) -> list[Span]:
    """Keep the longest fragments; drop those mostly covered by ones already kept."""
    frags.sort(key=lambda f: (-(f[1] - f[0]), f[0], f[2]))
    q_used = np.zeros(nq, dtype=bool)
    r_used = np.zeros(nr, dtype=bool)
    kept: list[Span] = []
    for qs, qe, rs, re_ in frags:
        n = qe - qs
        if q_used[qs:qe].sum() * 2 > n or r_used[rs:re_].sum() * 2 > n:
            continue
        q_used[qs:qe] = True
        r_used[rs:re_] = True
        kept.append((qs, qe, rs, re_))
    kept.sort()
    return kept


@dataclass
class Group:
    """Fragments between one top-level chunk of the query and one of the reference."""

    q_region: Chunk
    r_region: Chunk
    pieces: list[Span]
    matched: int  # query tokens covered
    matched_ref: int  # reference tokens covered
    longest: int
    # Information content: distinct token 4-grams (+3), so that a repetitive run such as a long
    # dict literal `"a": x.a, "b": x.b, ...` does not count as a long copied fragment.
    longest_info: int = 0
    matched_info: int = 0

    @property
    def coverage(self) -> float:
        return self.matched / max(1, self.q_region.n_tokens)

    @property
    def origin_coverage(self) -> float:
        return self.matched_ref / max(1, self.r_region.n_tokens)

    @property
    def score(self) -> float:
        return min(1.0, max(self.coverage, self.origin_coverage))


def _top_bounds(chunks: list[Chunk]) -> np.ndarray:
    return np.array(sorted({c.start_tok for c in chunks if c.depth == 0}), dtype=np.int64)


# Tokens a fragment may run past the chunk it belongs to: a copied method that is the last one
# of its class shares the class's closing brace with the copy, and that brace alone must not turn
# the finding into the whole class.
SLACK = 3


def _smallest_enclosing(chunks: list[Chunk], start: int, end: int) -> Chunk:
    """The smallest chunk holding [start, end), up to SLACK tokens at either end."""
    best: Chunk | None = None
    for c in chunks:
        inside = c.start_tok <= start + SLACK and c.end_tok >= end - SLACK
        if inside and c.n_tokens >= (end - start) - 2 * SLACK and c.start_tok < end and c.end_tok > start:
            if best is None or c.n_tokens < best.n_tokens:
                best = c
    if best is None:  # tokens outside every chunk cannot happen with windows; stay total anyway
        return Chunk("window", "fragment", start, end, 0, 0)
    return best


def _clip(pieces: list[Span], lo: int, hi: int, ref_side: bool) -> list[Span]:
    """Pieces cut to [lo, hi) on one side, the other side moved along the same diagonal."""
    out = []
    for qs, qe, rs, re_ in pieces:
        a, b = (rs, re_) if ref_side else (qs, qe)
        na, nb = max(a, lo), min(b, hi)
        if nb <= na:
            continue
        d0, d1 = na - a, b - nb
        out.append((qs + d0, qe - d1, rs + d0, re_ - d1))
    return out


INFO_N = 4


def information(tokens: np.ndarray) -> int:
    """Distinct token n-grams of a fragment (+ n - 1): its length without repetition."""
    if len(tokens) < INFO_N:
        return len(tokens)
    return int(len(np.unique(kgram_hashes(tokens, INFO_N)))) + INFO_N - 1


def group_fragments(
    frags: list[Span], q_chunks: list[Chunk], r_chunks: list[Chunk], q_tokens: np.ndarray
) -> list[Group]:
    """Split fragments at top-level chunk boundaries of both sides and group them per chunk pair.

    A group is reported on the smallest chunk that contains all of its pieces, so a copied
    method is shown as the method and a copied class as the class.
    """
    qb, rb = _top_bounds(q_chunks), _top_bounds(r_chunks)
    groups: dict[tuple[int, int], list[Span]] = {}
    for qs, qe, rs, re_ in frags:
        d = rs - qs
        cuts = {qs, qe}
        cuts.update(int(x) for x in qb[(qb > qs) & (qb < qe)])
        cuts.update(int(x) - d for x in rb[(rb > rs) & (rb < re_)])
        points = sorted(cuts)
        for a, b in zip(points, points[1:]):
            qt = int(np.searchsorted(qb, a, side="right")) - 1
            rt = int(np.searchsorted(rb, a + d, side="right")) - 1
            groups.setdefault((qt, rt), []).append((a, b, a + d, b + d))
    out: list[Group] = []
    for pieces in groups.values():
        q_region = _smallest_enclosing(q_chunks, min(p[0] for p in pieces), max(p[1] for p in pieces))
        pieces = _clip(pieces, q_region.start_tok, q_region.end_tok, ref_side=False)
        if not pieces:
            continue
        r_region = _smallest_enclosing(r_chunks, min(p[2] for p in pieces), max(p[3] for p in pieces))
        pieces = _clip(pieces, r_region.start_tok, r_region.end_tok, ref_side=True)
        if not pieces:
            continue
        infos = [information(q_tokens[p[0] : p[1]]) for p in pieces]
        out.append(
            Group(
                q_region=q_region,
                r_region=r_region,
                pieces=sorted(pieces),
                matched=sum(p[1] - p[0] for p in pieces),
                matched_ref=sum(p[3] - p[2] for p in pieces),
                longest=max(p[1] - p[0] for p in pieces),
                longest_info=max(infos),
                matched_info=sum(infos),
            )
        )
    return out
