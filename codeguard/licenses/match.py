"""Matching a query's word ids against the rule index: exact, then approximate, then refine.

1. Exact: every rule whose whole word sequence occurs in the query. Rules of ``K`` words or more
   are found through the hash of their first ``K`` words and confirmed by the rolling hash of the
   query span of the rule's length (then word by word); shorter rules by their whole hash.
   This is what an Aho-Corasick automaton over all rules would find, with sorted NumPy arrays
   instead of a trie.
2. Approximate, only when some query gram lies outside every exact match (otherwise nothing is
   left to explain): the query's distinct ``K``-grams (minus exact matches of long license
   texts) vote for the rules that contain them. Candidates are ranked by shared grams less
   missing grams, at most MAX_PER_EXPRESSION per license expression so that hundreds of
   variants of one notice cannot crowd out another license. Every shared gram occurrence is a
   seed ``(query pos, rule pos)``; seeds on one diagonal form blocks; co-linear chains of
   blocks with bounded gaps (a DP over blocks) are the matches. Coverage is the share of rule
   words inside a chain's blocks.
3. Refine: a match must reach its rule's minimum coverage (or a default by rule length), contain
   its required ``{{phrases}}`` whole, and not be too sparse over the query. Matches are then
   taken greedily, best first by query words matched less a small penalty per rule word
   missing (so a whole short rule beats a large rule present in part); one that overlaps
   better ones by more than MAX_OVERLAP is dropped; false-positive rules win their span and
   are then removed.

This follows ScanCode's matching pipeline (hash/Aho-Corasick exact matching, candidate
ranking, sequence alignment, overlap filtering) in spirit, not in code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codeguard.licenses.index import FALSE_POSITIVE, KIND_CODE, K, LicenseIndex, prefix_hashes, span_hashes

# At most this many candidate rules are aligned per query (best first).
MAX_CANDIDATES = 60
# At most this many candidates per license expression.
MAX_PER_EXPRESSION = 10
# A candidate must share at least this many distinct grams with the query.
MIN_SHARED_GRAMS = 2
# Blocks further apart than this (in words, on either side) are not chained...
MAX_GAP = 60
# ...except a passage of the rule missing from the query (a deleted section of a license text):
# blocks at most this many words apart in the query chain across any rule-side gap.
DELETION_QUERY_GAP = 2 * K
# Two blocks may overlap by this many words (repeated words around an edit).
OVERLAP_TOLERANCE = K - 1
# A match may overlap better matches by at most this share of its own words.
MAX_OVERLAP = 0.3
# Approximate matches must cover at least this share of the query words in their span.
MIN_DENSITY = 0.5
# Exact matches of license texts at least this long are removed before approximate matching.
SUBTRACT_MIN_LENGTH = 120

# Each rule word missing from a match costs this many matched words in the ranking.
MISSING_PENALTY = 0.25

_TEXT = KIND_CODE["text"]


@dataclass(frozen=True)
class RuleMatch:
    """One rule matched at one place of the query (positions are word indices)."""

    rid: int
    qstart: int
    qend: int  # one past the last matched word
    qpos: np.ndarray  # matched query word positions, sorted
    mlen: int  # rule words matched
    coverage: float  # mlen / rule length
    exact: bool


def default_min_coverage(length: int) -> float:
    """Minimum coverage (0..1) of a rule that sets none, by rule length in words.

    Short rules carry little evidence and must match (nearly) whole; a long license text is
    still reported when a good part of it is there (a truncated or edited copy).
    """
    return 1.0 if length < 10 else 0.8 if length < 30 else 0.5 if length < 200 else 0.3


def _expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges ``[lo[i], hi[i])``: (owner i, table index) of every element, flattened."""
    cnt = hi - lo
    total = int(cnt.sum())
    owner = np.repeat(np.arange(len(lo)), cnt)
    if total == 0:
        return owner, np.zeros(0, dtype=np.int64)
    base = np.repeat(lo - (np.cumsum(cnt) - cnt), cnt)
    return owner, np.arange(total, dtype=np.int64) + base


