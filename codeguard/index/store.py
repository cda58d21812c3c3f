"""SQLite storage of sources, files, chunks and fingerprint postings, behind a manifest.

Layout of an index directory::

    manifest.json   format version and parameters (the ``meta`` table at creation, for humans)
    index.db        SQLite in WAL mode (the source of truth, embeddings included)
    vectors.faiss   nearest-neighbour index over the embeddings, written by every change and
                    memory-mapped by scans (codeguard.index.vectors)

Nothing a scan reads is proportional to the index: fingerprint document frequencies (``df``)
and the sizes of each source are kept by every insert and delete of a file, so lookups and
statistics never count a table.

Every change (adding or removing a source) is one transaction, so a crash leaves the previous
index intact. A new index is built in a temporary directory and renamed into place.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property, wraps
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from codeguard import __version__
from codeguard.errors import IndexMissing, IndexUnavailable, UsageError
from codeguard.fingerprint.wholefile import WholeFile, pack_lines, unpack_lines
from codeguard.fingerprint.winnow import HASH_SCHEME, K, W
from codeguard.model import Chunk

# 2: token blobs carry the raw channel and boilerplate flags; postings hold raw fingerprints.
# 3: fingerprint document frequencies (``df``) and per-source counts kept at index time;
#    files record their header notice, where their license came from (package root, metadata
#    or license file), problems with it, and whether their package is a vendored copy.
#    whole_files (content and whitespace-free hashes of every file, chunked or not) and
#    line_sketch (bottom-k line hashes for files identical up to a few lines).
# 4: postings also hold every short chunk's minimum k-gram of each channel (winnow.anchored).
# 5: postings also hold comment and docstring segments (fingerprint.comments), at the token
#    each precedes.
FORMAT_VERSION = 5
DB_NAME = "index.db"
MANIFEST_NAME = "manifest.json"
# A fingerprint found in more file families (distinct contents) than this fraction of the
# index's files (at least MAX_DF_MIN, at most MAX_DF_CAP) is boilerplate: it is ignored when
# looking for candidates. The cap bounds the postings one fingerprint can bring into a scan,
# whatever the size of the index.
MAX_DF_FRACTION = 0.01
MAX_DF_MIN = 25
MAX_DF_CAP = 200

# Semantic embeddings of chunks: float16 little-endian unit vectors of the model named by the
# ``embed_model`` meta key. Indexes made before embeddings existed lack the table; it is created
# by the first change that needs it (reads treat a missing table as "no embeddings"), so the
# format version is unchanged.
EMBEDDINGS_DDL = "CREATE TABLE IF NOT EXISTS embeddings (chunk_id INTEGER PRIMARY KEY, vec BLOB NOT NULL)"

_SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sources (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, location TEXT NOT NULL,
    revision TEXT, commit_sha TEXT, license TEXT, boilerplate INTEGER NOT NULL DEFAULT 0,
    license_given INTEGER NOT NULL DEFAULT 0,
    added_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    n_files INTEGER NOT NULL DEFAULT 0, n_chunks INTEGER NOT NULL DEFAULT 0,
    n_postings INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE files (
    id INTEGER PRIMARY KEY, source_id INTEGER NOT NULL REFERENCES sources(id),
    path TEXT NOT NULL, sha256 TEXT NOT NULL, language TEXT NOT NULL, n_lines INTEGER NOT NULL,
    n_tokens INTEGER NOT NULL, license TEXT, content BLOB NOT NULL, tokens BLOB NOT NULL,
    notice TEXT, license_from TEXT, license_note TEXT, package TEXT, package_name TEXT,
    vendored INTEGER NOT NULL DEFAULT 0,
    UNIQUE (source_id, path)
);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL REFERENCES files(id), kind TEXT NOT NULL,
    name TEXT NOT NULL, start_tok INTEGER NOT NULL, end_tok INTEGER NOT NULL,
    start_line INTEGER NOT NULL, end_line INTEGER NOT NULL, depth INTEGER NOT NULL
);
CREATE INDEX chunks_file ON chunks (file_id);
CREATE INDEX files_sha ON files (sha256);
CREATE TABLE postings (
    hash INTEGER NOT NULL, file_id INTEGER NOT NULL, pos INTEGER NOT NULL,
    PRIMARY KEY (hash, file_id, pos)
) WITHOUT ROWID;
CREATE TABLE df (
    hash INTEGER PRIMARY KEY, n INTEGER NOT NULL, nb INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE skips (source_id INTEGER NOT NULL, path TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE whole_files (
    id INTEGER PRIMARY KEY, source_id INTEGER NOT NULL REFERENCES sources(id), path TEXT NOT NULL,
    file_id INTEGER, sha256 TEXT NOT NULL, norm_sha256 TEXT NOT NULL, n_lines INTEGER NOT NULL,
    chars INTEGER NOT NULL, code INTEGER NOT NULL, license TEXT, content BLOB, lines BLOB,
    notice TEXT, license_from TEXT, license_note TEXT, package TEXT, package_name TEXT,
    vendored INTEGER NOT NULL DEFAULT 0,
    UNIQUE (source_id, path)
);
CREATE INDEX whole_files_sha ON whole_files (sha256);
CREATE INDEX whole_files_norm ON whole_files (norm_sha256);
CREATE TABLE line_sketch (hash INTEGER NOT NULL, whole_id INTEGER NOT NULL, PRIMARY KEY (hash, whole_id))
    WITHOUT ROWID;
{EMBEDDINGS_DDL};
"""

