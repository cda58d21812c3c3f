"""Nearest-neighbour search over the chunk embeddings of a reference index.

SQLite (the ``embeddings`` table, float16 unit vectors) is the source of truth. The FAISS index
is built at index time (``index add``, ``index remove``, ``index embed``) and written atomically
to ``vectors.faiss`` next to the database: the serialized FAISS index followed by a trailer (a
JSON header naming the vectors' generation, model, dimension, search method, count, size and
checksums of the file's ends, its length, a magic line). A scan opens it memory-mapped
(``faiss.IO_FLAG_MMAP_IFC``: nothing is read from SQLite and the vectors are paged in as the
search touches them) when it matches the database. A missing, damaged or stale file is rebuilt
from SQLite where that is cheap (up to :data:`REBUILD_AT_SCAN` vectors, with a note); above, the
scan stops with exit 4 and says how to rebuild it. Search results never decide alone: the
cosine of every candidate is recomputed from the vectors stored in SQLite.

Search is exact (``IndexFlatIP``) up to :data:`HNSW_THRESHOLD` vectors and HNSW above
(``bench/vector_recall.py`` measures the trade-off). An ``index add`` that only adds vectors
adds them to the existing file's index (no rebuild). FAISS is imported only here, and only when
vectors are used.
"""

from __future__ import annotations

import json
import os
import secrets
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codeguard.errors import IndexUnavailable
from codeguard.ml.card import ModelUnavailable

if TYPE_CHECKING:
    from codeguard.index.store import IndexStore

# Chunks with fewer normalized tokens than this are not embedded (too small to say anything).
MIN_EMBED_TOKENS = 30
# The text embedded for a chunk is at most this many bytes of its source: the encoder reads its
# first max_length (256) tokens only, which real code fits in a few KB, and tokenizing a whole
# large chunk before truncating it cost gigabytes for nested functions.
MAX_TEXT_BYTES = 16_384
# Up to this many vectors search is exact; above, HNSW (monkeypatched by tests).
HNSW_THRESHOLD = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
# Batches smaller than this are searched on one thread: waking FAISS's OpenMP team costs more
# than it saves for a few queries (8 ms instead of 0.04 ms per single query on a busy 2-core
# machine, measured with bench/vector_recall.py).
SMALL_BATCH = 32
CACHE_NAME = "vectors.faiss"
_MAGIC = b"codeguard-vectors 2\n"
_TRAILER = len(_MAGIC) + 8  # the magic line after the header's length (8 bytes, little-endian)
# Bytes at each end of the FAISS body whose checksum the header records (a scan does not read
# the whole file: it is memory-mapped).
_CHECKED_ENDS = 1 << 16
# Up to this many vectors a scan rebuilds a missing or stale vector file itself (exact search
# over them is built in well under a second); above, it is an unavailable index (exit 4).
REBUILD_AT_SCAN = HNSW_THRESHOLD
# Stored vectors: IEEE half precision, little-endian.
VEC_DTYPE = np.dtype("<f2")


class EmbeddingModelMismatch(ModelUnavailable):
    """The index holds embeddings of another model (or dimension) than the one in use."""


def chunk_text(content: bytes, start_line: int, end_line: int) -> str:
    """The text embedded for a chunk: its source lines ``start_line..end_line`` (1-based,
    inclusive, lines split at ``\\n`` as the parser counts them) of ``content``, the file's
    source as analysed (as stored in the index), at most MAX_TEXT_BYTES of them, decoded as
    UTF-8 with replacement."""
    return ChunkTexts(content).text(start_line, end_line)


class ChunkTexts:
    """``chunk_text`` for many chunks of one file: the line offsets are computed once."""

    def __init__(self, content: bytes):
        self.content = content
        newlines = np.flatnonzero(np.frombuffer(content, dtype=np.uint8) == 10)
        # starts[i]: offset of line i+1; ends[i]: offset just past line i+1 (before its "\n").
        self._starts = np.concatenate([[0], newlines + 1])
        self._ends = np.concatenate([newlines, [len(content)]])

    def text(self, start_line: int, end_line: int) -> str:
        n = len(self._starts)
        first = min(max(start_line, 1), n) - 1
        last = min(max(end_line, start_line, 1), n) - 1
        lo, hi = int(self._starts[first]), int(self._ends[last])
        return self.content[lo : min(hi, lo + MAX_TEXT_BYTES)].decode("utf-8", "replace")


