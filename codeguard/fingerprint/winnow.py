"""Stable k-gram hashing and winnowing (Schleimer, Wilkerson, Aiken: "Winnowing: local
algorithms for document fingerprinting", SIGMOD 2003).

Every k consecutive tokens give one 64-bit hash; in every window of ``w`` consecutive hashes the
minimum is selected (the rightmost one on ties), and a position is recorded once. Guarantees:
any common run of at least ``w + k - 1`` tokens shares a selected fingerprint; no run shorter
than ``k`` tokens is fingerprinted; the gap between consecutive selected positions is at most
``w``. Hashes are pure functions of the token ids and a seed: identical on every machine and in
every process (no use of Python's randomized ``hash()``).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

# Noise threshold: k-grams of 15 normalized tokens (about two lines of code). Shorter common
# runs (idioms such as `for ID in range(ID):`) never produce a fingerprint.
K = 15
# Winnowing window: with K, every common run of W + K - 1 = 24 tokens is guaranteed a shared
# fingerprint; density is about 2 / (W + 1) of all k-grams.
W = 10
HASH_SCHEME = "poly64-splitmix64-v1"

_P = np.uint64(0x100000001B3)  # FNV-64 prime as the polynomial base
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def family_seed(family: str) -> int:
    """The hash seed of a language family: streams of different families never collide."""
    return zlib.crc32(family.encode("utf-8")) | 1


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: spreads polynomial hashes uniformly over 64 bits."""
    h = h ^ (h >> np.uint64(30))
    h = h * _M1
    h = h ^ (h >> np.uint64(27))
    h = h * _M2
    out: np.ndarray = h ^ (h >> np.uint64(31))
    return out


