"""Turn shared fingerprints into aligned fragments and group them by chunk.

Seeds are pairs (query k-gram position, reference k-gram position) with equal hashes. Seeds on
the same diagonal that overlap are merged, verified token by token and extended left and right
as far as the normalized tokens agree, so fragment bounds are exact rather than limited to the
winnowed positions. Overlapping fragments (repeated code) are resolved greedily, longest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from codeguard.fingerprint.winnow import K, kgram_hashes
from codeguard.model import Chunk

Span = tuple[int, int, int, int]  # query start, query end, ref start, ref end (token positions)


def align(
    q: np.ndarray,
    r: np.ndarray,
    qpos: np.ndarray,
    rpos: np.ndarray,
    k: int = K,
    anchors: Sequence[tuple[int, int]] = (),
) -> list[Span]:
    """Maximal fragments of identical tokens between ``q`` and ``r`` seeded by k-gram matches,
    and around each of ``anchors`` (query and reference token positions of a shared comment:
    the tokens that agree on both sides of it, however few)."""
    if len(qpos) == 0 and not anchors:
        return []
    nq, nr = len(q), len(r)
    found: set[Span] = set()
    for aq, ar in anchors:
        d = ar - aq
        if 0 <= aq < nq and 0 <= ar < nr:
            qs, qe = _agree_from(q, r, aq, d), _agree_until(q, r, aq, d)
            if qe > qs:
                found.add((qs, qe, qs + d, qe + d))
    if len(qpos) == 0:
        return _resolve_overlaps(sorted(found), nq, nr)
    diag, qs0, qe0 = _seed_runs(np.asarray(qpos, dtype=np.int64), np.asarray(rpos, dtype=np.int64), k, nq, nr)
    # Runs compared in batches of bounded size (a repetitive file pair has millions of seeds).
    ends = np.cumsum(qe0 - qs0)  # tokens of runs 0..i
    lo = 0
    while lo < len(qs0):
        before = int(ends[lo - 1]) if lo else 0
        hi = max(lo + 1, int(np.searchsorted(ends, before + _BATCH_TOKENS, side="right")))
        segments = _equal_segments(q, r, diag[lo:hi], qs0[lo:hi], qe0[lo:hi], k)
        for d, qs, qe in zip(*_maximal(q, r, *segments)):
            found.add((qs, qe, qs + d, qe + d))
        lo = hi
    return _resolve_overlaps(sorted(found), nq, nr)


# Tokens of seed runs compared at once, and stretches extended past their runs at once.
_BATCH_TOKENS = 1 << 20
_BATCH_STRETCHES = 1 << 13


def _seed_runs(
    qpos: np.ndarray, rpos: np.ndarray, k: int, nq: int, nr: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeds on one diagonal whose k-grams overlap or touch, merged into runs (diagonal, query
    start, query end), clipped to both token streams; runs shorter than ``k`` left out."""
    diag = rpos - qpos
    order = np.lexsort((qpos, diag))
    d, qs = diag[order], qpos[order]
    # Sorted by query position on a diagonal, each seed's k-gram ends after the previous one's:
    # a run goes on while the next seed starts at or before the previous seed's end.
    new = np.ones(len(d), dtype=bool)
    new[1:] = (d[1:] != d[:-1]) | (qs[1:] > qs[:-1] + k)
    first = np.flatnonzero(new)
    last = np.append(first[1:], len(d)) - 1
    rd = d[first]
    lo = np.maximum(np.maximum(qs[first], 0), -rd)
    hi = np.minimum(np.minimum(qs[last] + k, nq), nr - rd)
    keep = hi - lo >= k
    return rd[keep], lo[keep], hi[keep]


