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