def _lookup(table: np.ndarray, runs: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the keys found in a sorted table, and the [lo, hi) range of each."""
    if len(table) == 0 or len(keys) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.reshape(2, 0)
    lo = np.minimum(np.searchsorted(table, keys), len(table) - 1)
    hit = np.nonzero(table[lo] == keys)[0]
    lo = lo[hit]
    return hit, np.stack([lo, lo + runs[lo]])


def _exact(idx: LicenseIndex, ids: np.ndarray, prefix: np.ndarray) -> list[RuleMatch]:
    """Every rule occurring verbatim in the query."""
    n = len(ids)
    qs_all: list[np.ndarray] = []
    rid_all: list[np.ndarray] = []
    # rules shorter than K: look their whole hash up at every position where one can start
    short_starts = np.nonzero(idx.short_starts[ids])[0]
    for length in range(1, min(K, n + 1)):
        starts = short_starts[short_starts <= n - length]
        hit, (lo, hi) = _lookup(idx.short_hash, idx.short_runs, span_hashes(prefix, starts, length))
        if len(hit):
            owner, at = _expand(lo, hi)
            rids = idx.short_rid[at]
            ok = idx.rlen[rids] == length
            qs_all.append(starts[hit][owner][ok])
            rid_all.append(rids[ok])
    # longer rules: the hash of their first K words, then the rolling hash of their length
    starts = np.nonzero(idx.anchor_starts[ids[: max(n - K + 1, 0)]])[0]
    hit, (lo, hi) = _lookup(idx.anchor_hash, idx.anchor_runs, span_hashes(prefix, starts, K))
    if len(hit):
        owner, at = _expand(lo, hi)
        rids = idx.anchor_rid[at]
        qs = starts[hit][owner]
        lens = idx.rlen[rids].astype(np.int64)
        ok = qs + lens <= n
        qs, rids, lens = qs[ok], rids[ok], lens[ok]
        if len(qs):
            ok = span_hashes(prefix, qs, lens) == idx.rhash[rids]
            qs_all.append(qs[ok])
            rid_all.append(rids[ok])
    out: list[RuleMatch] = []
    if not qs_all:
        return out
    tokens, roff = idx.tokens, idx.roff
    for q, r in zip(np.concatenate(qs_all).tolist(), np.concatenate(rid_all).tolist()):
        length = int(idx.rlen[r])
        if not np.array_equal(ids[q : q + length], tokens[roff[r] : roff[r] + length]):
            continue  # a hash collision: never report it
        out.append(RuleMatch(r, q, q + length, np.arange(q, q + length), length, 1.0, True))
    return out


def _query_grams(ids: np.ndarray, prefix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hash of every query K-gram and whether it can match (no unknown/consumed word)."""
    n = len(ids)
    if n < K:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.bool_)
    grams = span_hashes(prefix, np.arange(n - K + 1, dtype=np.int64), K)
    zero = np.concatenate([[0], np.cumsum(ids == 0)])
    valid = (zero[K:] - zero[: n - K + 1]) == 0
    return grams, valid