# Tables every index has (``embeddings`` may be absent in an index older than embeddings).
# ``df``: per fingerprint, the file families (distinct contents) holding it (``n``) and the
# files of boilerplate sources holding it (``nb``), kept by every insert and delete of a file.
_TABLES = frozenset(
    {"meta", "sources", "files", "chunks", "postings", "df", "skips", "whole_files", "line_sketch"}
)

# Meta keys of the embeddings: the model's id and dimension, and a counter bumped by every
# transaction that changes embeddings or removes chunks (the FAISS cache records the value
# it was built at).
META_EMBED_MODEL = "embed_model"
META_EMBED_DIM = "embed_dim"
META_VECTORS_GENERATION = "vectors_generation"
META_VECTORS_COUNT = "vectors_count"


def current_manifest() -> dict[str, Any]:
    """The parameters this build of codeguard writes and requires."""
    return {
        "format": "codeguard-index",
        "format_version": FORMAT_VERSION,
        "k": K,
        "w": W,
        "hash_scheme": HASH_SCHEME,
        "normalization": "ts-leaves-v3-raw",
    }


# Keys whose values must match exactly for an index to be usable.
_CHUNK_COLUMNS = "id, file_id, kind, name, start_tok, end_tok, start_line, end_line"
_REQUIRED = ("format", "format_version", "k", "w", "hash_scheme", "normalization")


@dataclass(frozen=True)
class SourceRow:
    """A reference source as stored."""

    id: int
    name: str
    kind: str
    location: str
    revision: str | None
    commit_sha: str | None
    license: str | None
    boilerplate: bool
    added_at: str
    updated_at: str
    n_files: int = 0
    n_chunks: int = 0


