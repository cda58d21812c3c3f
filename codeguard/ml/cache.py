"""Embeddings of scanned chunks, cached by model and content hash.

A rescan re-embeds only chunks whose text changed: the cache is one SQLite file per user
(``$CODEGUARD_EMBEDDING_CACHE`` if set, else ``embeddings.sqlite`` in ``$CODEGUARD_CACHE_DIR`` or
the platform cache directory), keyed by (model id, SHA-256 of the
chunk text), vectors stored as float16 like the reference index. The cache is an accelerator,
never a source of truth: when it cannot be opened or written (read-only home, corrupt file,
locked by another process) scanning goes on without it and says so in the scan statistics.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from codeguard.config import cache_dir

FILE_ENV = "CODEGUARD_EMBEDDING_CACHE"  # the cache file itself (tests, benchmarks)
CACHE_FILE = "embeddings.sqlite"
# Rows kept per model: the oldest are evicted beyond this (about 80 MB at 384 dimensions).
MAX_ROWS = 100_000


class EmbeddingCache:
    """Chunk text -> unit vector for one model; every failure degrades to a miss."""

    def __init__(self, model_id: str, dim: int, path: Path | None = None):
        self.model_id = model_id
        self.dim = dim
        env = os.environ.get(FILE_ENV)
        self.path = path or (Path(env) if env else cache_dir() / CACHE_FILE)
        self.error = ""
        self.hits = self.misses = 0
        self._conn: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=0.5)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS embeddings (model TEXT NOT NULL, key BLOB NOT NULL, "
                "vec BLOB NOT NULL, used INTEGER NOT NULL, PRIMARY KEY (model, key)) WITHOUT ROWID"
            )
            self._conn = conn
        except (OSError, sqlite3.Error) as exc:
            self.error = f"embedding cache {self.path} unavailable: {exc}"

    def embed(self, texts: Sequence[str], compute: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """Vectors for ``texts``: cached ones read, the others computed with ``compute`` and stored."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        keys = [hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest() for t in texts]
        found = self._lookup(sorted(set(keys)))
        todo = [i for i, k in enumerate(keys) if k not in found]
        for i, k in enumerate(keys):
            if k in found:
                out[i] = found[k]
        self.hits += len(texts) - len(todo)
        self.misses += len(todo)
        if todo:
            fresh = compute([texts[i] for i in todo])
            out[todo] = fresh
            self._store({keys[i]: fresh[n] for n, i in enumerate(todo)})
        return out

    def _lookup(self, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        if self._conn is None or not keys:
            return found
        try:
            for lo in range(0, len(keys), 500):
                part = keys[lo : lo + 500]
                marks = ",".join("?" * len(part))
                rows = self._conn.execute(
                    f"SELECT key, vec FROM embeddings WHERE model = ? AND key IN ({marks})",
                    [self.model_id, *part],
                ).fetchall()
                for key, blob in rows:
                    vec = np.frombuffer(blob, dtype="<f2")
                    if vec.shape == (self.dim,):
                        found[bytes(key)] = vec.astype(np.float32)
        except sqlite3.Error as exc:
            self._fail(exc)
        return found

    def _store(self, vectors: dict[bytes, np.ndarray]) -> None:
        if self._conn is None:
            return
        try:
            with self._conn:
                (tick,) = self._conn.execute("SELECT COALESCE(MAX(used), 0) + 1 FROM embeddings").fetchone()
                self._conn.executemany(
                    "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?)",
                    [(self.model_id, k, v.astype("<f2").tobytes(), tick) for k, v in vectors.items()],
                )
                (n,) = self._conn.execute(
                    "SELECT COUNT(*) FROM embeddings WHERE model = ?", (self.model_id,)
                ).fetchone()
                if n > MAX_ROWS:
                    self._conn.execute(
                        "DELETE FROM embeddings WHERE model = ? AND key IN (SELECT key FROM embeddings "
                        "WHERE model = ? ORDER BY used LIMIT ?)",
                        (self.model_id, self.model_id, n - MAX_ROWS),
                    )
        except sqlite3.Error as exc:
            self._fail(exc)

    def _fail(self, exc: sqlite3.Error) -> None:
        self.error = f"embedding cache {self.path} unavailable: {exc}"
        if self._conn is not None:
            self._conn.close()
        self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
