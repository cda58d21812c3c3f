"""One file through the pure stages: decode -> parse/chunk -> fingerprint."""

from __future__ import annotations

import hashlib
import os
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from codeguard.discover import prepare_source
from codeguard.fingerprint.winnow import channel_fingerprints, family_seed
from codeguard.model import Skip
from codeguard.parsing.chunker import BOILERPLATE, ParsedFile, parse_file
from codeguard.parsing.languages import LANGUAGES
from codeguard.verdict.features import Side

if TYPE_CHECKING:
    from codeguard.index.store import RefFile


@dataclass
class Analyzed:
    """A parsed and fingerprinted file."""

    relpath: str
    language: str
    sha256: str
    source: bytes
    parsed: ParsedFile
    hashes: np.ndarray  # int64, normalized channel
    positions: np.ndarray  # int64 k-gram start positions
    note: str = ""
    raw_hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # raw channel
    raw_positions: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def query_side(parsed: ParsedFile, start_tok: int, end_tok: int) -> Side:
    """A scanned chunk as one side of a candidate pair (codeguard.verdict.features)."""
    return Side(
        parsed.tokens,
        parsed.raw_tokens,
        parsed.boilerplate,
        parsed.starts,
        parsed.ends,
        parsed.lines,
        start_tok,
        end_tok,
    )


def ref_boilerplate(ref: RefFile) -> np.ndarray:
    """Which tokens of a reference file are boilerplate (none for files indexed without flags)."""
    if ref.flags is None:
        return np.zeros(len(ref.tokens), dtype=bool)
    out: np.ndarray = (ref.flags & BOILERPLATE) != 0
    return out


def ref_side(ref: RefFile, start_tok: int, end_tok: int) -> Side:
    """A reference chunk as the other side of a candidate pair."""
    return Side(
        ref.tokens,
        ref.raw_tokens,
        ref_boilerplate(ref),
        ref.starts,
        ref.ends,
        np.zeros(len(ref.tokens), dtype=np.int64),
        start_tok,
        end_tok,
    )


# `.h` is C by extension; these mark a C++ header (C and C++ share a fingerprint family, so
# this only improves parsing, chunks and names, not which copies can match).
_CPP_HEADER_RE = re.compile(
    rb"^\s*(class|namespace|template\s*<|public:|private:|protected:)|\w::\w", re.MULTILINE
)


def refine_language(relpath: str, source: bytes, language: str) -> str:
    """The language by content where the extension is ambiguous (a C++ header named .h)."""
    if language == "c" and relpath.endswith(".h") and _CPP_HEADER_RE.search(source[:65536]):
        return "cpp"
    return language


def analyze(relpath: str, raw: bytes, language: str) -> Analyzed | Skip:
    """Decode, parse and fingerprint one file; a Skip with the reason when it cannot be."""
    sha = hashlib.sha256(raw).hexdigest()
    source, note = prepare_source(raw)
    if source is None:
        return Skip(relpath, note)
    language = refine_language(relpath, source, language)
    parsed = parse_file(source, language)
    if len(parsed.tokens) == 0:
        return Skip(relpath, "no code (only comments or blank)")
    seed = family_seed(LANGUAGES[language].fingerprint_family)
    hashes, positions, raw_hashes, raw_positions = channel_fingerprints(
        parsed.tokens, parsed.raw_tokens, parsed.boilerplate, seed
    )
    if parsed.has_errors:
        note = (note + "; " if note else "") + "syntax errors (parsed with error recovery)"
    return Analyzed(
        relpath, language, sha, source, parsed, hashes, positions, note, raw_hashes, raw_positions
    )


def analyze_path(relpath: str, path: Path, language: str) -> Analyzed | Skip:
    """``analyze`` for a file on disk; unreadable files become skips."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return Skip(relpath, f"unreadable: {exc.strerror or exc}")
    return analyze(relpath, raw, language)


def compress(data: bytes) -> bytes:
    return zlib.compress(data, 1)


T = TypeVar("T")
R = TypeVar("R")


def parallel_map(fn: Callable[[T], R], items: Iterable[T], jobs: int, min_parallel: int = 16) -> Iterator[R]:
    """Map in worker processes when there is enough work, in order, streaming results."""
    items = list(items)
    jobs = jobs or (os.cpu_count() or 1)
    if jobs <= 1 or len(items) < min_parallel:
        yield from map(fn, items)
        return
    chunksize = max(1, min(32, len(items) // (jobs * 8)))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(fn, items, chunksize=chunksize)
