"""Nearest-neighbour search over the chunk embeddings of a reference index.

SQLite (the ``embeddings`` table, float16 unit vectors) is the source of truth. The FAISS index
is a cache in ``vectors.faiss`` next to the database: a header line naming the vectors'
generation, model, dimension, search method, count and checksum, then the serialized FAISS
index. :func:`open_vectors` loads it when it matches the database and otherwise rebuilds it from
SQLite and writes it atomically (kept in memory only where the directory is read-only). A
damaged cache is rebuilt, never an error.

Search is exact (``IndexFlatIP``) up to :data:`HNSW_THRESHOLD` vectors and HNSW above
(``bench/vector_recall.py`` measures the trade-off). FAISS is imported only here, and only when
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
_MAGIC = b"codeguard-vectors 1\n"
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


def open_vectors(store: IndexStore) -> VectorIndex | None:
    """The index's embeddings ready for search, or None when it holds none."""
    from codeguard.index.store import META_EMBED_DIM, META_EMBED_MODEL, META_VECTORS_GENERATION

    path = Path(store.path) / CACHE_NAME
    with store.snapshot():
        count = store.n_vectors()
        if count == 0:
            return None
        model_id = str(store.meta_value(META_EMBED_MODEL, "unknown"))
        dim = int(store.meta_value(META_EMBED_DIM, 0))
        generation = int(store.meta_value(META_VECTORS_GENERATION, 0))
        method = method_for(count)
        header = {"generation": generation, "model": model_id, "dim": dim, "method": method, "count": count}
        index = _load_cache(path, header)
        blobs = store.embedding_blobs() if index is None else {}
    if index is None:
        # Built outside the read transaction: HNSW over many vectors takes a while.
        ids = np.fromiter(blobs.keys(), dtype=np.int64, count=len(blobs))
        index = build_index(_decode(store, list(blobs.values()), dim), ids, method)
        del blobs
        _write_cache(path, header, index)
    _tune(index, method)
    return VectorIndex(store, index, model_id, dim, method, generation)


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


def _load_cache(path: Path, want: dict[str, Any]) -> Any | None:
    """The cached FAISS index when it is intact and built from exactly this state, else None."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data.startswith(_MAGIC):
        return None
    end = data.find(b"\n", len(_MAGIC))
    if end < 0:
        return None
    try:
        header = json.loads(data[len(_MAGIC) : end])
    except ValueError:
        return None
    if not isinstance(header, dict) or {k: header.get(k) for k in want} != want:
        return None
    body = memoryview(data)[end + 1 :]
    if header.get("crc32") != zlib.crc32(body) or header.get("bytes") != len(body):
        return None
    import faiss

    try:
        index = faiss.deserialize_index(np.frombuffer(body, dtype=np.uint8))
    except Exception:  # noqa: BLE001 - a cache: whatever FAISS rejects is rebuilt
        return None
    if index.ntotal != want["count"] or index.d != want["dim"]:
        return None
    return index


def _write_cache(path: Path, header: dict[str, Any], index: Any) -> None:
    """Write the cache atomically; where the directory is read-only, keep it in memory only."""
    import faiss

    body = faiss.serialize_index(index).data  # the uint8 array's buffer: written without a copy
    head = json.dumps(header | {"crc32": zlib.crc32(body), "bytes": body.nbytes}, sort_keys=True)
    # A fresh name opened exclusively (mkstemp would make it private, unlike the database).
    tmp = path.with_name(f".{CACHE_NAME}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as fh:
            fh.write(_MAGIC + head.encode("ascii") + b"\n")
            fh.write(body)
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
    "chunk_text",
    "open_vectors",
]
