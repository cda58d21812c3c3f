"""The evidence of one candidate pair (a scanned chunk and a reference chunk) as features.

Both token channels share positions: a fragment is a run of equal *normalized* tokens (renaming
and layout do not matter), and inside it the runs where the *raw* tokens are equal too are
verbatim. Information is counted as distinct token 4-grams without boilerplate tokens, so a
repetitive run (a table of `"a": x.a` pairs) or an import block counts for little. Rarity
weighs each shared fingerprint by the number of file families of the index that hold it: a
k-gram that many unrelated files share (an assignment's skeleton, a getter, an idiom) is
common ground, one that only the origin holds is a trace of copying.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# The feature vector, in order. The classifier file names them, and refuses another order.
FEATURES: tuple[str, ...] = (
    "log_query_info",
    "log_origin_info",
    "norm_cov_query",
    "norm_cov_origin",
    "raw_cov_query",
    "raw_cov_origin",
    "log_norm_longest",
    "log_raw_longest",
    "log_raw_longest_chars",
    "log_raw_longest_lines",
    "log_fragments",
    "order",
    "rare_share",
    "mean_rarity",
    "log_rare_evidence",
    "log_rivals",
    "boilerplate_share",
    "has_cosine",
    "cosine",
    "cosine_margin",
    "model_probability",
    "log_comment_chars",
)

# The sign each feature's weight may take: +1 evidence of copying (more of it can only raise
# P(copy)), -1 evidence against (rivals, boilerplate), 0 free. Without these a linear model
# trained on finite benchmarks learns artefacts such as "short chunks are copies" (the negatives
# were mostly long functions) and extrapolates them to pairs with no shared token at all.
SIGNS: dict[str, int] = {
    "log_query_info": 1,
    "log_origin_info": 1,
    "norm_cov_query": 1,
    "norm_cov_origin": 1,
    "raw_cov_query": 1,
    "raw_cov_origin": 1,
    "log_norm_longest": 0,  # free: with the char and line lengths it measures how long the names are
    "log_raw_longest": 0,
    "log_raw_longest_chars": 1,
    "log_raw_longest_lines": 1,
    "log_fragments": 0,
    "order": 1,
    "rare_share": 1,
    "mean_rarity": 1,
    "log_rare_evidence": 1,
    "log_rivals": -1,
    "boilerplate_share": -1,
    "has_cosine": 0,
    "cosine": 1,
    "cosine_margin": 1,
    "model_probability": 1,
    "log_comment_chars": 1,
}

INFO_N = 4


_P = np.uint64(0x100000001B3)


def information(tokens: np.ndarray, n: int = INFO_N) -> int:
    """Distinct token n-grams of a run (+ n - 1): its length without repetition."""
    if len(tokens) < n:
        return int(len(tokens))
    t = np.asarray(tokens, dtype=np.uint64)
    m = len(t) - n + 1
    h = t[:m].copy()
    for j in range(1, n):  # array arithmetic wraps modulo 2**64 (arrays have no overflow check)
        h *= _P
        h += t[j : m + j]
    # A set counts the distinct values of the short runs most pairs have faster than np.unique.
    return len(set(h.tolist())) + n - 1


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of True in ``mask`` as (start, end)."""
    m = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(m[1:] != m[:-1])
    return [(int(s), int(e)) for s, e in zip(edges[::2], edges[1::2])]


@dataclass
class Side:
    """One side of a pair: its file's token arrays and the chunk's token range."""

    tokens: np.ndarray  # normalized ids
    raw: np.ndarray  # raw ids (same positions)
    boilerplate: np.ndarray  # bool per token
    starts: np.ndarray  # byte offsets
    ends: np.ndarray
    lines: np.ndarray  # first line of each token
    start_tok: int
    end_tok: int
    # What the pairs of this file compute about its token ranges, shared by all its sides (a
    # chunk is one side of many candidate pairs).
    memo: SideMemo | None = None


@dataclass
class SideMemo:
    """Values of one file's token ranges, computed once for all its candidate pairs."""

    info: dict[tuple[str, int, int], tuple[int, int]] = field(default_factory=dict)
    char_cum: np.ndarray | None = None  # characters of tokens [0, i), per i


