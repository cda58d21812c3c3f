"""Alignment: seeds become exact, maximal fragments; groups are decided per chunk pair."""

from __future__ import annotations

import numpy as np

from codeguard.fingerprint.align import align, group_fragments, information
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
    # 20..50 in m/g, 50..60 m/h -> both inside class A (top chunk), reported on m or A; 100..140 f/h
    assert ("f", "h", 40) in spans
    assert sum(m for _, _, m in spans) == 120
