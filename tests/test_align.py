"""Alignment: seeds become exact, maximal fragments; groups are decided per chunk pair."""

from __future__ import annotations

import numpy as np

from codeguard.fingerprint.align import ChunkIndex, align, group_fragments, information
from codeguard.fingerprint.winnow import fingerprint
from codeguard.model import Chunk


def _seeds(q: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hq, pq = fingerprint(q)
    hr, pr = fingerprint(r)
    where: dict[int, list[int]] = {}
    for h, p in zip(hr.tolist(), pr.tolist()):
        where.setdefault(h, []).append(p)
    qs, rs = [], []
    for h, p in zip(hq.tolist(), pq.tolist()):
        for x in where.get(h, []):
            qs.append(p)
            rs.append(x)
    return np.array(qs), np.array(rs)


def test_fragment_bounds_are_exact_not_limited_to_winnowed_positions() -> None:
    rng = np.random.default_rng(1)
    body = rng.integers(100, 1000, 200).astype(np.uint32)
    q = np.concatenate([rng.integers(1000, 2000, 37), body, rng.integers(2000, 3000, 11)]).astype(np.uint32)
    r = np.concatenate([rng.integers(3000, 4000, 90), body, rng.integers(4000, 5000, 5)]).astype(np.uint32)
    assert align(q, r, *_seeds(q, r)) == [(37, 237, 90, 290)]


def test_an_inserted_statement_splits_the_copy_into_two_fragments() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.integers(100, 1000, 80).astype(np.uint32), rng.integers(100, 1000, 90).astype(np.uint32)
    r = np.concatenate([a, b])
    q = np.concatenate([a, np.array([5, 6, 7, 8], dtype=np.uint32), b])
    assert align(q, r, *_seeds(q, r)) == [(0, 80, 0, 80), (84, 174, 80, 170)]


def test_no_seeds_no_fragments() -> None:
    assert (
        align(np.arange(50, dtype=np.uint32), np.arange(50, dtype=np.uint32), np.array([]), np.array([]))
        == []
    )


def test_repetitive_runs_carry_little_information() -> None:
    rep = np.array([1, 2, 3, 4, 5, 6] * 20, dtype=np.uint32)
    varied = np.arange(120, dtype=np.uint32)
    assert information(rep) < 12
    assert information(varied) == 120


def test_groups_split_at_chunk_boundaries_and_report_the_smallest_chunk() -> None:
    q_chunks = [
        Chunk("class", "A", 0, 100, 1, 20),
        Chunk("method", "m", 10, 60, 2, 10, depth=1),
        Chunk("function", "f", 100, 200, 21, 40),
    ]
    r_chunks = [Chunk("function", "g", 0, 50, 1, 10), Chunk("function", "h", 50, 300, 11, 60)]
    tokens = np.arange(200, dtype=np.uint32)
    groups = group_fragments([(20, 140, 20, 140)], q_chunks, r_chunks, tokens)
    spans = sorted((g.q_region.name, g.r_region.name, g.matched) for g in groups)
    # Pieces are cut at every chunk boundary and judged on their smallest chunks: 20..50 m/g,
    # 50..60 m/h, 60..100 (class body outside m) A/h, 100..140 f/h; the container group of the
    # top-level pair A/h holds all its pieces (50..100).
    assert spans == [("A", "h", 50), ("f", "h", 40), ("m", "g", 30), ("m", "h", 10)]


def test_a_method_is_judged_alone_even_when_its_class_shares_more() -> None:
    # One class holds a copied method (40..80 = origin 200..240) and shares a small idiom
    # elsewhere with the same origin class (5..15 = 110..120): the method is its own group.
    q_chunks = [Chunk("class", "A", 0, 100, 1, 30), Chunk("method", "m", 40, 80, 10, 20, depth=1)]
    r_chunks = [Chunk("class", "B", 100, 300, 1, 60), Chunk("method", "n", 200, 240, 30, 40, depth=1)]
    groups = group_fragments([(5, 15, 110, 120), (40, 80, 200, 240)], q_chunks, r_chunks, np.arange(100))
    spans = sorted((g.q_region.name, g.r_region.name, g.matched) for g in groups)
    assert ("m", "n", 40) in spans and ("A", "B", 50) in spans


def test_a_copy_cut_at_nested_chunks_is_one_piece_again() -> None:
    # A function holding a nested callback: the one copied run is cut at the callback's bounds
    # for grouping, but the function's group holds it as one piece (one verbatim run, not three).
    q_chunks = [Chunk("function", "f", 0, 100, 1, 20), Chunk("function", "cb", 30, 60, 5, 9, depth=1)]
    r_chunks = [Chunk("function", "g", 0, 100, 1, 20), Chunk("function", "cb", 30, 60, 5, 9, depth=1)]
    groups = group_fragments([(0, 100, 0, 100)], q_chunks, r_chunks, np.arange(100))
    outer = [g for g in groups if g.q_region.name == "f"]
    assert len(outer) == 1 and outer[0].pieces == [(0, 100, 0, 100)] and outer[0].longest == 100


def test_owners_match_smallest_for_pieces_inside_chunk_bounds() -> None:
    """The per-token owner table gives the chunk ``smallest`` gives for every piece that lies
    between two consecutive chunk boundaries (nested, equal and overlapping chunks)."""
    rng = np.random.default_rng(7)
    for _ in range(200):
        chunks = []
        for _ in range(int(rng.integers(1, 12))):
            s = int(rng.integers(0, 80))
            e = s + int(rng.integers(0, 40))
            chunks.append(Chunk("function", "f", s, e, 1, 2, int(rng.integers(0, 3))))
        if rng.random() < 0.3:
            chunks.append(chunks[0])  # two equal chunks: the first one is the smallest
        index = ChunkIndex(chunks)
        points = sorted({0, 130, *index.bounds.tolist()})
        pieces = [(a, b) for a, b in zip(points, points[1:]) if b > a]
        # a piece may start anywhere between two boundaries
        pieces += [(a + (b - a) // 2, b) for a, b in pieces if b - a > 1]
        owners = index.owners(np.array([a for a, _ in pieces], dtype=np.int64)).tolist()
        assert owners == [index.smallest(a, b) for a, b in pieces]


def _reference_align(q: np.ndarray, r: np.ndarray, qpos: np.ndarray, rpos: np.ndarray, k: int) -> list:
    """The one-run-at-a-time alignment that the vectorized ``align`` replaced."""
    from codeguard.fingerprint.align import _agree_from, _agree_until, _resolve_overlaps

    def equal_runs(a: np.ndarray, b: np.ndarray) -> list[tuple[int, int]]:
        eq = np.concatenate(([False], a == b, [False]))
        edges = np.flatnonzero(eq[1:] != eq[:-1])
        return [(int(s), int(e)) for s, e in zip(edges[::2], edges[1::2]) if e - s >= k]

    diag = rpos - qpos
    order = np.lexsort((qpos, diag))
    runs: list[list[int]] = []
    for d, qs in zip(diag[order].tolist(), qpos[order].tolist()):
        if runs and runs[-1][0] == d and qs <= runs[-1][2]:
            runs[-1][2] = max(runs[-1][2], qs + k)
        else:
            runs.append([d, qs, qs + k])
    nq, nr = len(q), len(r)
    found = set()
    for d, qs0, qe0 in runs:
        qs0, qe0 = max(qs0, 0, -d), min(qe0, nq, nr - d)
        if qe0 - qs0 < k:
            continue
        for s, e in equal_runs(q[qs0:qe0], r[qs0 + d : qe0 + d]):
            qs, qe = _agree_from(q, r, qs0 + s, d), _agree_until(q, r, qs0 + e, d)
            found.add((qs, qe, qs + d, qe + d))
    return _resolve_overlaps(sorted(found), nq, nr)


def test_align_equals_the_run_by_run_reference() -> None:
    """Vectorized alignment gives exactly the fragments of the one-run-at-a-time version: on
    repetitive streams (many diagonals), long agreements (past the 64-token vectorized step)
    and seeds near both ends and outside the streams."""
    rng = np.random.default_rng(11)
    for trial in range(400):
        alphabet = int(rng.choice([2, 3, 8, 50]))
        nq, nr = int(rng.integers(5, 400)), int(rng.integers(5, 400))
        q = rng.integers(0, alphabet, nq).astype(np.uint32)
        r = rng.integers(0, alphabet, nr).astype(np.uint32)
        k = int(rng.choice([3, 5, 10]))
        n_seeds = int(rng.integers(1, 300))
        qpos = rng.integers(-5, nq + 5, n_seeds).astype(np.int64)
        rpos = rng.integers(-5, nr + 5, n_seeds).astype(np.int64)
        if trial % 3 == 0 and min(nq, nr) > 12:  # a long shared stretch, seeded along its diagonal
            n = int(rng.integers(10, min(nq, nr)))
            a, b = int(rng.integers(0, nq - n + 1)), int(rng.integers(0, nr - n + 1))
            r[b : b + n] = q[a : a + n]
            on = rng.integers(a, a + n, 20).astype(np.int64)
            qpos, rpos = np.concatenate([qpos, on]), np.concatenate([rpos, on + (b - a)])
        assert align(q, r, qpos, rpos, k=k) == _reference_align(q, r, qpos, rpos, k), trial