def encode_vectors(vectors: np.ndarray) -> list[bytes]:
    """Rows of float32 unit vectors as stored blobs (float16 little-endian)."""
    half = np.ascontiguousarray(vectors, dtype=VEC_DTYPE)
    return [row.tobytes() for row in half]


def decode_vectors(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    """Stored blobs as float32 rows, re-normalized to unit length (float16 rounding)."""
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    width = dim * VEC_DTYPE.itemsize
    if any(len(b) != width for b in blobs):
        raise ValueError(f"stored vectors are not {dim}-dimensional float16")
    vecs = np.frombuffer(b"".join(blobs), dtype=VEC_DTYPE).reshape(len(blobs), dim).astype(np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    unit: np.ndarray = vecs / np.maximum(norms, 1e-12)
    return unit


def method_for(n_vectors: int) -> str:
    """The search method used for an index of ``n_vectors``: "exact" or "hnsw"."""
    return "exact" if n_vectors <= HNSW_THRESHOLD else "hnsw"


class VectorIndex:
    """The embeddings of an index, searchable by inner product (cosine: all rows are unit)."""

    def __init__(self, store: IndexStore, index: Any, model_id: str, dim: int, method: str, generation: int):
        self.store = store
        self.model_id = model_id
        self.dim = dim
        self.method = method
        self.generation = generation
        self._index = index
        # Why a scan had to rebuild the vector file (None: it was opened as written).
        self.rebuilt: str | None = None

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest chunks of each query row: (scores [n, k] float32 inner products,
        chunk ids [n, k] int64), best first; id -1 (score -inf) where there are fewer hits."""
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise ValueError(f"queries must have {self.dim} columns (model {self.model_id}), got {q.shape}")
        if k <= 0 or len(q) == 0 or len(self) == 0:
            empty = (len(q), max(k, 0))
            return np.full(empty, -np.inf, dtype=np.float32), np.full(empty, -1, dtype=np.int64)
        if len(q) < SMALL_BATCH:
            with _one_thread():
                scores, ids = self._index.search(q, int(k))
        else:
            scores, ids = self._index.search(q, int(k))
        scores = np.asarray(scores, dtype=np.float32)
        ids = np.asarray(ids, dtype=np.int64)
        scores[ids < 0] = -np.inf
        return scores, ids

    def vectors(self, chunk_ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of ``chunk_ids`` ([len, dim] float32 unit rows, read from SQLite),
        in the order given; a zero row for a chunk without an embedding."""
        ids = [int(i) for i in chunk_ids]
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        found = self.store.embedding_blobs(ids) if ids else {}
        rows = [i for i, cid in enumerate(ids) if cid in found]
        if rows:
            out[rows] = _decode(self.store, [found[ids[i]] for i in rows], self.dim)
        return out


class ShardedVectors:
    """The vector indexes of a sharded index searched as one: each shard's top k, merged by
    score (exact search per shard gives exactly the single index's neighbours; HNSW shards each
    their own approximation), chunk ids made global as ``shard_no << id_bits | local_id``."""

    def __init__(self, parts: Sequence[tuple[int, VectorIndex]], id_bits: int):
        self.parts = list(parts)
        self.id_bits = id_bits
        first = self.parts[0][1]
        self.model_id, self.dim = first.model_id, first.dim
        self.method = "+".join(sorted({vi.method for _, vi in self.parts}))
        self.generation = 0
        self.rebuilt: str | None = (
            "; ".join(f"shard {n}: {vi.rebuilt}" for n, vi in self.parts if vi.rebuilt) or None
        )

    def __len__(self) -> int:
        return sum(len(vi) for _, vi in self.parts)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = np.atleast_2d(queries)
        scores_l, ids_l = [], []
        for n, vi in self.parts:
            s, i = vi.search(q, k)
            scores_l.append(s)
            ids_l.append(np.where(i >= 0, (np.int64(n) << self.id_bits) | np.maximum(i, 0), -1))
        scores, ids = np.concatenate(scores_l, axis=1), np.concatenate(ids_l, axis=1)
        # Best first; equal scores by id, so the order does not depend on the shard order.
        order = np.lexsort((ids, -scores.astype(np.float64)), axis=1)[:, :k] if len(q) else ids[:, :0]
        return np.take_along_axis(scores, order, axis=1), np.take_along_axis(ids, order, axis=1)

    def vectors(self, chunk_ids: Sequence[int]) -> np.ndarray:
        ids = [int(i) for i in chunk_ids]
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        by_part = {n: vi for n, vi in self.parts}
        groups: dict[int, list[int]] = {}
        for row, gid in enumerate(ids):
            groups.setdefault(gid >> self.id_bits, []).append(row)
        for n, rows in groups.items():
            vi = by_part.get(n)
            if vi is not None:
                out[rows] = vi.vectors([ids[r] & ((1 << self.id_bits) - 1) for r in rows])
        return out


@contextmanager
def _one_thread() -> Iterator[None]:
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _decode(store: IndexStore, blobs: Sequence[bytes], dim: int) -> np.ndarray:
    try:
        return decode_vectors(blobs, dim)
    except ValueError as exc:
        raise IndexUnavailable(
            f"The embeddings in the index at {store.path} are damaged ({exc}). "
            f"Re-embed them with `codeguard index embed --all --model DIR`."
        ) from None


def open_vectors(store: IndexStore, build: bool = False) -> VectorIndex | None:
    """The index's embeddings ready for search, or None when it holds none.

    The vector file is opened memory-mapped when it matches the database. Otherwise (missing,
    damaged, stale) it is rebuilt from SQLite and written when ``build`` (index time) or when
    the index is small (scan time, noted in ``rebuilt``); else IndexUnavailable."""
    from codeguard.index.store import META_EMBED_DIM, META_EMBED_MODEL, META_VECTORS_GENERATION

    path = Path(store.path) / CACHE_NAME
    with store.snapshot():
        count = store.vectors_count()
        if count == 0:
            return None
        model_id = str(store.meta_value(META_EMBED_MODEL, "unknown"))
        dim = int(store.meta_value(META_EMBED_DIM, 0))
        generation = int(store.meta_value(META_VECTORS_GENERATION, 0))
        method = method_for(count)
        header = {"generation": generation, "model": model_id, "dim": dim, "method": method, "count": count}
        index, why = _load_cache(path, header, mmap=not build)
        if index is not None:
            _tune(index, method)
            return VectorIndex(store, index, model_id, dim, method, generation)
        if not build and count > REBUILD_AT_SCAN:
            raise IndexUnavailable(
                f"The vector index {path} is {why}: rebuild it with `codeguard index embed --index "
                f"{store.path}` (or scan with --no-ml)."
            )
        blobs = store.embedding_blobs()
    # Built outside the read transaction: HNSW over many vectors takes a while.
    ids = np.fromiter(blobs.keys(), dtype=np.int64, count=len(blobs))
    index = build_index(_decode(store, list(blobs.values()), dim), ids, method)
    del blobs
    _write_cache(path, header, index)
    vi = VectorIndex(store, index, model_id, dim, method, generation)
    vi.rebuilt = None if build else why
    return vi


def add_vectors(store: IndexStore, before: int, chunk_ids: Sequence[int]) -> bool:
    """Add the vectors of ``chunk_ids`` (just embedded, nothing else changed since generation
    ``before``) to the vector file of that generation; False when it cannot (missing, another
    state, the method changes with the count): the caller rebuilds."""
    from codeguard.index.store import META_EMBED_DIM, META_EMBED_MODEL, META_VECTORS_GENERATION

    path = Path(store.path) / CACHE_NAME
    with store.snapshot():
        count = store.vectors_count()
        model_id = str(store.meta_value(META_EMBED_MODEL, "unknown"))
        dim = int(store.meta_value(META_EMBED_DIM, 0))
        generation = int(store.meta_value(META_VECTORS_GENERATION, 0))
        old_count = count - len(chunk_ids)
        method = method_for(count)
        if old_count <= 0 or method_for(old_count) != method:
            return False
        old = {"generation": before, "model": model_id, "dim": dim, "method": method, "count": old_count}
        index, _ = _load_cache(path, old, mmap=False)
        if index is None:
            return False
        blobs = store.embedding_blobs(chunk_ids)
    if len(blobs) != len(chunk_ids):
        return False
    ids = np.fromiter(blobs.keys(), dtype=np.int64, count=len(blobs))
    index.add_with_ids(_decode(store, list(blobs.values()), dim), ids)
    header = {"generation": generation, "model": model_id, "dim": dim, "method": method, "count": count}
    _write_cache(path, header, index)
    return True


def build_index(vectors: np.ndarray, ids: np.ndarray, method: str) -> Any:
    """A FAISS index (``IndexIDMap2`` over flat or HNSW inner product) holding ``vectors``
    under ``ids``."""
    import faiss

    dim = vectors.shape[1]
    inner: Any
    if method == "exact":
        inner = faiss.IndexFlatIP(dim)
    elif method == "hnsw":
        inner = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    else:
        raise ValueError(f"unknown search method {method!r}")
    index = faiss.IndexIDMap2(inner)
    index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, np.int64))
    _tune(index, method)
    return index