def _approximate(idx: LicenseIndex, grams: np.ndarray, valid: np.ndarray, n: int) -> list[RuleMatch]:
    """Approximate matches of the candidate rules of a query.

    A rule is a candidate when it shares enough grams with the query for its minimum coverage
    to be reachable (at most MAX_CANDIDATES, most shared grams first). Every shared gram
    occurrence is a seed ``(query pos, rule pos)``; seeds on one diagonal form blocks; chains
    of blocks are the matches.
    """
    pos = np.nonzero(valid)[0]
    if len(pos) == 0:
        return []
    uniq, inv = np.unique(grams[pos], return_inverse=True)
    kg_u = idx.kg_u
    at = np.minimum(np.searchsorted(kg_u, uniq), len(kg_u) - 1)
    found = np.nonzero(kg_u[at] == uniq)[0]
    if len(found) == 0:
        return []
    fa = at[found]
    owner, post = _expand(idx.kg_off[fa], idx.kg_off[fa + 1])
    rids = np.asarray(idx.kg_rid[post])
    # shared distinct grams per rule: postings are sorted by gram, rule, position
    first = np.ones(len(rids), dtype=np.bool_)
    first[1:] = (rids[1:] != rids[:-1]) | (owner[1:] != owner[:-1])
    hits = np.bincount(rids[first], minlength=idx.n_rules)
    cand = np.nonzero(hits >= MIN_SHARED_GRAMS)[0]
    if len(cand) == 0:
        return []
    rlen = idx.rlen[cand]
    nkg = np.maximum(idx.nkg[cand], 1)
    containment = hits[cand] / nkg
    mincov = np.where(idx.mincov[cand] > 0, idx.mincov[cand] / 100.0, _default_cov(rlen))
    keep = (rlen >= K) & ~idx.continuous[cand] & (containment >= np.maximum(0.05, 0.4 * mincov))
    cand = cand[keep]
    # rank as refine will: shared grams less missing grams
    estimate = 2.0 * hits[cand] - nkg[keep]
    cand = cand[np.argsort(-estimate, kind="stable")]
    cand = _diverse(cand, idx.expr[cand], MAX_PER_EXPRESSION)[:MAX_CANDIDATES]
    if len(cand) == 0:
        return []

    # postings of the candidates, each expanded to the query positions of its gram
    is_cand = np.zeros(idx.n_rules, dtype=np.bool_)
    is_cand[cand] = True
    sel = np.nonzero(is_cand[rids])[0]
    s_rid, s_u, s_rpos = rids[sel], found[owner[sel]], np.asarray(idx.kg_pos[post[sel]])
    q_order = np.argsort(inv, kind="stable")
    q_start = np.searchsorted(inv[q_order], np.arange(len(uniq) + 1))
    own, at_q = _expand(q_start[s_u], q_start[s_u + 1])
    seed_rid = s_rid[own].astype(np.int64)
    seed_r = s_rpos[own].astype(np.int64)
    seed_q = pos[q_order[at_q]]

    blocks = _blocks(seed_rid, seed_q, seed_r)
    # a rule whose blocks cannot add up to its minimum coverage is not worth chaining
    cuts = np.nonzero(np.diff(blocks[:, 0]))[0] + 1
    starts = np.concatenate([[0], cuts])
    group_rid = blocks[starts, 0]
    words = np.add.reduceat(blocks[:, 4] - blocks[:, 3], starts)
    glen = idx.rlen[group_rid]
    gcov = np.where(idx.mincov[group_rid] > 0, idx.mincov[group_rid] / 100.0, _default_cov(glen))
    ends = np.append(cuts, len(blocks))
    out: list[RuleMatch] = []
    for g in np.nonzero(words >= gcov * glen - 1e-9)[0].tolist():
        group = blocks[starts[g] : ends[g]]
        out.extend(_rule_matches(idx, int(group[0, 0]), group[:, 1:], n))
    return out


def _diverse(cand: np.ndarray, expr: np.ndarray, per_expr: int) -> np.ndarray:
    """Keep at most ``per_expr`` candidates per license expression, in order: hundreds of
    near-identical variants of one notice must not crowd out a different license."""
    if len(cand) == 0:
        return cand
    by_expr = np.argsort(expr, kind="stable")
    e = expr[by_expr]
    group_start = np.concatenate([[0], np.nonzero(e[1:] != e[:-1])[0] + 1])
    start_of = np.repeat(group_start, np.diff(np.append(group_start, len(e))))
    rank = np.empty(len(cand), dtype=np.int64)
    rank[by_expr] = np.arange(len(e)) - start_of
    return cand[rank < per_expr]


def _default_cov(rlen: np.ndarray) -> np.ndarray:
    """``default_min_coverage`` over an array of rule lengths."""
    out: np.ndarray = np.select([rlen < 10, rlen < 30, rlen < 200], [1.0, 0.8, 0.5], 0.3)
    return out


