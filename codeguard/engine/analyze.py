"""One file through the pure stages: decode -> parse/chunk -> fingerprint."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from codeguard.discover import generated_marker, prepare_source
from codeguard.fingerprint.comments import EMPTY as NO_COMMENTS
from codeguard.fingerprint.comments import Segments, segments
from codeguard.fingerprint.wholefile import WholeFile, whole_file
from codeguard.fingerprint.winnow import channel_fingerprints, chunk_spans, family_seed
from codeguard.model import Skip
from codeguard.parsing.chunker import BOILERPLATE, ParsedFile, parse_file
from codeguard.parsing.languages import LANGUAGES
from codeguard.verdict.features import Side, SideMemo

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
    comments: Segments = NO_COMMENTS  # comment and docstring segments (fingerprint.comments)


def query_side(
    parsed: ParsedFile,
    start_tok: int,
    end_tok: int,
    memo: SideMemo | None = None,
) -> Side:
    """A scanned chunk as one side of a candidate pair (codeguard.verdict.features); ``memo``
    (one per scanned file) keeps what its pairs compute about its token ranges."""
    return Side(
        parsed.tokens,
        parsed.raw_tokens,
        parsed.boilerplate,
        parsed.starts,
        parsed.ends,
        parsed.lines,
        start_tok,
        end_tok,
        memo,
    )


def ref_boilerplate(ref: RefFile) -> np.ndarray:
    """Which tokens of a reference file are boilerplate; computed once per loaded file."""
    out: np.ndarray | None = ref.derived.get("boilerplate")
    if out is None:
        out = ref.derived["boilerplate"] = (ref.flags & BOILERPLATE) != 0
    return out


def ref_side(ref: RefFile, start_tok: int, end_tok: int) -> Side:
    """A reference chunk as the other side of a candidate pair."""
    lines: np.ndarray | None = ref.derived.get("no_lines")
    if lines is None:  # the reference side's lines are not needed: zeros, shared by its pairs
        lines = ref.derived["no_lines"] = np.zeros(len(ref.tokens), dtype=np.int64)
        ref.derived["memo"] = SideMemo()
    return Side(
        ref.tokens,
        ref.raw_tokens,
        ref_boilerplate(ref),
        ref.starts,
        ref.ends,
        lines,
        start_tok,
        end_tok,
        ref.derived["memo"],
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


# A fingerprint that occurs more often than this within one file is the file's own repeated
# structure (the rows of a data table, generated cases), no evidence of copying, and left out
# of that file: matched against a similar table, every occurrence seeds every other one, so a
# table of 8,500 rows once took over 11 minutes and 5 GB to scan. Copies of such a file are still
# found through its other fingerprints (the raw channel keeps the rows' values).
MAX_REPEATS = 16


def cap_repeats(
    hashes: np.ndarray, positions: np.ndarray, limit: int = MAX_REPEATS
) -> tuple[np.ndarray, np.ndarray, int]:
    """Fingerprints without those occurring more than ``limit`` times, and how many were left out."""
    if len(hashes) <= limit:
        return hashes, positions, 0
    _, inverse, counts = np.unique(hashes, return_inverse=True, return_counts=True)
    keep = counts[inverse] <= limit
    dropped = int(len(hashes) - keep.sum())
    return (hashes[keep], positions[keep], dropped) if dropped else (hashes, positions, 0)


def analyze(relpath: str, raw: bytes, language: str) -> Analyzed | Skip:
    """Decode, parse and fingerprint one file; a Skip with the reason when it cannot be."""
    sha = hashlib.sha256(raw).hexdigest()
    source, note = prepare_source(raw)
    if source is None:
        return Skip(relpath, note)
    marker = generated_marker(source)
    if marker is not None:
        return Skip(relpath, f"generated (its first lines say {marker!r})")
    language = refine_language(relpath, source, language)
    parsed = parse_file(source, language)
    if len(parsed.tokens) == 0:
        return Skip(relpath, "no code (only comments or blank)")
    seed = family_seed(LANGUAGES[language].fingerprint_family)
    hashes, positions, raw_hashes, raw_positions = channel_fingerprints(
        parsed.tokens, parsed.raw_tokens, parsed.boilerplate, seed, chunk_spans(parsed.chunks)
    )
    hashes, positions, n_rep = cap_repeats(hashes, positions)
    raw_hashes, raw_positions, n_raw_rep = cap_repeats(raw_hashes, raw_positions)
    if n_rep + n_raw_rep:
        note = (note + "; " if note else "") + (
            f"{n_rep + n_raw_rep:,} fingerprint(s) of code repeated over "
            f"{MAX_REPEATS} times in the file (a data table?) left out"
        )
    if parsed.has_errors:
        note = (note + "; " if note else "") + "syntax errors (parsed with error recovery)"
    if parsed.dropped_chunks:
        note = (note + "; " if note else "") + (
            f"{parsed.dropped_chunks:,} chunk(s) over the per-file limits (nesting depth, count) "
            "are not chunks of their own"
        )
    comments = segments(source, parsed.starts, parsed.ends, parsed.boilerplate, seed)
    return Analyzed(
        relpath, language, sha, source, parsed, hashes, positions, note, raw_hashes, raw_positions, comments
    )


# Skips of files that are text of their language but are not chunked: their whole-file identity
# is still recorded and compared (a generated table copied verbatim is still a copy). Binary,
# empty and undecodable files have none.
WHOLE_FILE_SKIPS = ("generated", "minified", "no code")
_NO_CODE = "no code"


def analyze_file(
    relpath: str, raw: bytes, language: str, hash_only: str = ""
) -> tuple[Analyzed | Skip, WholeFile | None]:
    """``analyze`` and the file's whole-file identity (also for files skipped from chunking as
    generated, minified or without code; None for binary, empty or undecodable ones). With
    ``hash_only`` (the reason: over the size limit) the file is not chunked, only hashed."""
    if hash_only:
        binary = b"\x00" in raw[:8192] and not raw.startswith((b"\xff\xfe", b"\xfe\xff"))
        return Skip(relpath, hash_only), None if binary else whole_file(raw)
    res = analyze(relpath, raw, language)
    if isinstance(res, Analyzed):
        return res, whole_file(raw)
    if res.reason.startswith(WHOLE_FILE_SKIPS):
        return res, whole_file(raw, code=not res.reason.startswith(_NO_CODE))
    return res, None


def analyze_path(
    relpath: str, path: Path, language: str, hash_only: str = ""
) -> tuple[Analyzed | Skip, WholeFile | None]:
    """``analyze_file`` for a file on disk; unreadable files become skips."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return Skip(relpath, f"unreadable: {exc.strerror or exc}"), None
    return analyze_file(relpath, raw, language, hash_only)


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
    from concurrent.futures import ProcessPoolExecutor  # multiprocessing: only for real pools

    chunksize = max(1, min(32, len(items) // (jobs * 8)))
    with ProcessPoolExecutor(max_workers=jobs, initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
        try:
            yield from pool.map(fn, items, chunksize=chunksize)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


# prctl(2) option: the signal a process gets when its parent dies (Linux).
_PR_SET_PDEATHSIG = 1
# Seconds between checks of the parent where prctl is not available.
_PARENT_POLL = 1.0


def die_with_parent(parent: int) -> None:
    """Pool worker initializer: end this worker when ``parent`` dies, however it dies (a killed
    ``index add`` must not leave workers blocked forever holding the index open)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # died before prctl took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(_PARENT_POLL)
        if os.getppid() != parent:
            os._exit(1)