def _tune(index: Any, method: str) -> None:
    if method == "hnsw":
        import faiss

        hnsw: Any = faiss.downcast_index(index.index)
        hnsw.hnsw.efSearch = HNSW_EF_SEARCH


def _ends_crc(fh: Any, size: int) -> int:
    """Checksum of the first and last _CHECKED_ENDS bytes of a body of ``size`` bytes."""
    fh.seek(0)
    crc = zlib.crc32(fh.read(min(size, _CHECKED_ENDS)))
    fh.seek(max(0, size - _CHECKED_ENDS))
    return zlib.crc32(fh.read(min(size, _CHECKED_ENDS)), crc)


def read_header(path: Path) -> dict[str, Any] | None:
    """The header of a vector file (None when it has none that is intact)."""
    try:
        with open(path, "rb") as fh:
            total = fh.seek(0, os.SEEK_END)
            if total < _TRAILER:
                return None
            fh.seek(total - _TRAILER)
            tail = fh.read(_TRAILER)
            if tail[8:] != _MAGIC:
                return None
            n = int.from_bytes(tail[:8], "little")
            if n <= 0 or n > total - _TRAILER:
                return None
            fh.seek(total - _TRAILER - n)
            header = json.loads(fh.read(n))
            body = total - _TRAILER - n
            if not isinstance(header, dict) or header.get("bytes") != body:
                return None
            if header.get("crc_ends") != _ends_crc(fh, body):
                return None
            return header
    except (OSError, ValueError):
        return None