def kgram_hashes(tokens: np.ndarray, k: int = K, seed: int = 1) -> np.ndarray:
    """The 64-bit hash of every k-gram of ``tokens`` (length ``len(tokens) - k + 1``)."""
    n = len(tokens) - k + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint64)
    t = np.asarray(tokens, dtype=np.uint64)
    h = np.full(n, seed, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            h = h * _P + t[j : j + n]
        return _mix(h)


def winnow(hashes: np.ndarray, w: int = W) -> np.ndarray:
    """Positions selected by robust winnowing: the rightmost minimum of every window of ``w``."""
    n = len(hashes)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n <= w:
        return np.array([n - 1 - int(np.argmin(hashes[::-1]))], dtype=np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(hashes, w)
    rightmost = w - 1 - np.argmin(windows[:, ::-1], axis=1)
    picked = np.arange(n - w + 1) + rightmost
    keep = np.empty(len(picked), dtype=bool)
    keep[0] = True
    keep[1:] = picked[1:] != picked[:-1]  # picked is non-decreasing
    selected: np.ndarray = picked[keep].astype(np.int64)
    return selected


def fingerprint(tokens: np.ndarray, seed: int = 1, k: int = K, w: int = W) -> tuple[np.ndarray, np.ndarray]:
    """Winnowed fingerprints of a token stream: (hashes as int64, k-gram start positions)."""
    h = kgram_hashes(tokens, k, seed)
    pos = winnow(h, w)
    return h[pos].view(np.int64), pos


# The raw channel (identifiers and literals kept) is far more specific per token, so its k-grams
# are shorter: every identical raw run of W_RAW + K_RAW - 1 = 17 tokens (about one or two lines)
# shares a fingerprint. Its hashes are seeded apart from the normalized channel's, so both live
# in one postings table without colliding.
K_RAW = 10
W_RAW = 8
RAW_SALT = 0x5EED_0000_0000_0001


def raw_seed(seed: int) -> int:
    """The hash seed of the raw channel of a family whose normalized seed is ``seed``."""
    return (seed ^ RAW_SALT) & 0xFFFF_FFFF_FFFF_FFFF


def _outside(mask: np.ndarray, positions: np.ndarray, k: int) -> np.ndarray:
    """Which k-grams starting at ``positions`` hold at least one token not in ``mask``."""
    if mask is None or not mask.any() or len(positions) == 0:
        return np.ones(len(positions), dtype=bool)
    c = np.concatenate(([0], np.cumsum(mask, dtype=np.int64)))
    inside: np.ndarray = (c[positions + k] - c[positions]) == k
    return ~inside


def anchored(
    hashes: np.ndarray,
    picked: np.ndarray,
    spans: Sequence[tuple[int, int]],
    k: int,
    w: int,
    usable: np.ndarray | None = None,
) -> np.ndarray:
    """``picked`` (winnowed k-gram positions) plus, for every span (a chunk's tokens, end
    exclusive) holding fewer than ``w`` k-grams, its own minimum k-gram (rightmost on ties;
    among ``usable`` positions only, when given).

    Winnowing already selects the minimum of any span of at least ``w`` k-grams (a window lies
    inside it). A shorter function (a 5-line helper is 10-20 tokens) may have none of its k-grams
    selected, as its windows reach into the code around it: then a verbatim copy of it, looked up
    k-gram by k-gram, finds nothing. Its minimum is a pure function of its own tokens, so any
    copy of the whole chunk holds that k-gram."""
    extra = []
    for start, end in spans:
        lo, hi = start, end - k  # k-grams that lie inside the span
        if hi < lo or hi - lo + 1 >= w:
            continue
        cand = np.arange(lo, hi + 1)
        if usable is not None:
            cand = cand[usable[lo : hi + 1]]
            if len(cand) == 0:
                continue
        seg = hashes[cand]
        extra.append(int(cand[len(seg) - 1 - int(np.argmin(seg[::-1]))]))
    if not extra:
        return picked
    out: np.ndarray = np.union1d(picked, np.array(extra, dtype=np.int64)).astype(np.int64)
    return out


def chunk_spans(chunks: Iterable[Any]) -> list[tuple[int, int]]:
    """(start_tok, end_tok) of chunks (anything with those attributes)."""
    return [(int(c.start_tok), int(c.end_tok)) for c in chunks]


def _channel(
    tokens: np.ndarray,
    boilerplate: np.ndarray | None,
    seed: int,
    k: int,
    w: int,
    spans: Sequence[tuple[int, int]],
) -> tuple[np.ndarray, np.ndarray]:
    h = kgram_hashes(tokens, k, seed)
    usable = _outside(boilerplate, np.arange(len(h)), k) if boilerplate is not None else None
    pos = anchored(h, winnow(h, w), spans, k, w, usable)
    if usable is not None:
        pos = pos[usable[pos]]
    return h[pos].view(np.int64), pos


def channel_fingerprints(
    tokens: np.ndarray,
    raw: np.ndarray,
    boilerplate: np.ndarray | None,
    seed: int,
    spans: Sequence[tuple[int, int]] = (),
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Winnowed fingerprints of both channels, anchored in every short chunk of ``spans`` (see
    ``anchored``), leaving out k-grams made only of boilerplate: (normalized hashes, positions,
    raw hashes, positions)."""
    h, pos = _channel(tokens, boilerplate, seed, K, W, spans)
    rh, rpos = _channel(raw, boilerplate, raw_seed(seed), K_RAW, W_RAW, spans)
    return h, pos, rh, rpos


def dense_fingerprints(
    tokens: np.ndarray, raw: np.ndarray, boilerplate: np.ndarray | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every k-gram hash of both channels (not winnowed) with its position, leaving out
    boilerplate-only k-grams: the query side of a lookup. The index keeps winnowed fingerprints
    only; looking up every query k-gram finds a shared run whenever the *reference* selected a
    k-gram inside it, whatever the query's own window selected (short copies share few)."""
    h = kgram_hashes(tokens, K, seed)
    pos = np.arange(len(h), dtype=np.int64)
    rh = kgram_hashes(raw, K_RAW, raw_seed(seed))
    rpos = np.arange(len(rh), dtype=np.int64)
    if boilerplate is not None:
        keep, rkeep = _outside(boilerplate, pos, K), _outside(boilerplate, rpos, K_RAW)
        h, pos, rh, rpos = h[keep], pos[keep], rh[rkeep], rpos[rkeep]
    return np.concatenate([h.view(np.int64), rh.view(np.int64)]), np.concatenate([pos, rpos])
