"""Comments and docstrings as evidence: the text between tokens.

The token streams drop comments and Python docstrings (renaming and layout must not matter),
but a copied function usually keeps them word for word, and in a short function they are most
of what makes the copy certain: a 3-line helper under a 2-line docstring has fewer tokens than
any idiom. Both sides of a pair are compared the same way, from what the index already holds
(a file's bytes and its tokens' byte offsets): the text of each gap between two tokens with
layout removed. A gap that holds at least ``MIN_CHARS`` non-whitespace characters is a comment
segment (a redundant parenthesis dropped from the stream is one character). Segments before
boilerplate tokens (comments inside an import block) are not evidence, nor is text before a
file's first token (license headers, banners).

The index keeps each segment's hash as a posting at the token it precedes, so a copied
docstring or comment also proposes its pair when the code around it is too short or too
edited to share a k-gram (``scan`` seeds the alignment on both sides of it).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

import numpy as np

# Shorter gaps are punctuation dropped from the stream, or comments too short to tell a copy
# (a lint pragma, `// fall through`).
MIN_CHARS = 16


@dataclass(frozen=True)
class Segments:
    """The comment segments of one file, in token order."""

    before: np.ndarray  # int64: the token each segment precedes
    hashes: np.ndarray  # int64: hash of the segment's text without whitespace
    chars: np.ndarray  # int64: its non-whitespace characters

    def inside(self, start_tok: int, end_tok: int) -> slice:
        """The segments of a chunk: those before one of its tokens (its leading documentation
        included)."""
        lo = int(np.searchsorted(self.before, start_tok, side="left"))
        hi = int(np.searchsorted(self.before, end_tok, side="left"))
        return slice(lo, hi)


EMPTY = Segments(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))


def segments(
    source: bytes, starts: np.ndarray, ends: np.ndarray, boilerplate: np.ndarray | None, seed: int
) -> Segments:
    """The comment segments of a file from its bytes and its tokens' byte spans; ``seed`` is
    the language family's (segments of different families never share a hash)."""
    salt = (seed & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")
    if len(starts) < 2:
        return EMPTY
    gap = starts[1:].astype(np.int64) - ends[:-1].astype(np.int64)
    idx = np.flatnonzero(gap >= MIN_CHARS) + 1  # the token after each wide gap
    before: list[int] = []
    hashes: list[int] = []
    chars: list[int] = []
    for i in idx.tolist():
        if boilerplate is not None and boilerplate[i]:
            continue
        text = b"".join(source[int(ends[i - 1]) : int(starts[i])].split())
        if len(text) < MIN_CHARS:
            continue
        before.append(i)
        digest = hashlib.blake2b(text, digest_size=8, salt=salt, person=b"cg-comment").digest()
        hashes.append(int.from_bytes(digest, "little", signed=True))
        chars.append(len(text))
    if not before:
        return EMPTY
    return Segments(
        np.array(before, dtype=np.int64), np.array(hashes, dtype=np.int64), np.array(chars, dtype=np.int64)
    )


def shared(q: Segments, qs: slice, r: Segments, rs: slice, common: frozenset[int] = frozenset()) -> int:
    """Non-whitespace characters of the comment segments two chunks share word for word (each
    segment counted as often as both hold it), leaving out ``common`` ones."""
    qh, rh = q.hashes[qs], r.hashes[rs]
    if not len(qh) or not len(rh):
        return 0
    left = Counter(rh.tolist())
    total = 0
    for h, n in zip(qh.tolist(), q.chars[qs].tolist()):
        if left.get(h, 0) > 0 and h not in common:
            left[h] -= 1
            total += n
    return total