def _load_cache(path: Path, want: dict[str, Any], mmap: bool) -> tuple[Any | None, str]:
    """The FAISS index of the vector file when it is intact and built from exactly this state
    (memory-mapped when asked), else None and what is wrong with it."""
    if not path.exists():
        return None, "missing"
    header = read_header(path)
    if header is None:
        return None, "damaged"
    if {k: header.get(k) for k in want} != want:
        return None, "stale (built from another state of the index)"
    import faiss

    try:
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC if mmap else 0)
    except Exception:  # noqa: BLE001 - whatever FAISS rejects is a damaged file
        return None, "damaged"
    if index.ntotal != want["count"] or index.d != want["dim"]:
        return None, "damaged"
    return index, ""


def _write_cache(path: Path, header: dict[str, Any], index: Any) -> None:
    """Write the vector file atomically; where the directory is read-only, keep it in memory only."""
    import faiss

    body = faiss.serialize_index(index).data  # the uint8 array's buffer: written without a copy
    tmp = path.with_name(f".{CACHE_NAME}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        # A fresh name opened exclusively (mkstemp would make it private, unlike the database).
        with open(tmp, "xb+") as fh:
            fh.write(body)
            crc = _ends_crc(fh, body.nbytes)
            fh.seek(0, os.SEEK_END)
            head = json.dumps(header | {"crc_ends": crc, "bytes": body.nbytes}, sort_keys=True).encode()
            fh.write(head + len(head).to_bytes(8, "little") + _MAGIC)
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


__all__ = [
    "HNSW_THRESHOLD",
    "MIN_EMBED_TOKENS",
    "EmbeddingModelMismatch",
    "VectorIndex",
    "add_vectors",
    "chunk_text",
    "open_vectors",
]