@dataclass(eq=False)
class RefFile:
    """A reference file loaded for alignment; its other token arrays, chunks and text are read
    when first used (most candidate files never yield a finding: aligning reads ``tokens`` only)."""

    id: int
    source_id: int
    path: str
    language: str
    license: str | None
    tokens: np.ndarray
    store: IndexStore = field(repr=False, compare=False)
    blob: bytes = field(default=b"", repr=False, compare=False)  # all token arrays (pack_tokens)
    # Where ``license`` came from, a problem with it, the file's package (root and name) and
    # whether that package is a vendored copy (see codeguard.licenses.packages).
    license_from: str = ""
    license_note: str = ""
    package: str = ""
    package_name: str = ""
    vendored: bool = False
    # Arrays the matcher derives from the file once and reads for every candidate pair of it
    # (boilerplate mask, chunk bounds), keyed by what they are.
    derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def _rest(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        try:
            tokens, starts, ends, raw, flags = unpack_tokens(self.blob)
        except (zlib.error, ValueError) as exc:
            raise _corrupt(self.store.path, exc) from None
        if len(tokens) != len(self.tokens):
            raise _corrupt(self.store.path, ValueError(f"file {self.id}: token arrays of two lengths"))
        self.blob = b""  # unpacked now: no need to hold both
        return starts, ends, raw, flags

    @property
    def starts(self) -> np.ndarray:
        return self._rest[0]

    @property
    def ends(self) -> np.ndarray:
        return self._rest[1]

    @property
    def raw(self) -> np.ndarray:
        """Raw channel token ids (same positions as ``tokens``)."""
        return self._rest[2]

    @property
    def flags(self) -> np.ndarray:
        """Per-token flags (codeguard.parsing.chunker.BOILERPLATE)."""
        return self._rest[3]

    @property
    def raw_tokens(self) -> np.ndarray:
        return self.raw

    @cached_property
    def chunk_rows(self) -> list[tuple[str, str, int, int, int, int, int]]:
        """The file's chunks as stored (``Chunk`` fields), in token order (outer before inner)."""
        return self.store.file_chunk_rows(self.id)

    @cached_property
    def chunks(self) -> list[Chunk]:
        return [Chunk(*c) for c in self.chunk_rows]

    @cached_property
    def content(self) -> bytes:
        return self.store.file_bytes(self.id)


@dataclass(frozen=True)
class WholeRow:
    """An indexed file's whole-file identity as stored (chunked or not: ``file_id`` None)."""

    id: int
    source_id: int
    path: str
    file_id: int | None
    sha256: str
    norm_sha256: str
    n_lines: int
    license: str | None
    license_from: str | None = None
    license_note: str | None = None
    package: str | None = None
    package_name: str | None = None
    vendored: int = 0


# (source id, path) of an indexed file.
Located = tuple[int, str]

_WHOLE_COLUMNS = (
    "id, source_id, path, file_id, sha256, norm_sha256, n_lines, license, license_from, license_note, "
    "package, package_name, vendored"
)


def pack_tokens(
    tokens: np.ndarray, starts: np.ndarray, ends: np.ndarray, raw: np.ndarray, flags: np.ndarray
) -> bytes:
    """Token ids (both channels), byte spans and flags as one compressed blob (little-endian
    uint32 rows)."""
    arr = np.stack([tokens, raw, starts, ends, flags.astype(np.uint32)]).astype("<u4")
    return zlib.compress(arr.tobytes(), 1)


def unpack_tokens(blob: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of ``pack_tokens``: (tokens, starts, ends, raw, flags)."""
    arr = np.frombuffer(zlib.decompress(blob), dtype="<u4").reshape(5, -1)
    return arr[0], arr[2], arr[3], arr[1], arr[4].astype(np.uint8)


def unpack_token_ids(blob: bytes, n: int) -> np.ndarray:
    """The normalized token ids alone (the first of ``pack_tokens``' rows): only their bytes
    are decompressed."""
    head = zlib.decompressobj().decompress(blob, 4 * n)
    if len(head) != 4 * n:
        raise zlib.error(f"token blob shorter than its {n} tokens")
    return np.frombuffer(head, dtype="<u4")


_F = TypeVar("_F", bound=Callable[..., Any])


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    # SQLITE_CORRUPT (11) and SQLITE_NOTADB (26); older Pythons only have the message.
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in (11, 26)
    return "malformed" in str(exc) or "not a database" in str(exc)


def _corrupt(path: Path, exc: BaseException) -> IndexUnavailable:
    return IndexUnavailable(f"The index at {path} is corrupt ({exc}). Remove it and add your sources again.")


def _guarded(fn: _F) -> _F:
    """Report a damaged database file as an unavailable index, not as a crash."""

    @wraps(fn)
    def wrapper(self: IndexStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if _is_corrupt(exc):
                raise _corrupt(self.path, exc) from None
            raise
        except zlib.error as exc:
            raise _corrupt(self.path, exc) from None

    return wrapper  # type: ignore[return-value]


class IndexStore:
    """An open reference index."""

    def __init__(self, path: Path, conn: sqlite3.Connection, manifest: dict[str, Any]):
        self.path = path
        self.conn = conn
        self.manifest = manifest
        # Whether this process created the index (not another one racing it to the same path).
        self.created = False

    # -- opening --------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path, create: bool = False) -> IndexStore:
        """Open the index at ``path``; create it when asked and absent; refuse incompatible ones."""
        path = Path(path)
        db = path / DB_NAME
        created = False
        if not db.exists():
            # Never write into (or read from) a directory that holds something else.
            if path.exists() and (not path.is_dir() or any(path.iterdir())):
                raise IndexUnavailable(
                    f"{path} is not a codeguard index (no {DB_NAME}). Point --index at an "
                    f"existing index, or at a new or empty directory to create one."
                )
            if not create:
                raise IndexMissing(
                    f"No reference index at {path}. Create one with `codeguard index add PATH "
                    f"--index {path}`, or point --index / CODEGUARD_INDEX at an existing one."
                )
            try:
                created = cls._create(path)
            except OSError as exc:
                raise UsageError(
                    f"Cannot create an index at {path} ({exc.strerror or exc}: {exc.filename}). "
                    f"Choose a writable directory with --index."
                ) from None
        try:
            # Not bound to the opening thread: a sharded index queries its shards from a thread pool
            # (one thread per shard at a time).
            conn = sqlite3.connect(str(db), timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            rows = conn.execute("SELECT key, value FROM meta").fetchall()
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise IndexUnavailable(
                f"The index at {path} is corrupt or not a codeguard index ({exc}). "
                f"Remove it and add your sources again."
            ) from None
        try:
            manifest = {k: json.loads(v) for k, v in rows}
        except ValueError:
            raise IndexUnavailable(
                f"The index at {path} has a damaged manifest. Remove it and add your sources again."
            ) from None
        _check_compatible(path, manifest)
        missing = sorted(_TABLES - tables)
        if missing:
            conn.close()
            raise IndexUnavailable(
                f"The index at {path} is damaged: table(s) {', '.join(missing)} missing. "
                f"Remove it and add your sources again."
            )
        store = cls(path, conn, manifest)
        store.created = created
        return store

    @staticmethod
    def _create(path: Path) -> bool:
        """Create an index at ``path``; False when another process created it meanwhile."""
        parent = path.parent
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=parent))
        try:
            conn = sqlite3.connect(str(tmp / DB_NAME), isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            manifest = current_manifest() | {"created_by": f"codeguard {__version__}"}
            conn.execute("BEGIN")
            for stmt in _SCHEMA.strip().split(";"):
                if stmt.strip():
                    conn.execute(stmt)
            conn.executemany(
                "INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in manifest.items()]
            )
            conn.execute("COMMIT")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
            _write_json(tmp / MANIFEST_NAME, manifest)
            if path.exists():
                path.rmdir()  # empty directory, checked by the caller
            os.replace(tmp, path)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not (path / DB_NAME).is_file():
                raise
            return False  # another process created the index at the same moment: use that one
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return True

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic change: committed on success, rolled back on any error or interrupt."""
        try:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise IndexUnavailable(
                        f"The index at {self.path} is busy: another codeguard process is changing it. "
                        f"Try again when it has finished."
                    ) from None
                raise
            try:
                yield self.conn
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if _is_corrupt(exc):
                raise _corrupt(self.path, exc) from None
            raise

    # -- sources --------------------------------------------------------------------------
    @_guarded
    def sources(self) -> list[SourceRow]:
        rows = self.conn.execute(
            """SELECT s.id, s.name, s.kind, s.location, s.revision, s.commit_sha, s.license,
                      s.boilerplate, s.added_at, s.updated_at, s.n_files, s.n_chunks
               FROM sources s ORDER BY s.name"""
        ).fetchall()
        return [SourceRow(*r[:7], bool(r[7]), *r[8:]) for r in rows]  # type: ignore[call-arg]

    def source_by_name(self, name: str) -> SourceRow | None:
        for s in self.sources():
            if s.name == name:
                return s
        return None

    def source_map(self) -> dict[int, SourceRow]:
        return {s.id: s for s in self.sources()}

    @_guarded
    def file_hashes(self, source_id: int) -> dict[str, tuple[int, str]]:
        """path -> (file id, sha256) of a source's files."""
        rows = self.conn.execute(
            "SELECT path, id, sha256 FROM files WHERE source_id = ?", (source_id,)
        ).fetchall()
        return {p: (i, h) for p, i, h in rows}

    @_guarded
    def locate(self, wanted: Iterable[tuple[int, str]]) -> tuple[dict[Located, int], dict[Located, int]]:
        """The file ids and whole-file ids of the given (source id, path) pairs that the index
        holds (a file not chunked has only a whole-file id)."""
        files: dict[Located, int] = {}
        wholes: dict[Located, int] = {}
        for sid, path in sorted(set(wanted)):
            row = self.conn.execute(
                "SELECT id FROM files WHERE source_id = ? AND path = ?", (sid, path)
            ).fetchone()
            if row is not None:
                files[(sid, path)] = int(row[0])
            row = self.conn.execute(
                "SELECT id FROM whole_files WHERE source_id = ? AND path = ?", (sid, path)
            ).fetchone()
            if row is not None:
                wholes[(sid, path)] = int(row[0])
        return files, wholes

    # -- queries --------------------------------------------------------------------------
    @_guarded
    def lookup(self, hashes: Iterable[int], batch: int = 900) -> list[tuple[int, int, int]]:
        """Postings (hash, file id, pos) of the given hashes, without ignored ones (boilerplate,
        in too many files: see ``max_df``)."""
        out: list[tuple[int, int, int]] = []
        uniq = sorted(set(hashes))
        max_df = self.max_df()
        for i in range(0, len(uniq), batch):
            part = uniq[i : i + batch]
            marks = ",".join("?" * len(part))
            out.extend(
                self.conn.execute(
                    f"""SELECT p.hash, p.file_id, p.pos FROM df d JOIN postings p ON p.hash = d.hash
                        WHERE d.hash IN ({marks}) AND d.n <= ? AND d.nb = 0""",
                    [*part, max_df],
                ).fetchall()
            )
        return out

    @_guarded
    def max_df(self) -> int:
        """The most file families a fingerprint may be in and still be followed."""
        n_files = self.conn.execute("SELECT COALESCE(SUM(n_files), 0) FROM sources").fetchone()[0]
        return max(MAX_DF_MIN, min(MAX_DF_CAP, int(n_files * MAX_DF_FRACTION)))

    @_guarded
    def families(self, file_ids: Iterable[int], batch: int = 900) -> dict[int, str]:
        """file id -> its family (the content hash: identical copies of a file in forks or
        vendored trees are one family, so they count once as evidence)."""
        uniq = sorted(set(file_ids))
        out: dict[int, str] = {}
        for lo in range(0, len(uniq), batch):
            part = uniq[lo : lo + batch]
            marks = ",".join("?" * len(part))
            out.update(self.conn.execute(f"SELECT id, sha256 FROM files WHERE id IN ({marks})", part))
        return out

    @_guarded
    def load_file(self, file_id: int) -> RefFile:
        row = self.conn.execute(
            """SELECT id, source_id, path, language, license, tokens, license_from, license_note,
                      package, package_name, vendored, n_tokens FROM files WHERE id = ?""",
            (file_id,),
        ).fetchone()
        if row is None:
            raise IndexUnavailable(f"The index at {self.path} lost file {file_id}; rebuild it.")
        return RefFile(
            id=row[0],
            source_id=row[1],
            path=row[2],
            language=row[3],
            license=row[4],
            tokens=unpack_token_ids(row[5], int(row[11])),
            store=self,
            blob=row[5],
            license_from=row[6] or "",
            license_note=row[7] or "",
            package=row[8] or "",
            package_name=row[9] or "",
            vendored=bool(row[10]),
        )

    @_guarded
    def file_chunks(self, file_id: int) -> list[Chunk]:
        """The chunks of a reference file, in token order (outer before inner)."""
        return [Chunk(*c) for c in self.file_chunk_rows(file_id)]

    @_guarded
    def file_chunk_rows(self, file_id: int) -> list[tuple[str, str, int, int, int, int, int]]:
        """``file_chunks`` as rows of ``Chunk``'s fields."""
        return self.conn.execute(
            """SELECT kind, name, start_tok, end_tok, start_line, end_line, depth
               FROM chunks WHERE file_id = ? ORDER BY start_tok, end_tok DESC""",
            (file_id,),
        ).fetchall()

    @_guarded
    def file_bytes(self, file_id: int) -> bytes:
        """The stored text of a reference file."""
        row = self.conn.execute("SELECT content FROM files WHERE id = ?", (file_id,)).fetchone()
        if row is None:
            raise IndexUnavailable(f"The index at {self.path} lost file {file_id}; rebuild it.")
        return zlib.decompress(row[0])

    @_guarded
    def file_content(self, source: str, path: str) -> bytes | None:
        """The stored content of a reference file (chunked or only hashed), or None when the
        index does not hold it."""
        row = self.conn.execute(
            "SELECT f.content FROM files f JOIN sources s ON f.source_id = s.id "
            "WHERE s.name = ? AND f.path = ?",
            (source, path),
        ).fetchone()
        if row is None:
            row = self.conn.execute(
                "SELECT w.content FROM whole_files w JOIN sources s ON w.source_id = s.id "
                "WHERE s.name = ? AND w.path = ? AND w.content IS NOT NULL",
                (source, path),
            ).fetchone()
        return zlib.decompress(row[0]) if row else None

    @_guarded
    def stats(self, common: bool = False) -> dict[str, int]:
        """Sizes of the index, from the counts kept per source (no table is counted); with
        ``common``, also the number of ignored fingerprints (a pass over ``df``: listings only)."""
        row = self.conn.execute(
            "SELECT COUNT(*), SUM(n_files), SUM(n_chunks), SUM(n_postings) FROM sources"
        ).fetchone()
        out = {k: int(v or 0) for k, v in zip(("sources", "files", "chunks", "fingerprints"), row)}
        if common:
            out["common_fingerprints"] = self.conn.execute(
                "SELECT COUNT(*) FROM df WHERE n > ? OR nb > 0", (self.max_df(),)
            ).fetchone()[0]
        return out

    # -- whole files ----------------------------------------------------------------------
    @staticmethod
    def put_whole_file(
        conn: sqlite3.Connection,
        source_id: int,
        path: str,
        file_id: int | None,
        whole: WholeFile,
        notice: str | None,
        content: bytes | None,
    ) -> None:
        """Record (or replace) a file's whole-file identity, with its line sketch; ``content``
        (compressed) for files that are not chunked (a chunked file's content is in ``files``).
        ``notice`` is the file's header notice as stored (JSON); its license is attributed with
        the chunked files' (``engine.indexing._attribute``)."""
        IndexStore.delete_whole_files(conn, source_id, [path])
        sketch = whole.sketch()
        cur = conn.execute(
            """INSERT INTO whole_files (source_id, path, file_id, sha256, norm_sha256, n_lines,
               chars, code, notice, content, lines) VALUES (?,?,?,?,?,?,?,?,?,?,?)""",
            (
                source_id,
                path,
                file_id,
                whole.sha256,
                whole.norm_sha256,
                whole.n_lines,
                whole.chars,
                int(whole.code),
                notice,
                content,
                zlib.compress(pack_lines(whole.line_hashes, whole.line_numbers), 1) if len(sketch) else None,
            ),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO line_sketch VALUES (?, ?)", [(int(h), cur.lastrowid) for h in sketch]
        )

    @staticmethod
    def delete_whole_files(
        conn: sqlite3.Connection, source_id: int, paths: Iterable[str] | None = None
    ) -> None:
        """Forget the whole-file identities of a source's files (all of them when ``paths`` is None)."""
        if paths is None:
            ids = [r[0] for r in conn.execute("SELECT id FROM whole_files WHERE source_id = ?", (source_id,))]
        else:
            ids = []
            for p in paths:
                row = conn.execute(
                    "SELECT id FROM whole_files WHERE source_id = ? AND path = ?", (source_id, p)
                ).fetchone()
                if row:
                    ids.append(row[0])
        conn.executemany("DELETE FROM line_sketch WHERE whole_id = ?", [(i,) for i in ids])
        conn.executemany("DELETE FROM whole_files WHERE id = ?", [(i,) for i in ids])

    @_guarded
    def whole_paths(self, source_id: int) -> set[str]:
        """Paths of a source's files that have a whole-file identity."""
        rows = self.conn.execute("SELECT path FROM whole_files WHERE source_id = ?", (source_id,))
        return {r[0] for r in rows}

    @_guarded
    def whole_matches(self, hashes: Iterable[str], batch: int = 450) -> list[WholeRow]:
        """Every indexed file whose content hash or whitespace-free hash is one of ``hashes``."""
        uniq = sorted(set(hashes))
        out: dict[int, WholeRow] = {}
        for lo in range(0, len(uniq), batch):
            part = uniq[lo : lo + batch]
            marks = ",".join("?" * len(part))
            for row in self.conn.execute(
                f"SELECT {_WHOLE_COLUMNS} FROM whole_files "
                f"WHERE sha256 IN ({marks}) OR norm_sha256 IN ({marks})",
                part + part,
            ):
                out[int(row[0])] = WholeRow(*row)
        return [out[i] for i in sorted(out)]

    @_guarded
    def sketch_candidates(self, sketch: Iterable[int], min_shared: int) -> dict[int, int]:
        """whole-file id -> how many of ``sketch``'s line hashes its sketch holds (at least
        ``min_shared``)."""
        part = sorted({int(h) for h in sketch})
        if not part:
            return {}
        marks = ",".join("?" * len(part))
        rows = self.conn.execute(
            f"""SELECT whole_id, COUNT(*) FROM line_sketch WHERE hash IN ({marks})
                GROUP BY whole_id HAVING COUNT(*) >= ?""",
            [*part, min_shared],
        )
        return {int(i): int(n) for i, n in rows}

    @_guarded
    def whole_rows(self, ids: Iterable[int]) -> list[WholeRow]:
        """The whole-file rows of the given ids, in id order."""
        part = sorted(set(ids))
        if not part:
            return []
        marks = ",".join("?" * len(part))
        rows = self.conn.execute(f"SELECT {_WHOLE_COLUMNS} FROM whole_files WHERE id IN ({marks})", part)
        return sorted((WholeRow(*r) for r in rows), key=lambda w: w.id)

    @_guarded
    def whole_lines(self, whole_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(line hashes, line numbers) of an indexed file that has a line sketch."""
        row = self.conn.execute("SELECT lines FROM whole_files WHERE id = ?", (whole_id,)).fetchone()
        if row is None or row[0] is None:
            raise IndexUnavailable(f"The index at {self.path} lost the lines of file {whole_id}; rebuild it.")
        return unpack_lines(zlib.decompress(row[0]))

    # -- embeddings -----------------------------------------------------------------------
    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """Reads that see one consistent state of the index (inside a change: that change's)."""
        if self.conn.in_transaction:
            yield self.conn
            return
        self.conn.execute("BEGIN")
        try:
            yield self.conn
        except BaseException:
            if self.conn.in_transaction:
                try:
                    self.conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # the error being raised says more (a damaged file, usually)
            raise
        if self.conn.in_transaction:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                if _is_corrupt(exc):
                    raise _corrupt(self.path, exc) from None
                raise

    @_guarded
    def has_embeddings_table(self) -> bool:
        """False for indexes made before embeddings existed (until a change creates the table)."""
        row = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'embeddings'"
        ).fetchone()
        return row is not None

    @staticmethod
    def ensure_embeddings_table(conn: sqlite3.Connection) -> None:
        """Create the embeddings table of an older index; call inside a change (DDL is transactional)."""
        conn.execute(EMBEDDINGS_DDL)

    @_guarded
    def meta_value(self, key: str, default: Any = None) -> Any:
        """A meta value as stored now (``manifest`` is what it was when the index was opened)."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    @staticmethod
    def set_meta(conn: sqlite3.Connection, key: str, value: Any) -> None:
        conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def bump_vectors_generation(self, conn: sqlite3.Connection) -> int:
        """Mark the vector file stale (inside the change that alters embeddings or chunks) and
        record how many vectors the index holds now (a scan reads the count, never counts)."""
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (META_VECTORS_GENERATION,)).fetchone()
        generation = (json.loads(row[0]) if row else 0) + 1
        self.set_meta(conn, META_VECTORS_GENERATION, generation)
        self.set_meta(conn, META_VECTORS_COUNT, self.n_vectors())
        return int(generation)

    @_guarded
    def vectors_count(self) -> int:
        """How many chunks have an embedding, as recorded by the last change (counted where no
        change recorded it)."""
        kept = self.meta_value(META_VECTORS_COUNT)
        return self.n_vectors() if kept is None else int(kept)

    @_guarded
    def n_vectors(self) -> int:
        """How many chunks have an embedding."""
        if not self.has_embeddings_table():
            return 0
        return int(self.conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])

    @_guarded
    def embedding_info(self) -> dict[str, Any]:
        """The model, dimension, number of vectors and generation of the index's embeddings
        (model and dim None when it holds none)."""
        with self.snapshot():
            n = self.n_vectors()
            return {
                "model": self.meta_value(META_EMBED_MODEL) if n else None,
                "dim": self.meta_value(META_EMBED_DIM) if n else None,
                "vectors": n,
                "generation": int(self.meta_value(META_VECTORS_GENERATION, 0)),
            }

    @_guarded
    def common_among(self, hashes: Iterable[int], batch: int = 900) -> set[int]:
        """Those of ``hashes`` the index ignores (boilerplate sources, fingerprints in too many files)."""
        uniq = sorted(set(hashes))
        out: set[int] = set()
        for lo in range(0, len(uniq), batch):
            part = uniq[lo : lo + batch]
            marks = ",".join("?" * len(part))
            rows = self.conn.execute(
                f"SELECT hash FROM df WHERE hash IN ({marks}) AND (n > ? OR nb > 0)", [*part, self.max_df()]
            )
            out.update(int(r[0]) for r in rows)
        return out

    @_guarded
    def chunk_rows(self, chunk_ids: Iterable[int], batch: int = 900) -> dict[int, tuple[Any, ...]]:
        """id -> (id, file_id, kind, name, start_tok, end_tok, start_line, end_line) of chunks."""
        out: dict[int, tuple[Any, ...]] = {}
        uniq = sorted(set(chunk_ids))
        for lo in range(0, len(uniq), batch):
            part = uniq[lo : lo + batch]
            marks = ",".join("?" * len(part))
            for row in self.conn.execute(f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE id IN ({marks})", part):
                out[int(row[0])] = tuple(row)
        return out

    @_guarded
    def embedded_chunk_at(
        self, file_id: int, start_tok: int, end_tok: int
    ) -> tuple[int, tuple[Any, ...]] | None:
        """(id, row as in :meth:`chunk_rows`) of the embedded chunk with exactly this span, if any."""
        if not self.has_embeddings_table():
            return None
        cols = ", ".join(f"c.{c.strip()}" for c in _CHUNK_COLUMNS.split(","))
        row = self.conn.execute(
            f"SELECT {cols} FROM chunks c JOIN embeddings e ON e.chunk_id = c.id "
            "WHERE c.file_id = ? AND c.start_tok = ? AND c.end_tok = ?",
            (file_id, start_tok, end_tok),
        ).fetchone()
        return (int(row[0]), tuple(row)) if row else None

    @_guarded
    def embedding_blobs(self, chunk_ids: Iterable[int] | None = None, batch: int = 900) -> dict[int, bytes]:
        """chunk id -> stored vector of the given chunks that have one (all when None)."""
        if not self.has_embeddings_table():
            return {}
        if chunk_ids is None:
            rows = self.conn.execute("SELECT chunk_id, vec FROM embeddings ORDER BY chunk_id").fetchall()
            return {int(i): v for i, v in rows}
        out: dict[int, bytes] = {}
        uniq = sorted(set(chunk_ids))
        for lo in range(0, len(uniq), batch):
            part = uniq[lo : lo + batch]
            marks = ",".join("?" * len(part))
            out.update(
                self.conn.execute(f"SELECT chunk_id, vec FROM embeddings WHERE chunk_id IN ({marks})", part)
            )
        return out

    @_guarded
    def vectors_per_source(self) -> dict[int, int]:
        """source id -> number of its chunks with an embedding."""
        if not self.has_embeddings_table():
            return {}
        rows = self.conn.execute(
            """SELECT f.source_id, COUNT(*) FROM embeddings e JOIN chunks c ON e.chunk_id = c.id
               JOIN files f ON c.file_id = f.id GROUP BY f.source_id"""
        ).fetchall()
        return {int(s): int(n) for s, n in rows}

    # -- maintenance ----------------------------------------------------------------------
    @staticmethod
    def count_file(
        conn: sqlite3.Connection,
        file_id: int,
        hashes: Iterable[int],
        boilerplate: bool,
        sign: int,
        family: bool | None = None,
    ) -> None:
        """Count a file's distinct fingerprints into (``sign`` 1) or out of (-1) ``df``; call
        inside the change that inserts it (after) or deletes it (before). Its family counts
        unless another file has the same content (``family`` None: look it up)."""
        if family is None:
            sha = conn.execute("SELECT sha256 FROM files WHERE id = ?", (file_id,)).fetchone()[0]
            twin = conn.execute("SELECT 1 FROM files WHERE sha256 = ? AND id != ? LIMIT 1", (sha, file_id))
            family = twin.fetchone() is None
        dn, db = sign * int(family), sign * int(boilerplate)
        if not (dn or db):
            return
        uniq = sorted(set(hashes))
        if sign > 0:
            conn.executemany(
                "INSERT INTO df VALUES (?, ?, ?) ON CONFLICT (hash) "
                "DO UPDATE SET n = n + excluded.n, nb = nb + excluded.nb",
                [(h, dn, db) for h in uniq],
            )
            return
        conn.executemany("UPDATE df SET n = n + ?, nb = nb + ? WHERE hash = ?", [(dn, db, h) for h in uniq])
        conn.executemany("DELETE FROM df WHERE hash = ? AND n <= 0 AND nb <= 0", [(h,) for h in uniq])

    @staticmethod
    def count_source(
        conn: sqlite3.Connection, source_id: int, files: int, chunks: int, postings: int
    ) -> None:
        """Add to a source's kept counts (negative numbers: files deleted)."""
        conn.execute(
            "UPDATE sources SET n_files = n_files + ?, n_chunks = n_chunks + ?, n_postings = n_postings + ? "
            "WHERE id = ?",
            (files, chunks, postings, source_id),
        )


def _check_compatible(path: Path, manifest: dict[str, Any]) -> None:
    want = current_manifest()
    if manifest.get("format") != want["format"]:
        raise IndexUnavailable(f"{path} is not a codeguard index (no manifest in its database).")
    diffs = [
        f"{k}={manifest.get(k)!r} (this codeguard: {want[k]!r})"
        for k in _REQUIRED
        if manifest.get(k) != want[k]
    ]
    if diffs:
        raise IndexUnavailable(
            f"The index at {path} was built with other parameters: {', '.join(diffs)}. "
            f"Build a new index with this version (`codeguard index add ... --index NEWDIR`)."
        )


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