def _equal_segments(
    q: np.ndarray, r: np.ndarray, diag: np.ndarray, lo: np.ndarray, hi: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inside each run, the maximal stretches of at least ``k`` equal tokens: (diagonal, query
    start, query end, and whether each touches its run's start / end, where the agreement may
    go on outside the run)."""
    lengths = hi - lo
    total = int(lengths.sum())
    run = np.repeat(np.arange(len(lengths)), lengths)
    pos = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths) + lo[run]
    eq = q[pos] == r[pos + diag[run]]
    same_run = run[1:] == run[:-1]
    prev = np.zeros(total, dtype=bool)
    prev[1:] = eq[:-1] & same_run
    nxt = np.zeros(total, dtype=bool)
    nxt[:-1] = eq[1:] & same_run
    starts = np.flatnonzero(eq & ~prev)
    ends = np.flatnonzero(eq & ~nxt)  # the last equal position of each stretch
    seg_run = run[starts]
    s, e = pos[starts], pos[ends] + 1
    long = e - s >= k
    seg_run, s, e = seg_run[long], s[long], e[long]
    return diag[seg_run], s, e, s == lo[seg_run], e == hi[seg_run]


# Tokens compared per stretch and vectorized step when stretches are extended past their runs;
# the few that agree further go on one by one (``_agree_from`` / ``_agree_until``).
_VEC_STEP = 64


def _maximal(
    q: np.ndarray,
    r: np.ndarray,
    diag: np.ndarray,
    s: np.ndarray,
    e: np.ndarray,
    at_start: np.ndarray,
    at_end: np.ndarray,
) -> tuple[list[int], list[int], list[int]]:
    """Each stretch extended left and right as far as ``q[i] == r[i + d]`` holds (a stretch that
    does not touch its run's bound already ends where the agreement does)."""
    s, e = s.copy(), e.copy()
    left, right = np.flatnonzero(at_start), np.flatnonzero(at_end)
    for lo in range(0, len(left), _BATCH_STRETCHES):
        part = left[lo : lo + _BATCH_STRETCHES]
        s[part] = _extend_left(q, r, diag[part], s[part])
    for lo in range(0, len(right), _BATCH_STRETCHES):
        part = right[lo : lo + _BATCH_STRETCHES]
        e[part] = _extend_right(q, r, diag[part], e[part])
    return diag.tolist(), s.tolist(), e.tolist()


_STEPS = np.arange(_VEC_STEP, dtype=np.int64)


def _extend_left(q: np.ndarray, r: np.ndarray, d: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``_agree_from(q, r, p[i], d[i])`` for every i."""
    bound = np.maximum(0, -d)
    idx = p[:, None] - _VEC_STEP + _STEPS[None, :]  # positions p-64 .. p-1
    valid = idx >= bound[:, None]
    idx = np.maximum(idx, bound[:, None])
    differ = (q[idx] != r[idx + d[:, None]]) & valid
    has = differ.any(axis=1)
    last = _VEC_STEP - 1 - np.argmax(differ[:, ::-1], axis=1)
    out: np.ndarray = np.where(has, p - _VEC_STEP + last + 1, bound)
    for i in np.flatnonzero(~has & (p - _VEC_STEP > bound)).tolist():
        out[i] = _agree_from(q, r, int(p[i]) - _VEC_STEP, int(d[i]))
    return out


def _extend_right(q: np.ndarray, r: np.ndarray, d: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``_agree_until(q, r, p[i], d[i])`` for every i."""
    bound = np.minimum(len(q), len(r) - d)
    idx = p[:, None] + _STEPS[None, :]  # positions p .. p+63
    valid = idx < bound[:, None]
    idx = np.minimum(idx, np.maximum(bound - 1, 0)[:, None])
    differ = (q[idx] != r[idx + d[:, None]]) & valid
    has = differ.any(axis=1)
    out: np.ndarray = np.where(has, p + np.argmax(differ, axis=1), bound)
    for i in np.flatnonzero(~has & (p + _VEC_STEP < bound)).tolist():
        out[i] = _agree_until(q, r, int(p[i]) + _VEC_STEP, int(d[i]))
    return out


# Tokens compared per step when a fragment is extended (doubling): repetitive code (data
# tables) agrees along many diagonals for thousands of tokens, compared in NumPy, not Python.
_STEP = 64


def _agree_until(q: np.ndarray, r: np.ndarray, pos: int, d: int) -> int:
    """The end of the agreement of ``q[i]`` and ``r[i + d]`` from ``pos`` on."""
    end, n = min(len(q), len(r) - d), _STEP
    while pos < end:
        hi = min(end, pos + n)
        diff = np.flatnonzero(q[pos:hi] != r[pos + d : hi + d])
        if diff.size:
            return pos + int(diff[0])
        pos, n = hi, n * 2
    return pos


def _agree_from(q: np.ndarray, r: np.ndarray, pos: int, d: int) -> int:
    """The start of the agreement of ``q[i]`` and ``r[i + d]`` ending at ``pos``."""
    start, n = max(0, -d), _STEP
    while pos > start:
        lo = max(start, pos - n)
        diff = np.flatnonzero(q[lo:pos] != r[lo + d : pos + d])
        if diff.size:
            return lo + int(diff[-1]) + 1
        pos, n = lo, n * 2
    return pos


def _resolve_overlaps(frags: list[Span], nq: int, nr: int) -> list[Span]:
    """Keep the longest fragments; drop those mostly covered by ones already kept."""
    frags.sort(key=lambda f: (-(f[1] - f[0]), f[0], f[2]))
    q_used = np.zeros(nq, dtype=bool)
    r_used = np.zeros(nr, dtype=bool)
    kept: list[Span] = []
    for qs, qe, rs, re_ in frags:
        n = qe - qs
        if np.count_nonzero(q_used[qs:qe]) * 2 > n or np.count_nonzero(r_used[rs:re_]) * 2 > n:
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
    q_tokens: np.ndarray | None = field(default=None, repr=False, compare=False)

    # Information content: distinct token 4-grams (+3), so that a repetitive run such as a long
    # dict literal `"a": x.a, "b": x.b, ...` does not count as a long copied fragment. Computed
    # when asked (most groups are never asked).
    @cached_property
    def _infos(self) -> list[int]:
        if self.q_tokens is None:
            return [0]
        return [information(self.q_tokens[p[0] : p[1]]) for p in self.pieces]

    @property
    def longest_info(self) -> int:
        return max(self._infos)

    @property
    def matched_info(self) -> int:
        return sum(self._infos)

    @property
    def coverage(self) -> float:
        return self.matched / max(1, self.q_region.n_tokens)

    @property
    def origin_coverage(self) -> float:
        return self.matched_ref / max(1, self.r_region.n_tokens)

    @property
    def score(self) -> float:
        return min(1.0, max(self.coverage, self.origin_coverage))


# Tokens a fragment may run past the chunk it belongs to: a copied method that is the last one
# of its class shares the class's closing brace with the copy, and that brace alone must not turn
# the finding into the whole class.
SLACK = 3


def _smallest_enclosing(chunks: ChunkIndex, start: int, end: int) -> Chunk:
    """The smallest chunk holding [start, end), up to SLACK tokens at either end (the first of
    equally small ones)."""
    c = chunks
    inside = np.flatnonzero(
        (c.starts <= start + SLACK)
        & (c.ends >= end - SLACK)
        & (c.sizes >= (end - start) - 2 * SLACK)
        & (c.starts < end)
        & (c.ends > start)
    )
    if inside.size == 0:  # tokens outside every chunk cannot happen with windows; stay total anyway
        return Chunk("window", "fragment", start, end, 0, 0)
    return c.chunk(int(inside[np.argmin(c.sizes[inside])]))


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


class ChunkIndex:
    """A side's chunks as arrays: the smallest chunk holding a token range, fast (built once per
    file and passed to ``group_fragments`` for each of its candidate pairs)."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self._chunks: list[Chunk | None] = list(chunks)
        self._rows: Sequence[tuple[str, str, int, int, int, int, int]] = ()
        self._arrays([c.start_tok for c in chunks], [c.end_tok for c in chunks], [c.depth for c in chunks])

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[str, str, int, int, int, int, int]]) -> ChunkIndex:
        """From stored rows of ``Chunk``'s fields; a ``Chunk`` is made only for the chunks asked
        for (a candidate file has many, its groups name few)."""
        self = cls.__new__(cls)
        self._chunks = [None] * len(rows)
        self._rows = rows
        self._arrays([r[2] for r in rows], [r[3] for r in rows], [r[6] for r in rows])
        return self

    def _arrays(self, starts: list[int], ends: list[int], depths: list[int]) -> None:
        self.starts = np.array(starts, dtype=np.int64)
        self.ends = np.array(ends, dtype=np.int64)
        self.sizes = self.ends - self.starts
        self.top = np.unique(self.starts[np.array(depths, dtype=np.int64) == 0])
        # Every chunk boundary: a piece never straddles one, so each piece lies inside its
        # smallest chunk exactly (methods of a class, functions nested in a function).
        self.bounds = np.unique(np.concatenate([self.starts, self.ends]))
        self._owner: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self._chunks)

    def chunk(self, i: int) -> Chunk:
        """The i-th chunk."""
        c = self._chunks[i]
        if c is None:
            c = self._chunks[i] = Chunk(*self._rows[i])
        return c

    def smallest(self, start: int, end: int) -> int:
        """Index of the smallest chunk holding [start, end) (-1: none)."""
        inside = np.flatnonzero((self.starts <= start) & (self.ends >= end))
        if inside.size == 0:
            return -1
        return int(inside[np.argmin(self.sizes[inside])])

    def owners(self, starts: np.ndarray) -> np.ndarray:
        """``smallest(a, b)`` of pieces [a, b) that straddle no chunk boundary, from their starts
        alone: the chunks holding such a piece are exactly those holding its first token."""
        if self._owner is None:
            # Per token, the smallest chunk holding it (the first of equally small ones): paint
            # the chunks from the largest down, equally large ones from the last index down.
            owner = np.full(int(self.ends.max()) if len(self) else 0, -1, dtype=np.int32)
            for i in np.lexsort((-np.arange(len(self)), -self.sizes)).tolist():
                owner[self.starts[i] : self.ends[i]] = i
            self._owner = owner
        out = np.full(len(starts), -1, dtype=np.int64)
        ok = (starts >= 0) & (starts < len(self._owner))
        out[ok] = self._owner[starts[ok]]
        return out


def _cut(frags: list[Span], q: ChunkIndex, r: ChunkIndex) -> list[Span]:
    """Fragments split at every chunk boundary of either side."""
    out: list[Span] = []
    qb, rb = q.bounds, r.bounds
    for qs, qe, rs, re_ in frags:
        d = rs - qs
        inner_q = qb[np.searchsorted(qb, qs, side="right") : np.searchsorted(qb, qe, side="left")]
        inner_r = rb[np.searchsorted(rb, rs, side="right") : np.searchsorted(rb, re_, side="left")]
        if not (len(inner_q) or len(inner_r)):
            if qe > qs:
                out.append((qs, qe, rs, re_))
            continue
        cuts = {qs, qe}
        cuts.update(inner_q.tolist())
        cuts.update((inner_r - d).tolist())
        points = sorted(cuts)
        out.extend((a, b, a + d, b + d) for a, b in zip(points, points[1:]))
    return out


def group_fragments(
    frags: list[Span],
    q_chunks: list[Chunk] | ChunkIndex,
    r_chunks: list[Chunk] | ChunkIndex,
    q_tokens: np.ndarray,
) -> list[Group]:
    """Group fragments per chunk pair, at two levels.

    Fragments are split at chunk boundaries of both sides. Each piece belongs to the pair of the
    smallest chunks holding it (a copied method is judged as that method, whatever else its class
    shares with the other class), and all pieces between two top-level chunks form one container
    group too, reported on the smallest chunk holding them all (a copied class is the class).
    An inner group on the same chunk pair as its container is the container.
    """
    q = q_chunks if isinstance(q_chunks, ChunkIndex) else ChunkIndex(q_chunks)
    r = r_chunks if isinstance(r_chunks, ChunkIndex) else ChunkIndex(r_chunks)
    inner: dict[tuple[int, int], list[Span]] = {}
    top: dict[tuple[int, int], list[Span]] = {}
    cut = _cut(frags, q, r)
    if not cut:
        return []
    arr = np.array(cut, dtype=np.int64)
    qts = (np.searchsorted(q.top, arr[:, 0], side="right") - 1).tolist()
    rts = (np.searchsorted(r.top, arr[:, 2], side="right") - 1).tolist()
    qis, ris = q.owners(arr[:, 0]).tolist(), r.owners(arr[:, 2]).tolist()
    for piece, qt, rt, qi, ri in zip(cut, qts, rts, qis, ris):
        top.setdefault((qt, rt), []).append(piece)
        inner.setdefault((qi, ri), []).append(piece)
    out: list[Group] = []
    seen: set[tuple[int, int, int, int]] = set()
    for pieces in top.values():
        q_region = _smallest_enclosing(q, min(p[0] for p in pieces), max(p[1] for p in pieces))
        pieces = _clip(pieces, q_region.start_tok, q_region.end_tok, ref_side=False)
        if not pieces:
            continue
        r_region = _smallest_enclosing(r, min(p[2] for p in pieces), max(p[3] for p in pieces))
        pieces = _clip(pieces, r_region.start_tok, r_region.end_tok, ref_side=True)
        if pieces:
            seen.add((q_region.start_tok, q_region.end_tok, r_region.start_tok, r_region.end_tok))
            out.append(_group(q_region, r_region, pieces, q_tokens))
    for (qi, ri), pieces in inner.items():
        if qi < 0 or ri < 0:
            continue
        qc, rc = q.chunk(qi), r.chunk(ri)
        key = (qc.start_tok, qc.end_tok, rc.start_tok, rc.end_tok)
        if key not in seen:  # the container is this group already (or holds all its pieces)
            seen.add(key)
            out.append(_group(qc, rc, pieces, q_tokens))
    return out


def _rejoin(pieces: list[Span]) -> list[Span]:
    """Pieces that touch on both sides (cut at a boundary the group holds) as one piece again."""
    out: list[Span] = []
    for p in sorted(pieces):
        if out and out[-1][1] == p[0] and out[-1][3] == p[2]:
            out[-1] = (out[-1][0], p[1], out[-1][2], p[3])
        else:
            out.append(p)
    return out


def _group(q_region: Chunk, r_region: Chunk, pieces: list[Span], q_tokens: np.ndarray) -> Group:
    pieces = _rejoin(pieces)
    return Group(
        q_region=q_region,
        r_region=r_region,
        pieces=sorted(pieces),
        matched=sum(p[1] - p[0] for p in pieces),
        matched_ref=sum(p[3] - p[2] for p in pieces),
        longest=max(p[1] - p[0] for p in pieces),
        q_tokens=q_tokens,
    )
