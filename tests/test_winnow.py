"""Winnowing guarantees (Schleimer et al. 2003) as property tests, and hash stability."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from codeguard.fingerprint.winnow import (
    K,
    W,
    channel_fingerprints,
    dense_fingerprints,
    fingerprint,
    kgram_hashes,
    winnow,
)

token_lists = st.lists(st.integers(min_value=1, max_value=40), min_size=0, max_size=400)


@given(token_lists)
def test_no_fingerprint_for_text_shorter_than_k(tokens: list[int]) -> None:
    hashes, pos = fingerprint(np.array(tokens[: K - 1], dtype=np.uint32))
    assert len(hashes) == 0 and len(pos) == 0


@given(token_lists, st.integers(min_value=1, max_value=20))
def test_gap_between_selected_positions_is_at_most_window(tokens: list[int], w: int) -> None:
    h = kgram_hashes(np.array(tokens, dtype=np.uint32), 5)
    pos = winnow(h, w)
    if len(h) >= w:
        assert pos[0] <= w - 1
        assert len(h) - 1 - pos[-1] <= w - 1
        assert np.all(np.diff(pos) <= w)
    assert np.all(np.diff(pos) > 0)  # each position recorded once, in order


@given(token_lists)
def test_selected_hash_is_the_window_minimum(tokens: list[int]) -> None:
    h = kgram_hashes(np.array(tokens, dtype=np.uint32), 3)
    picked = set(winnow(h, 4).tolist())
    for start in range(0, max(0, len(h) - 4 + 1)):
        window = h[start : start + 4]
        rightmost_min = start + 3 - int(np.argmin(window[::-1]))
        assert rightmost_min in picked


@settings(max_examples=60)
@given(
    st.lists(st.integers(1, 30), min_size=W + K - 1, max_size=120),
    st.lists(st.integers(31, 60), max_size=50),
    st.lists(st.integers(61, 90), max_size=50),
)
def test_shared_run_of_guarantee_length_shares_a_fingerprint(
    shared: list[int], pre: list[int], post: list[int]
) -> None:
    a = np.array(pre + shared + post, dtype=np.uint32)
    b = np.array(post + shared + pre, dtype=np.uint32)
    ha, _ = fingerprint(a)
    hb, _ = fingerprint(b)
    assert set(ha.tolist()) & set(hb.tolist())


def test_hashes_depend_on_seed_and_content_only() -> None:
    t = np.arange(1, 100, dtype=np.uint32)
    assert np.array_equal(kgram_hashes(t, K, 7), kgram_hashes(t.copy(), K, 7))
    assert not np.array_equal(kgram_hashes(t, K, 7), kgram_hashes(t, K, 8))


def test_known_hash_values_are_pinned() -> None:
    # Pinned so that a change of scheme cannot slip in without a manifest version bump.
    h = kgram_hashes(np.arange(1, K + 2, dtype=np.uint32), K, 1)
    assert h.tolist() == PINNED


PINNED: list[int] = [11243590333464891617, 10619587854204892521]


@settings(max_examples=200)
@given(
    st.lists(st.integers(min_value=1, max_value=40), min_size=12, max_size=30),
    st.lists(st.integers(min_value=1, max_value=40), min_size=0, max_size=60),
    st.lists(st.integers(min_value=1, max_value=40), min_size=0, max_size=60),
    st.lists(st.integers(min_value=1, max_value=40), min_size=0, max_size=60),
    st.lists(st.integers(min_value=1, max_value=40), min_size=0, max_size=60),
)
def test_a_short_chunk_copied_anywhere_shares_a_fingerprint_with_its_origin(
    chunk: list[int], before: list[int], after: list[int], q_before: list[int], q_after: list[int]
) -> None:
    """Anchoring: a chunk too short for winnowing's guarantee (fewer than W + K - 1 tokens)
    still has a selected k-gram that any copy of it holds, wherever the copy lands."""
    ref = np.array(before + chunk + after, dtype=np.uint32)
    raw = ref + 1000
    span = [(len(before), len(before) + len(chunk))]
    h, _, rh, _ = channel_fingerprints(ref, raw, None, 7, span)
    query = np.array(q_before + chunk + q_after, dtype=np.uint32)
    qh, _ = dense_fingerprints(query, query + 1000, None, 7)
    assert set(rh.tolist()) & set(qh.tolist()), "the raw channel's anchor (chunk >= K_RAW tokens)"
    if len(chunk) >= K:
        assert set(h.tolist()) & set(qh.tolist()), "the normalized channel's anchor"


def test_anchoring_adds_nothing_where_winnowing_already_guarantees_a_fingerprint() -> None:
    rng = np.random.default_rng(3)
    tokens = rng.integers(1, 50, size=400).astype(np.uint32)
    spans = [(0, 400), (10, 10 + K + W - 1), (100, 300)]
    plain = channel_fingerprints(tokens, tokens + 100, None, 5)
    anchored = channel_fingerprints(tokens, tokens + 100, None, 5, spans)
    for a, b in zip(plain, anchored):
        assert np.array_equal(a, b)