def _chars(side: Side, start: int, end: int) -> int:
    """Characters of the tokens of a range (their byte spans, layout between them left out)."""
    memo = side.memo
    if memo is None:
        return int((side.ends[start:end].astype(np.int64) - side.starts[start:end]).sum())
    if memo.char_cum is None:
        lengths = side.ends.astype(np.int64) - side.starts
        memo.char_cum = np.concatenate((np.zeros(1, dtype=np.int64), np.cumsum(lengths)))
    return int(memo.char_cum[end] - memo.char_cum[start])


def _kept_info(side: Side, start: int, end: int) -> tuple[int, int]:
    """(information of the non-boilerplate normalized tokens of a range, boilerplate tokens in it)."""
    key = ("norm", start, end)
    memo = side.memo.info if side.memo is not None else None
    if memo is not None:
        found = memo.get(key)
        if found is not None:
            return found
    keep = ~side.boilerplate[start:end]
    value = (information(side.tokens[start:end][keep]), int((~keep).sum()))
    if memo is not None:
        memo[key] = value
    return value


def _raw_info(side: Side, start: int, end: int) -> int:
    """Information of a range of raw tokens."""
    key = ("raw", start, end)
    memo = side.memo.info if side.memo is not None else None
    if memo is not None:
        found = memo.get(key)
        if found is not None:
            return found[0]
    value = information(side.raw[start:end])
    if memo is not None:
        memo[key] = (value, 0)
    return value


@dataclass
class PairEvidence:
    """Everything the decision looks at for one candidate pair."""

    query: Side
    origin: Side
    pieces: list[tuple[int, int, int, int]]  # normalized-equal spans (q start, q end, r start, r end)
    seed_df: list[int] = field(default_factory=list)  # families holding each shared fingerprint
    seed_pos: list[int] = field(default_factory=list)  # query token of each (empty: not known)
    rivals: int = 0  # other reference families matching this chunk about as well
    cosine: float | None = None  # embedding cosine, where the semantic layer proposed the pair
    cosine_margin: float = 0.0  # cosine minus the best other candidate's
    model_probability: float = 0.0  # the encoder's pair head, where the semantic layer proposed it
    comment_chars: int = 0  # comment and docstring text both chunks hold word for word (rare segments)


@dataclass
class Summary:
    """What a report says about a pair's token evidence."""

    raw_pieces: list[tuple[int, int, int, int]]  # verbatim runs inside the normalized pieces
    pieces: list[tuple[int, int, int, int]]  # the normalized pieces of the best region (best_cluster)
    norm_matched_info: int
    raw_matched_info: int
    raw_longest_chars: int
    raw_longest_lines: int
    comment_chars: int = 0


# Pieces further apart than this (tokens, on either side) are separate regions.
CLUSTER_GAP = 64


def best_cluster(
    pieces: list[tuple[int, int, int, int]], gap: int = CLUSTER_GAP
) -> list[tuple[int, int, int, int]]:
    """The pieces of the one contiguous region that holds most matched tokens.

    A copy is one region, edited inside at most (dead code, a changed line, two statements
    swapped); two big classes or modules that share a few idioms here and there have their
    pieces scattered. Evidence is summed over the best region only, so scattered idioms do not
    add up to a copy."""
    if len(pieces) <= 1:
        return list(pieces)
    ps = sorted(pieces)
    clusters: list[list[tuple[int, int, int, int]]] = [[ps[0]]]
    q_end, r_lo, r_hi = ps[0][1], ps[0][2], ps[0][3]  # bounds of the last cluster
    for p in ps[1:]:
        if p[0] - q_end <= gap and r_lo - gap <= p[2] and p[3] <= r_hi + gap + (p[1] - p[0]):
            clusters[-1].append(p)
            q_end, r_lo, r_hi = max(q_end, p[1]), min(r_lo, p[2]), max(r_hi, p[3])
        else:
            clusters.append([p])
            q_end, r_lo, r_hi = p[1], p[2], p[3]
    return max(clusters, key=lambda c: (sum(x[1] - x[0] for x in c), -c[0][0]))