def _blocks(rid: np.ndarray, qpos: np.ndarray, rpos: np.ndarray) -> np.ndarray:
    """Seeds -> blocks ``[rid, qs, qe, rs, re]`` (ends exclusive), sorted by rule then ``qs``.

    A block is a run of seeds of one rule on one diagonal at consecutive query positions: a
    stretch of at least K words shared verbatim.
    """
    diag = qpos - rpos
    order = np.lexsort((qpos, diag, rid))
    r_, q, d, rp = rid[order], qpos[order], diag[order], rpos[order]
    brk = np.ones(len(q), dtype=np.bool_)
    brk[1:] = (r_[1:] != r_[:-1]) | (d[1:] != d[:-1]) | (q[1:] != q[:-1] + 1)
    starts = np.nonzero(brk)[0]
    ends = np.append(starts[1:], len(q)) - 1
    blocks = np.stack([r_[starts], q[starts], q[ends] + K, rp[starts], rp[ends] + K], axis=1)
    return blocks[np.lexsort((blocks[:, 1], blocks[:, 0]))]


def _clusters(blocks: np.ndarray) -> list[np.ndarray]:
    """Split blocks (sorted by ``qs``) where the query gap exceeds MAX_GAP: no chain spans it."""
    if len(blocks) == 0:
        return []
    reach = np.maximum.accumulate(blocks[:, 1])
    cut = np.nonzero(blocks[1:, 0] - reach[:-1] > MAX_GAP)[0] + 1
    return np.split(blocks, cut)


def _chain_dp(b: list[list[int]]) -> tuple[list[int], list[int]]:
    """Best chain score ending at each block, and its predecessor (a DP over blocks).

    A block may follow another when it starts after it on both sides (up to
    OVERLAP_TOLERANCE words of overlap) and the gap is at most MAX_GAP words on both sides (on
    the rule side any gap where the query side's is at most DELETION_QUERY_GAP: a deletion).
    The score is the number of rule words covered.
    """
    nb = len(b)
    best = [0] * nb
    prev = [-1] * nb
    longest = max(blk[1] - blk[0] for blk in b)
    for i in range(nb):
        qs, qe, rs, re = b[i]
        score = re - rs
        p = -1
        floor = qs - MAX_GAP - longest
        for j in range(i - 1, -1, -1):
            jqs, jqe, jrs, jre = b[j]
            if jqs < floor:
                break
            if (
                qs - jqe > MAX_GAP
                or (rs - jre > MAX_GAP and qs - jqe > DELETION_QUERY_GAP)
                or rs <= jrs
                or re <= jre
                or jqe - qs > OVERLAP_TOLERANCE
                or jre - rs > OVERLAP_TOLERANCE
            ):
                continue
            s = best[j] + (re - max(rs, jre))
            if s > score:
                score, p = s, j
        best[i] = score
        prev[i] = p
    return best, prev


def _is_chain(c: np.ndarray) -> bool:
    """Whether blocks sorted by ``qs`` already form one valid chain (the usual clean case)."""
    if len(c) == 1:
        return True
    qs, qe, rs, re = c[1:, 0], c[:-1, 1], c[1:, 2], c[:-1, 3]
    return bool(
        np.all(rs > c[:-1, 2])
        & np.all(c[1:, 3] > re)
        & np.all(qs - qe <= MAX_GAP)
        & np.all((rs - re <= MAX_GAP) | (qs - qe <= DELETION_QUERY_GAP))
        & np.all(qe - qs <= OVERLAP_TOLERANCE)
        & np.all(re - rs <= OVERLAP_TOLERANCE)
    )


