"""Is a whole-file match a copy? Identity of a whole file is decisive evidence, except for
files too trivial to be anybody's work.

A scanned file whose bytes (or bytes up to whitespace, or all but a few lines) equal an indexed
file's is a copy of it, unless the file says nothing: it is empty or holds no code (a license
text, only comments), it is a line or two (a lone ``__version__ = "1.0"``, an ``__init__.py``
that imports one name), it holds only metadata (names assigned literals: a ``_version.py``
that setuptools-scm writes, an ``__about__.py``), or it is small and many files of the index
share it (a template's stub). Deterministic rules, not a fitted model: the evidence is an
equality, and the only question is whether the equal content carries information. The
probability is on the same scale as the chunk classifier's (codeguard.verdict.classifier): at
or above 0.9 a finding gates, between 0.5 and 0.9 it is a note to review, below 0.5 none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Kinds of whole-file identity, strongest first.
BYTES = "bytes"  # byte-identical
WHITESPACE = "whitespace"  # identical once whitespace (indentation, line endings) is removed
LINES = "lines"  # identical up to a few lines (verified by a line diff)
KINDS = (BYTES, WHITESPACE, LINES)

# A file with less than this many non-whitespace bytes, or fewer distinct non-blank lines, is
# trivial whatever else holds: `__version__ = "2.31.0"` is 21 bytes and one line.
MIN_CHARS = 40
MIN_LINES = 2
# Information is counted in lines, and a long line counts as many: a minified file or a table
# written on a few lines of 50,000 characters says as much as the same text on ordinary lines.
LINE_CHARS = 80
# Distinct lines at which identity is decisive; smaller files rise linearly from FLOOR to it.
DECISIVE_LINES = 5
FLOOR = 0.6
DECISIVE = 0.99
# Identity up to whitespace is a reformatted copy, a hair below byte identity (it orders after).
WHITESPACE_FACTOR = 0.99
# A small file held by at least this many files of the index is common ground (a generated stub,
# a template's boilerplate), not one origin's trace.
COMMON_FILES = 10
COMMON_MAX_LINES = 20
# A file of literal assignments only (``__version__``, ``__author__``...) is metadata, not work,
# up to this many distinct lines; beyond it, it is a table of constants someone wrote.
METADATA_MAX_LINES = 20
# Identical up to lines: the share of the bigger file's non-blank lines in equal runs needed at
# all, and the probability at that share and at (almost) full identity.
MIN_LINE_SHARE = 0.95
LINE_SHARE_P = ((MIN_LINE_SHARE, 1.0), (0.9, 0.98))


@dataclass(frozen=True)
class FileMatch:
    """The evidence of a whole-file match between a scanned file and an indexed one."""

    kind: str  # one of KINDS
    distinct_lines: int  # distinct non-blank lines of the scanned file
    chars: int  # non-whitespace bytes of the scanned file
    code: bool  # whether the scanned file holds code (not only comments or blank)
    sharing: int  # indexed files with this same content (for LINES: 1)
    line_share: float = 1.0  # LINES: share of the bigger file's non-blank lines in equal runs
    metadata: bool = False  # the scanned file holds only comments and literal assignments


def information(m: FileMatch) -> int:
    """The scanned file's information in lines: its distinct lines, long lines counting as many."""
    return max(m.distinct_lines, m.chars // LINE_CHARS)


def says_nothing(m: FileMatch) -> bool:
    """Whether the scanned file is too little to be anybody's work, whatever it matches: such a
    file is no finding by any path (whole file, chunks, meaning)."""
    info = information(m)
    if not m.code or m.chars < MIN_CHARS or info < MIN_LINES:
        return True
    return m.metadata and info <= METADATA_MAX_LINES


def trivial(m: FileMatch) -> bool:
    """Whether the matched content is too little to be anybody's work, or everybody's."""
    return says_nothing(m) or (m.sharing >= COMMON_FILES and information(m) < COMMON_MAX_LINES)


def probability(m: FileMatch) -> float:
    """P(copy) of a whole-file match (0.0 for trivial files), deterministic."""
    if trivial(m):
        return 0.0
    if m.kind == LINES and m.line_share < MIN_LINE_SHARE:
        return 0.0
    size = min(1.0, (information(m) - MIN_LINES) / max(1, DECISIVE_LINES - MIN_LINES))
    p = FLOOR + (DECISIVE - FLOOR) * size
    if m.kind == WHITESPACE:
        p *= WHITESPACE_FACTOR
    elif m.kind == LINES:
        (lo, hi), (p_lo, p_hi) = LINE_SHARE_P
        p = min(p, float(np.interp(m.line_share, [lo, hi], [p_lo, p_hi])))
    return p
