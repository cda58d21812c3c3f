"""Whole-file identity: a file's content hash, a hash that survives whitespace-only edits, and
per-line hashes by which a file identical up to a few lines is found and verified.

Pure and linear in the file: no parsing, so it applies to files that are not chunked too
(generated, minified, long-lined, repetitive tables). Hashes are stable across processes and
machines (hashlib, never Python's ``hash()``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from difflib import SequenceMatcher

import numpy as np

# Bytes that a whitespace-only edit (re-indentation, line endings, trailing blanks) changes.
WHITESPACE = b" \t\r\n\f\v"
_BOM = b"\xef\xbb\xbf"
# Files with fewer distinct non-blank lines than this get no line sketch: "identical up to a few
# lines" is evidence for big files only (a small one differing in a line is a chunk matter).
MIN_SKETCH_LINES = 50
# Line hashes kept per file for candidate lookup: the smallest ones (a bottom-k MinHash sketch;
# Broder 1997), whose overlap estimates the Jaccard similarity of two files' line sets.
SKETCH_SIZE = 64
# A metadata line, whitespace removed: names assigned a literal (``__version__="1.2.3"``,
# ``__version__=version='8.0.4'``, ``__version_tuple__=(8,0,4)``, ``constVersion="1.2"``,
# ``__author__:str="Ada"``), at most this long; or a comment line. A file of such lines only
# carries values, not anybody's code.
METADATA_LINE_CHARS = 80
_LITERAL = rb"""(?:'[^']*'|"[^"]*"|[-+]?\d[\w.+-]*|True|False|None|true|false|null|nil)"""
_METADATA_LINE = re.compile(
    rb"(?:[A-Za-z_$][\w$.]*(?::[\w\[\],.|]+)?=)+"
    rb"(?:" + _LITERAL + rb"|[(\[](?:" + _LITERAL + rb"(?:," + _LITERAL + rb")*,?)?[)\]])[;,]?"
)
_COMMENT_LINE = re.compile(rb"(?:#|//|/\*|\*|--|;)")
_DOCSTRING = (b'"""', b"'''")


@dataclass(frozen=True)
class WholeFile:
    """The identity of one file: content hash, whitespace-free hash and its non-blank lines."""

    sha256: str
    norm_sha256: str
    n_lines: int  # lines of the file (the last line number)
    chars: int  # non-whitespace bytes
    code: bool  # whether it holds code (False: only comments or blank, per the parser)
    line_hashes: np.ndarray  # int64 per non-blank line, whitespace removed
    line_numbers: np.ndarray  # int64, 1-based line number of each of them
    metadata: bool = False  # every non-blank line a comment, a docstring or a literal assignment

    @property
    def distinct_lines(self) -> int:
        """Distinct non-blank lines: the file's information, repetition not counted."""
        return int(len(np.unique(self.line_hashes)))

    def sketch(self) -> np.ndarray:
        """The bottom-k sketch of the distinct line hashes (empty for small files)."""
        uniq = np.unique(self.line_hashes)
        if len(uniq) < MIN_SKETCH_LINES:
            return np.zeros(0, dtype=np.int64)
        return uniq[:SKETCH_SIZE]


def _line_hash(line: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(line, digest_size=8).digest(), "little", signed=True)


def whole_file(raw: bytes, code: bool = True) -> WholeFile:
    """The whole-file identity of ``raw`` (the bytes as stored: the content hash is of them)."""
    sha = hashlib.sha256(raw).hexdigest()
    body = raw[len(_BOM) :] if raw.startswith(_BOM) else raw
    norm = hashlib.sha256()
    hashes: list[int] = []
    numbers: list[int] = []
    chars = 0
    metadata = True
    in_doc: bytes | None = None  # the quote of the docstring a line is inside
    lines = body.split(b"\n")
    for number, line in enumerate(lines, 1):
        stripped = line.translate(None, WHITESPACE)
        if stripped:
            if metadata:
                metadata, in_doc = _metadata_line(stripped, in_doc)
            chars += len(stripped)
            norm.update(stripped)
            hashes.append(_line_hash(stripped))
            numbers.append(number)
    n_lines = len(lines) - (1 if body.endswith(b"\n") else 0)
    return WholeFile(
        sha256=sha,
        norm_sha256=norm.hexdigest(),
        n_lines=max(n_lines, 0),
        chars=chars,
        code=code,
        line_hashes=np.array(hashes, dtype=np.int64),
        line_numbers=np.array(numbers, dtype=np.int64),
        metadata=metadata and in_doc is None,
    )


def _metadata_line(stripped: bytes, in_doc: bytes | None) -> tuple[bool, bytes | None]:
    """Whether a non-blank line (whitespace removed) can belong to a metadata-only file, and
    the docstring quote open after it."""
    if in_doc is not None:
        return True, (None if in_doc in stripped else in_doc)
    for quote in _DOCSTRING:
        if stripped.startswith(quote):
            closed = len(stripped) >= 6 and stripped.endswith(quote)
            return True, (None if closed else quote)
    if _COMMENT_LINE.match(stripped):
        return True, None
    return len(stripped) <= METADATA_LINE_CHARS and _METADATA_LINE.fullmatch(stripped) is not None, None


def sketch_overlap(a: np.ndarray, b: np.ndarray, size: int = SKETCH_SIZE) -> float:
    """Estimated Jaccard similarity of two line sets from their bottom-k sketches."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    union = np.union1d(a, b)[:size]
    shared = np.intersect1d(np.intersect1d(a, b), union)
    return float(len(shared)) / float(len(union))


def pack_lines(hashes: np.ndarray, numbers: np.ndarray) -> bytes:
    """Line hashes and their line numbers as one blob (little-endian int64 rows)."""
    return np.stack([hashes, numbers]).astype("<i8").tobytes()


def unpack_lines(blob: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of ``pack_lines``: (hashes, numbers)."""
    arr = np.frombuffer(blob, dtype="<i8").reshape(2, -1)
    return arr[0], arr[1]


def matching_lines(query: np.ndarray, origin: np.ndarray) -> list[tuple[int, int, int]]:
    """Runs of equal lines as (query index, origin index, length), in order.

    difflib's matcher with its popularity heuristic (lines in over 1% of a long file, such as a
    table's closing brackets, seed no match but are covered by extension): near-linear for
    near-identical files, which is the only case it is asked about (the sketch filters first).
    """
    sm = SequenceMatcher(None, query.tolist(), origin.tolist(), autojunk=True)
    return [(a, b, n) for a, b, n in sm.get_matching_blocks() if n]