def _chains(blocks: np.ndarray, min_words: float) -> list[np.ndarray]:
    """Disjoint co-linear chains of blocks that may cover ``min_words`` rule words.

    One DP per cluster; chains are then taken from the best-scoring ends down, each stopping
    at a block an earlier chain took (as in read aligners' chaining), so a text that repeats
    the rule many times costs one pass, not one pass per repetition.
    """
    out: list[np.ndarray] = []
    for cluster in _clusters(blocks):
        # upper bound on the rule words any chain of this cluster can cover
        if int((cluster[:, 3] - cluster[:, 2]).sum()) < min_words:
            continue
        if _is_chain(cluster):
            out.append(cluster)
            continue
        best, prev = _chain_dp(cluster.tolist())
        used = [False] * len(best)
        for end in sorted(range(len(best)), key=best.__getitem__, reverse=True):
            if best[end] < min_words:
                break
            if used[end]:
                continue
            chain = []
            i = end
            while i >= 0 and not used[i]:
                used[i] = True
                chain.append(i)
                i = prev[i]
            chain.reverse()
            out.append(cluster[chain])
    return out


def _union_length(starts: np.ndarray, ends: np.ndarray) -> int:
    """Words covered by intervals sorted by start whose ends also increase (a chain)."""
    overlap = np.maximum(0, np.minimum(ends[:-1], ends[1:]) - starts[1:]).sum() if len(starts) > 1 else 0
    return int((ends - starts).sum() - overlap)


def _rule_matches(idx: LicenseIndex, rid: int, blocks: np.ndarray, n: int) -> list[RuleMatch]:
    """The chains of one rule's blocks that pass its thresholds, as matches."""
    length = int(idx.rlen[rid])
    mincov = idx.mincov[rid] / 100.0 if idx.mincov[rid] > 0 else default_min_coverage(length)
    # req_rid is sorted (ruleset.build appends rules and their phrases in order): a rule's
    # required phrases are one slice of it
    lo = int(np.searchsorted(idx.req_rid, rid, side="left"))
    hi = int(np.searchsorted(idx.req_rid, rid, side="right"))
    req = np.arange(lo, hi)
    out: list[RuleMatch] = []
    for cb in _chains(blocks, mincov * length - 1e-9):
        mlen = _union_length(cb[:, 2], cb[:, 3])
        coverage = mlen / length
        if coverage + 1e-9 < mincov:
            continue
        # the words that name the license weigh most: an edit that swaps "GPLv3" for
        # "Python" leaves most words but little of the rule's information
        rpos = _covered(cb[:, 2], cb[:, 3])
        r0 = int(idx.roff[rid])
        weight = float(idx.idf[np.asarray(idx.tokens[r0 + rpos])].sum())
        if weight + 1e-6 < mincov * float(idx.rweight[rid]):
            continue
        qstart, qend = int(cb[0, 0]), int(cb[:, 1].max())
        qlen = _union_length(cb[:, 0], cb[:, 1])
        if qlen < MIN_DENSITY * (qend - qstart):
            continue
        if len(req) and not _has_required(cb, idx.req_start[req], idx.req_end[req]):
            continue
        qpos = _covered(cb[:, 0], cb[:, 1])
        out.append(RuleMatch(rid, qstart, qend, qpos, mlen, coverage, mlen == length and len(cb) == 1))
    return out