def summarize(e: PairEvidence) -> tuple[np.ndarray, Summary]:
    """The feature vector (``FEATURES`` order) and the token summary of one pair."""
    q, r = e.query, e.origin
    pieces = best_cluster(e.pieces)
    seed_df = e.seed_df
    if e.seed_pos and len(pieces) < len(e.pieces):
        seed_df = np.asarray(e.seed_df)[_inside(np.asarray(e.seed_pos), pieces)].tolist()
    q_info = max(1, _kept_info(q, q.start_tok, q.end_tok)[0])
    r_info = max(1, _kept_info(r, r.start_tok, r.end_tok)[0])
    norm_infos: list[int] = []
    raw_infos: list[int] = []
    raw_pieces: list[tuple[int, int, int, int]] = []
    longest_chars = longest_lines = 0
    boiler = total = 0
    for qs, qe, rs, re_ in pieces:
        info, n_boiler = _kept_info(q, qs, qe)
        boiler += n_boiler
        total += qe - qs
        norm_infos.append(info)
        same = q.raw[qs:qe] == r.raw[rs:re_]
        if n_boiler:
            same &= ~q.boilerplate[qs:qe]
        for a, b in _runs(same):
            if b - a < 2:
                continue
            raw_pieces.append((qs + a, qs + b, rs + a, rs + b))
            raw_infos.append(_raw_info(q, qs + a, qs + b))
            chars = _chars(q, qs + a, qs + b)
            lines = len(set(q.lines[qs + a : qs + b].tolist()))
            if chars > longest_chars:
                longest_chars, longest_lines = chars, max(longest_lines, lines)
            longest_lines = max(longest_lines, lines)
    norm_matched = sum(norm_infos)
    raw_matched = sum(raw_infos)
    df = np.asarray(seed_df, dtype=np.float64)
    inv = 1.0 / np.maximum(df, 1.0) if len(df) else np.zeros(0)
    # count / n and sum / n are what np.mean computes on these arrays, bit for bit
    inv_sum = float(inv.sum())
    has_cos = e.cosine is not None
    cosine = float(e.cosine) if e.cosine is not None else 0.0
    x = np.array(
        [
            np.log1p(q_info),
            np.log1p(r_info),
            min(1.0, norm_matched / q_info),
            min(1.0, norm_matched / r_info),
            min(1.0, raw_matched / q_info),
            min(1.0, raw_matched / r_info),
            np.log1p(max(norm_infos, default=0)),
            np.log1p(max(raw_infos, default=0)),
            np.log1p(longest_chars),
            np.log1p(longest_lines),
            np.log1p(len(pieces)),
            _order(pieces),
            np.count_nonzero(df <= 1) / len(df) if len(df) else 0.0,
            inv_sum / len(df) if len(df) else 0.0,
            np.log1p(inv_sum),
            np.log1p(e.rivals),
            boiler / total if total else 0.0,
            1.0 if has_cos else 0.0,
            cosine,
            float(e.cosine_margin) if has_cos else 0.0,
            float(e.model_probability) if has_cos else 0.0,
            np.log1p(e.comment_chars),
        ],
        dtype=np.float64,
    )
    return x, Summary(
        raw_pieces, pieces, norm_matched, raw_matched, longest_chars, longest_lines, e.comment_chars
    )


def _order(pieces: list[tuple[int, int, int, int]]) -> float:
    """Share of matched tokens in pieces whose order agrees on both sides (longest increasing
    subsequence of origin positions, weighted by length): a copy keeps its order."""
    if len(pieces) <= 1:
        return 1.0
    ps = sorted(pieces)
    lens = [p[1] - p[0] for p in ps]
    # Weighted LIS in n log n (a Fenwick tree of prefix maxima over origin ranks): a repetitive
    # file pair has thousands of pieces.
    ranks = {v: i + 1 for i, v in enumerate(sorted({p[2] for p in ps}))}
    tree = [0] * (len(ranks) + 1)
    top = 0
    for p, n in zip(ps, lens):
        i, best = ranks[p[2]] - 1, 0
        while i > 0:
            best, i = max(best, tree[i]), i & (i - 1)
        best += n
        top = max(top, best)
        i = ranks[p[2]]
        while i < len(tree):
            tree[i], i = max(tree[i], best), i + (i & -i)
    return top / max(1, sum(lens))


def _inside(pos: np.ndarray, pieces: list[tuple[int, int, int, int]]) -> np.ndarray:
    """Which query positions lie in a piece's query range."""
    spans = sorted((qs, qe) for qs, qe, _, _ in pieces)
    starts = np.array([a for a, _ in spans], dtype=np.int64)
    reach = np.maximum.accumulate(np.array([b for _, b in spans], dtype=np.int64))
    i = np.searchsorted(starts, pos, side="right") - 1
    return (i >= 0) & (pos < reach[np.maximum(i, 0)])