def _covered(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The sorted distinct positions of intervals ``[starts[i], ends[i])`` sorted by start (a
    chain's blocks, on either side)."""
    if len(starts) == 1:
        return np.arange(int(starts[0]), int(ends[0]), dtype=np.int64)
    reach = np.maximum.accumulate(ends)
    lo = starts.astype(np.int64).copy()
    lo[1:] = np.maximum(lo[1:], reach[:-1])  # what earlier intervals covered is left out
    cnt = np.maximum(ends - lo, 0)
    return np.repeat(lo - (np.cumsum(cnt) - cnt), cnt) + np.arange(int(cnt.sum()), dtype=np.int64)


def _has_required(blocks: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> bool:
    """Every required phrase ``[s, e)`` of the rule lies inside one block (matched whole)."""
    rs, re = blocks[:, 2], blocks[:, 3]
    for s, e in zip(starts.tolist(), ends.tolist()):
        if not np.any((rs <= s) & (re >= e)):
            return False
    return True


def _has_unexplained_grams(matches: list[RuleMatch], valid: np.ndarray, n: int) -> bool:
    """Whether some usable query gram lies outside every exact match of K+ words.

    When exact matches explain every gram, approximate matching cannot add anything (as in
    ScanCode, which stops when nothing matchable is left)."""
    inside = np.zeros(n + 1, dtype=np.int64)
    for m in matches:
        if m.mlen >= K:
            inside[m.qstart] += 1
            inside[m.qend] -= 1
    uncovered = np.cumsum(inside)[:n] == 0
    cz = np.concatenate([[0], np.cumsum(uncovered)])
    return bool(np.any(valid & ((cz[K:] - cz[: n - K + 1]) > 0)))


def match_query(idx: LicenseIndex, ids: np.ndarray) -> list[RuleMatch]:
    """All refined rule matches of a query (word ids, 0 = unknown or consumed), by position."""
    ids = np.asarray(ids, dtype=np.int64)
    n = len(ids)
    if n == 0:
        return []
    prefix = prefix_hashes(ids)
    matches = _exact(idx, ids, prefix)

    # Long license texts matched verbatim are settled: drop them from approximate matching.
    work = ids
    subtract = [m for m in matches if idx.kind[m.rid] == _TEXT and m.mlen >= SUBTRACT_MIN_LENGTH]
    if subtract:
        work = ids.copy()
        for m in subtract:
            work[m.qstart : m.qend] = 0
        prefix = prefix_hashes(work)
    grams, valid = _query_grams(work, prefix)
    if len(grams) and _has_unexplained_grams(matches, valid, n):
        matches.extend(_approximate(idx, grams, valid, n))
    return refine(idx, matches, n)


def _rank(idx: LicenseIndex, m: RuleMatch) -> float:
    """How well a match explains the query: words matched, less a penalty for rule words
    missing from it (a rule present in part is weaker evidence than one present whole)."""
    return len(m.qpos) - MISSING_PENALTY * (int(idx.rlen[m.rid]) - m.mlen)


def refine(idx: LicenseIndex, matches: list[RuleMatch], n: int) -> list[RuleMatch]:
    """Greedy selection of non-overlapping matches, then false positives removed."""
    if not matches:
        return []
    # identical (rule, span) found both exactly and approximately: keep one
    seen: dict[tuple[int, int, int], RuleMatch] = {}
    for m in matches:
        key = (m.rid, m.qstart, m.qend)
        old = seen.get(key)
        if old is None or (m.mlen, m.coverage) > (old.mlen, old.coverage):
            seen[key] = m
    ranked = sorted(
        seen.values(),
        key=lambda m: (
            -_rank(idx, m),
            -m.coverage,
            -int(idx.relevance[m.rid]),
            int(idx.rlen[m.rid]),
            m.rid,
            m.qstart,
        ),
    )
    taken = np.zeros(n, dtype=np.bool_)
    kept: list[RuleMatch] = []
    for m in ranked:
        overlap = int(taken[m.qpos].sum())
        if overlap > MAX_OVERLAP * len(m.qpos) or (overlap and len(m.qpos) < 10):
            continue
        taken[m.qpos] = True
        kept.append(m)
    kept = [m for m in kept if idx.kind[m.rid] != FALSE_POSITIVE]
    kept = _without_contained(idx, kept)
    kept.sort(key=lambda m: (m.qstart, m.qend))
    return kept


def _without_contained(idx: LicenseIndex, kept: list[RuleMatch]) -> list[RuleMatch]:
    """Drop the matches that lie inside the span of a long license text's match.

    The words between the first and the last matched word of a license text are that text's,
    also those an edit kept out of its matched words: "GNU General Public License" next to a
    typo in a GPL text is no license statement of its own."""
    texts = [
        (m.qstart, m.qend, m.mlen) for m in kept if idx.kind[m.rid] == _TEXT and m.mlen >= SUBTRACT_MIN_LENGTH
    ]
    if not texts:
        return kept
    return [m for m in kept if not any(s <= m.qstart and m.qend <= e and m.mlen < n for s, e, n in texts)]
