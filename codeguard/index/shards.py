"""A sharded reference index: normal indexes (shards) listed in a manifest, read as one.

Layout of a sharded index directory::

    shards.json     the manifest: parameters, sources, and per shard what it holds (files,
                    chunks, vectors, first and last path) with the size and sha256 of its database
    shards/NAME/    one shard: a normal codeguard index (SQLite + FAISS, see codeguard.index.store)
    common-*.db     the fingerprints the whole index ignores (``common_hashes``), computed over
                    all shards (document frequency is global: a shard alone cannot know it);
                    named by the shard list it was computed from, so a new one never replaces
                    the one the current manifest names

A shard is listed in the manifest only once it is complete (written by
``codeguard.engine.distributed``), so nothing half-written is ever read. Reading one presents
the ``IndexStore`` read interface with global ids: shard number ``n`` (1-based, in manifest
order) and local id ``i`` give ``n << 32 | i``. Shards hold consecutive runs of a source's files
in the order one index would have inserted them, so global ids sort like the ids of the
unsharded index and every tie broken by id breaks the same way: a scan finds exactly what it
finds in one index of the same corpus.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from codeguard.errors import IndexUnavailable, UsageError
from codeguard.index.store import (
    DB_NAME,
    MAX_DF_CAP,
    MAX_DF_FRACTION,
    MAX_DF_MIN,
    IndexStore,
    Located,
    RefFile,
    SourceRow,
    WholeRow,
    _corrupt,
    _is_corrupt,
    current_manifest,
)
from codeguard.model import Chunk

SHARDS_MANIFEST = "shards.json"
SHARDS_FORMAT = "codeguard-shards"
SHARDS_FORMAT_VERSION = 1
SHARDS_DIR = "shards"
# The meta key of a shard's own database naming the shard (a shard directory swapped for
# another one is refused).
META_SHARD = "shard"
# Threads that query shards at once during a scan (SQLite releases the GIL while it reads).
FAN_OUT = 8
_ID_BITS = 32
_LOCAL = (1 << _ID_BITS) - 1


def global_id(shard_no: int, local: int) -> int:
    """The id of local row ``local`` of shard ``shard_no`` (1-based) in the sharded index."""
    return shard_no << _ID_BITS | local


def is_sharded(path: Path) -> bool:
    return (Path(path) / SHARDS_MANIFEST).is_file()


def open_index(path: Path, create: bool = False) -> IndexStore:
    """The index at ``path``: a sharded one when it has a shard manifest, else a normal one."""
    if is_sharded(path):
        return ShardedStore.open(path)
    return IndexStore.open(path, create=create)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def shard_set_digest(names: Iterable[str]) -> str:
    """Identity of an ordered list of shards (what ``common.db`` was computed from)."""
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


# -- the manifest ------------------------------------------------------------------------------
def new_manifest() -> dict[str, Any]:
    return {
        "format": SHARDS_FORMAT,
        "format_version": SHARDS_FORMAT_VERSION,
        "params": current_manifest(),
        "sources": [],
        "shards": {},
        "common": None,
    }


def read_manifest(root: Path) -> dict[str, Any]:
    """The shard manifest of ``root``, checked against this build's parameters."""
    path = Path(root) / SHARDS_MANIFEST
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexUnavailable(f"No sharded index at {root} (no {SHARDS_MANIFEST}).") from None
    except (OSError, ValueError) as exc:
        raise IndexUnavailable(
            f"The shard manifest {path} is damaged ({exc}). Remove the index and add your sources again."
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != SHARDS_FORMAT:
        raise IndexUnavailable(f"{path} is not a codeguard shard manifest.")
    if doc.get("format_version") != SHARDS_FORMAT_VERSION or doc.get("params") != current_manifest():
        raise IndexUnavailable(
            f"The sharded index at {root} was built with other parameters "
            f"(format {doc.get('format_version')}, {doc.get('params')}; this codeguard: format "
            f"{SHARDS_FORMAT_VERSION}, {current_manifest()}). Build a new one with `codeguard index add "
            f"... --ray --index NEWDIR`."
        )
    return doc


def write_manifest(root: Path, doc: dict[str, Any]) -> None:
    """Replace the manifest atomically (a reader sees the old one or the new one)."""
    path = Path(root) / SHARDS_MANIFEST
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def complete_shards(doc: dict[str, Any]) -> list[str]:
    """Names of the shards of complete sources, in id order."""
    return [name for s in doc["sources"] if s.get("complete") for name in s["shards"]]


def build_common(root: Path, doc: dict[str, Any]) -> dict[str, Any]:
    """Write a new ``common-*.db``: the fingerprints that one index of all complete shards would ignore
    (in more files than its document-frequency cap, or of a boilerplate source); returns the
    manifest's ``common`` entry."""
    root = Path(root)
    names = complete_shards(doc)
    of = shard_set_digest(names)
    final = f"common-{of[:16]}.db"
    boiler = {n for s in doc["sources"] if s.get("boilerplate") for n in s["shards"]}
    tmp = root / (final + ".tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(str(tmp), isolation_level=None)
    try:
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("CREATE TABLE common_hashes (hash INTEGER PRIMARY KEY) WITHOUT ROWID")
        # As one index's ``df``: per fingerprint, the distinct file contents (families) holding it.
        conn.execute(
            "CREATE TEMP TABLE fam (hash INTEGER NOT NULL, sha TEXT NOT NULL, PRIMARY KEY (hash, sha)) "
            "WITHOUT ROWID"
        )
        n_files = 0
        for name in names:
            conn.execute("ATTACH DATABASE ? AS s", (str(root / SHARDS_DIR / name / DB_NAME),))
            try:
                n_files += conn.execute("SELECT COUNT(*) FROM s.files").fetchone()[0]
                # A content held by files of several shards is one family, as in one index.
                conn.execute(
                    """INSERT OR IGNORE INTO fam SELECT DISTINCT p.hash, f.sha256 FROM s.postings p
                       JOIN s.files f ON f.id = p.file_id"""
                )
                if name in boiler:
                    conn.execute("INSERT OR IGNORE INTO common_hashes SELECT DISTINCT hash FROM s.postings")
            except sqlite3.DatabaseError as exc:
                raise IndexUnavailable(
                    f"Shard {name} of the index at {root} is corrupt ({exc}). Remove its directory "
                    f"{SHARDS_DIR}/{name} and run the same `codeguard index add ... --ray` again."
                ) from None
            finally:
                conn.execute("DETACH DATABASE s")
        max_df = max(MAX_DF_MIN, min(MAX_DF_CAP, int(n_files * MAX_DF_FRACTION)))
        conn.execute(
            "INSERT OR IGNORE INTO common_hashes SELECT hash FROM fam GROUP BY hash HAVING COUNT(*) > ?",
            (max_df,),
        )
        conn.execute("INSERT INTO meta VALUES ('of', ?)", (json.dumps(of),))
    finally:
        conn.close()
    os.replace(tmp, root / final)
    return {"of": of, "file": final, "sha256": file_sha256(root / final), "max_df": max_df, "files": n_files}


def remove_sharded_source(root: Path, name: str) -> int:
    """Remove source ``name`` from the sharded index at ``root``: its shards leave the manifest
    (one atomic replace, with the common-fingerprint table recomputed over the shards that
    stay), then their directories are deleted. Returns the number of files removed."""
    root = Path(root)
    doc = read_manifest(root)
    entry = next((s for s in doc["sources"] if s["name"] == name), None)
    if entry is None:
        known = ", ".join(s["name"] for s in doc["sources"]) or "none"
        raise UsageError(f"No source named {name!r} in the index (sources: {known}).")
    if not any(s.get("complete") and s is not entry for s in doc["sources"]):
        raise UsageError(
            f"{name!r} is the only source of the sharded index at {root}: delete the directory to remove it."
        )
    names = list(entry["shards"])
    n_files = sum(int(doc["shards"].get(n, {}).get("files", 0)) for n in names)
    old_common = str((doc.get("common") or {}).get("file") or "")
    doc["sources"].remove(entry)
    for n in names:
        doc["shards"].pop(n, None)
    (doc.get("pending") or {}).pop(name, None)
    doc["common"] = build_common(root, doc)
    write_manifest(root, doc)
    for n in names:
        shutil.rmtree(root / SHARDS_DIR / n, ignore_errors=True)
    if old_common and old_common != doc["common"]["file"]:
        (root / old_common).unlink(missing_ok=True)
    return n_files


def record_shards(root: Path, vectors: dict[str, int], model: str | None) -> None:
    """Record in the manifest the new size and checksum of shards changed in place (``index
    embed``), with their vector count and model."""
    root = Path(root)
    doc = read_manifest(root)
    for name, n in vectors.items():
        db = root / SHARDS_DIR / name / DB_NAME
        doc["shards"][name] |= {
            "bytes": db.stat().st_size,
            "sha256": file_sha256(db),
            "vectors": int(n),
            "model": model if n else None,
        }
    write_manifest(root, doc)


# -- reading -----------------------------------------------------------------------------------
class ShardedStore(IndexStore):
    """A sharded index read as one index (the read interface of ``IndexStore``, global ids)."""

    def __init__(self, path: Path, doc: dict[str, Any], common: sqlite3.Connection, shards: list[IndexStore]):
        super().__init__(path, common, dict(doc["params"]) | {"shards": len(shards)})
        self.doc = doc
        self.shards = shards
        self.shard_names = complete_shards(doc)
        # shard number (1-based) -> global source id (1-based, manifest order)
        self._source_of: dict[int, int] = {}
        n = 0
        for sid, s in enumerate((s for s in doc["sources"] if s.get("complete")), 1):
            for _ in s["shards"]:
                n += 1
                self._source_of[n] = sid
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(FAN_OUT, len(shards))))

    @classmethod
    def open(cls, path: Path, create: bool = False) -> ShardedStore:
        """Open a sharded index; refuse an incomplete add, a missing, foreign or damaged shard."""
        root = Path(path)
        doc = read_manifest(root)
        names = complete_shards(doc)
        if not names:
            pending = ", ".join(sorted(doc.get("pending") or {})) or "none"
            raise IndexUnavailable(
                f"The sharded index at {root} holds no complete source yet (unfinished distributed "
                f"add of: {pending}). Run the same `codeguard index add ... --ray` again to resume it "
                "(complete shards are kept)."
            )
        common = doc.get("common") or {}
        where = root / str(common.get("file", "common.db"))
        if common.get("of") != shard_set_digest(names) or not where.is_file():
            raise IndexUnavailable(
                f"The common-fingerprint table of the sharded index at {root} ({where.name}) is missing "
                "or stale. Run the last `codeguard index add ... --ray` again to rebuild it."
            )
        shards = [_open_shard(root, name, doc["shards"].get(name)) for name in names]
        try:
            conn = sqlite3.connect(str(where), isolation_level=None, check_same_thread=False)
            row = conn.execute("SELECT value FROM meta WHERE key = 'of'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise IndexUnavailable(
                f"{where} is corrupt ({exc}). Run the last `codeguard index add ... --ray` "
                "again to rebuild it."
            ) from None
        if row is None or json.loads(row[0]) != common["of"]:
            raise IndexUnavailable(f"{where} does not belong to the shards listed in the manifest.")
        return cls(root, doc, conn, shards)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for s in self.shards:
            s.close()
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        raise UsageError(
            f"The index at {self.path} is sharded: add to it with `codeguard index add PATH --ray`; "
            "it cannot be changed shard by shard."
        )
        yield self.conn  # pragma: no cover

    # -- ids ---------------------------------------------------------------------------------
    def _split(self, gid: int) -> tuple[IndexStore, int]:
        n, local = gid >> _ID_BITS, gid & _LOCAL
        if not 1 <= n <= len(self.shards):
            raise IndexUnavailable(f"The sharded index at {self.path} has no shard {n} (file {gid}).")
        return self.shards[n - 1], local

    def _by_shard(self, gids: Iterable[int]) -> dict[int, list[int]]:
        out: dict[int, list[int]] = defaultdict(list)
        for g in sorted(set(gids)):
            out[g >> _ID_BITS].append(g & _LOCAL)
        return out

    # -- sources -----------------------------------------------------------------------------
    def sources(self) -> list[SourceRow]:
        rows = []
        complete = [s for s in self.doc["sources"] if s.get("complete")]
        for sid, s in enumerate(complete, 1):
            held = [self.doc["shards"][n] for n in s["shards"]]
            rows.append(
                SourceRow(
                    id=sid,
                    name=s["name"],
                    kind=s["kind"],
                    location=s["location"],
                    revision=s.get("revision"),
                    commit_sha=s.get("commit"),
                    license=s.get("license"),
                    boilerplate=bool(s.get("boilerplate")),
                    added_at=s["added_at"],
                    updated_at=s["updated_at"],
                    n_files=sum(h["files"] for h in held),
                    n_chunks=sum(h["chunks"] for h in held),
                )
            )
        return sorted(rows, key=lambda r: r.name)

    def file_hashes(self, source_id: int) -> dict[str, tuple[int, str]]:
        return {}

    def stats(self, common: bool = False) -> dict[str, int]:
        held = [self.doc["shards"][n] for n in self.shard_names]
        n_common = int(self.conn.execute("SELECT COUNT(*) FROM common_hashes").fetchone()[0])
        return {
            "sources": len(self.sources()),
            "files": sum(h["files"] for h in held),
            "chunks": sum(h["chunks"] for h in held),
            "fingerprints": sum(h["fingerprints"] for h in held),
            "common_fingerprints": n_common,
            "shards": len(held),
        }

    def embedding_info(self) -> dict[str, Any]:
        n = sum(self.doc["shards"][s]["vectors"] for s in self.shard_names)
        model = next((self.doc["shards"][s].get("model") for s in self.shard_names if n), None)
        return {"model": model, "dim": None, "vectors": n, "generation": 0}

    def vectors_per_source(self) -> dict[int, int]:
        return {
            s.id: sum(self.doc["shards"][n]["vectors"] for n in self._source_entry(s.name)["shards"])
            for s in self.sources()
        }

    def n_vectors(self) -> int:
        return int(sum(self.doc["shards"][s]["vectors"] for s in self.shard_names))

    def open_vectors(self) -> Any:
        """The shards' embeddings searched as one (``vectors.ShardedVectors``), or None when no
        shard holds any. Shards embedded with different models are exit 4."""
        from codeguard.index.vectors import ShardedVectors, open_vectors

        parts = []
        for n, shard in enumerate(self.shards, 1):
            vi = open_vectors(shard)
            if vi is not None:
                parts.append((n, vi))
        if not parts:
            return None
        models = {(vi.model_id, vi.dim) for _, vi in parts}
        if len(models) > 1:
            raise IndexUnavailable(
                f"The shards of {self.path} were embedded with different models "
                f"({', '.join(sorted(m for m, _ in models))}): re-add the sources with one --model."
            )
        return ShardedVectors(parts, _ID_BITS)

    def chunk_rows(self, chunk_ids: Iterable[int], batch: int = 900) -> dict[int, tuple[Any, ...]]:
        out: dict[int, tuple[Any, ...]] = {}
        for n, locals_ in self._by_shard(chunk_ids).items():
            shard = self._shard(n)
            for lid, row in shard.chunk_rows(locals_, batch).items():
                gid = global_id(n, lid)
                out[gid] = (gid, global_id(n, int(row[1])), *row[2:])
        return out

    def embedded_chunk_at(
        self, file_id: int, start_tok: int, end_tok: int
    ) -> tuple[int, tuple[Any, ...]] | None:
        shard, local = self._split(file_id)
        found = shard.embedded_chunk_at(local, start_tok, end_tok)
        if found is None:
            return None
        lid, row = found
        gid = global_id(file_id >> _ID_BITS, lid)
        return gid, (gid, file_id, *row[2:])

    def embedding_blobs(self, chunk_ids: Iterable[int] | None = None, batch: int = 900) -> dict[int, bytes]:
        out: dict[int, bytes] = {}
        if chunk_ids is None:
            for n, shard in enumerate(self.shards, 1):
                out.update({global_id(n, c): v for c, v in shard.embedding_blobs(None, batch).items()})
            return out
        for n, locals_ in self._by_shard(chunk_ids).items():
            out.update(
                {global_id(n, c): v for c, v in self._shard(n).embedding_blobs(locals_, batch).items()}
            )
        return out

    def _shard(self, n: int) -> IndexStore:
        if not 1 <= n <= len(self.shards):
            raise IndexUnavailable(f"The sharded index at {self.path} has no shard {n}.")
        return self.shards[n - 1]

    def _source_entry(self, name: str) -> dict[str, Any]:
        return next(s for s in self.doc["sources"] if s["name"] == name)

    # -- queries (fanned out over the shards) ------------------------------------------------
    def lookup(self, hashes: Iterable[int], batch: int = 900) -> list[tuple[int, int, int]]:
        """Postings of the given hashes over all shards, without the globally common ones, in
        (hash, file id, position) order, as one index returns them."""
        uniq = {int(h) for h in hashes}
        wanted = sorted(uniq - self.common_among(uniq))

        def one(n: int) -> list[tuple[int, int, int]]:
            shard, base = self.shards[n - 1], n << _ID_BITS
            return [(h, base | f, p) for h, f, p in _postings(shard, wanted, batch)]

        rows = [r for part in self._pool.map(one, range(1, len(self.shards) + 1)) for r in part]
        rows.sort()
        return rows

    def common_among(self, hashes: Iterable[int], batch: int = 900) -> set[int]:
        """Those of ``hashes`` one index of all the shards would ignore (``build_common``)."""
        uniq = sorted({int(h) for h in hashes})
        out: set[int] = set()
        for lo in range(0, len(uniq), batch):
            part = uniq[lo : lo + batch]
            marks = ",".join("?" * len(part))
            rows = self.conn.execute(f"SELECT hash FROM common_hashes WHERE hash IN ({marks})", part)
            out.update(int(r[0]) for r in rows)
        return out

    def locate(self, wanted: Iterable[tuple[int, str]]) -> tuple[dict[Located, int], dict[Located, int]]:
        """``IndexStore.locate`` with global source, file and whole-file ids."""
        by_id = {s.id: s.name for s in self.sources()}
        files: dict[Located, int] = {}
        wholes: dict[Located, int] = {}
        for sid, path in sorted(set(wanted)):
            name = by_id.get(sid)
            if name is None:
                continue
            for shard_name in self._source_entry(name)["shards"]:
                n = self.shard_names.index(shard_name) + 1
                local = self.shards[n - 1].source_by_name(name)
                if local is None:
                    continue
                f, w = self.shards[n - 1].locate([(local.id, path)])
                if (local.id, path) in f:
                    files[(sid, path)] = global_id(n, f[(local.id, path)])
                if (local.id, path) in w:
                    wholes[(sid, path)] = global_id(n, w[(local.id, path)])
        return files, wholes

    # -- whole files (global ids, as for files) ----------------------------------------------
    def _whole(self, n: int, row: WholeRow) -> WholeRow:
        return replace(
            row,
            id=global_id(n, row.id),
            source_id=self._source_of[n],
            file_id=None if row.file_id is None else global_id(n, row.file_id),
        )

    def whole_matches(self, hashes: Iterable[str], batch: int = 450) -> list[WholeRow]:
        wanted = sorted(set(hashes))

        def one(n: int) -> list[WholeRow]:
            return [self._whole(n, r) for r in self.shards[n - 1].whole_matches(wanted, batch)]

        rows = [r for part in self._pool.map(one, range(1, len(self.shards) + 1)) for r in part]
        return sorted(rows, key=lambda w: w.id)

    def sketch_candidates(self, sketch: Iterable[int], min_shared: int) -> dict[int, int]:
        wanted = sorted({int(h) for h in sketch})
        out: dict[int, int] = {}
        for n, shard in enumerate(self.shards, 1):
            out.update({global_id(n, i): c for i, c in shard.sketch_candidates(wanted, min_shared).items()})
        return out

    def whole_rows(self, ids: Iterable[int]) -> list[WholeRow]:
        out: list[WholeRow] = []
        for n, locals_ in self._by_shard(ids).items():
            out += [self._whole(n, r) for r in self.shards[n - 1].whole_rows(locals_)]
        return sorted(out, key=lambda w: w.id)

    def whole_lines(self, whole_id: int) -> tuple[np.ndarray, np.ndarray]:
        shard, local = self._split(whole_id)
        return shard.whole_lines(local)

    def families(self, file_ids: Iterable[int], batch: int = 900) -> dict[int, str]:
        out: dict[int, str] = {}
        for n, locals_ in self._by_shard(file_ids).items():
            shard, base = self.shards[n - 1], n << _ID_BITS
            out.update({base | f: fam for f, fam in shard.families(locals_, batch).items()})
        return out

    def load_file(self, file_id: int) -> RefFile:
        shard, local = self._split(file_id)
        ref = shard.load_file(local)
        return replace(ref, id=file_id, source_id=self._source_of[file_id >> _ID_BITS], store=self)

    def file_chunks(self, file_id: int) -> list[Chunk]:
        shard, local = self._split(file_id)
        return shard.file_chunks(local)

    def file_chunk_rows(self, file_id: int) -> list[tuple[str, str, int, int, int, int, int]]:
        shard, local = self._split(file_id)
        return shard.file_chunk_rows(local)

    def file_bytes(self, file_id: int) -> bytes:
        shard, local = self._split(file_id)
        return shard.file_bytes(local)

    def file_content(self, source: str, path: str) -> bytes | None:
        names = self._source_entry(source)["shards"] if any(s.name == source for s in self.sources()) else []
        for name in names:
            entry = self.doc["shards"][name]
            if entry["first"] <= path <= entry["last"]:
                found = self.shards[self.shard_names.index(name)].file_content(source, path)
                if found is not None:
                    return found
        return None


def _postings(shard: IndexStore, hashes: list[int], batch: int) -> list[tuple[int, int, int]]:
    """Every posting of ``hashes`` in one shard (the common ones are filtered globally)."""
    out: list[tuple[int, int, int]] = []
    try:
        for i in range(0, len(hashes), batch):
            part = hashes[i : i + batch]
            marks = ",".join("?" * len(part))
            out.extend(
                shard.conn.execute(
                    f"SELECT hash, file_id, pos FROM postings WHERE hash IN ({marks})", part
                ).fetchall()
            )
    except sqlite3.DatabaseError as exc:
        if _is_corrupt(exc):
            raise _corrupt(shard.path, exc) from None
        raise
    return out


def _open_shard(root: Path, name: str, entry: dict[str, Any] | None) -> IndexStore:
    """One listed shard, checked: present, the size the manifest recorded, and itself."""
    where = root / SHARDS_DIR / name
    db = where / DB_NAME
    if entry is None:
        raise IndexUnavailable(f"The shard manifest of {root} lists shard {name} without its record.")
    if not db.is_file():
        raise IndexUnavailable(
            f"Shard {name} of the index at {root} is missing ({db}). Run the same `codeguard index add "
            "... --ray` again to rebuild it."
        )
    size = db.stat().st_size
    if size != entry["bytes"]:
        raise IndexUnavailable(
            f"Shard {name} of the index at {root} is damaged: {size:,} bytes, the manifest recorded "
            f"{entry['bytes']:,}. Run the same `codeguard index add ... --ray` again to rebuild it."
        )
    try:
        store = IndexStore.open(where)
        own = store.meta_value(META_SHARD)
    except IndexUnavailable as exc:
        raise IndexUnavailable(f"Shard {name} of the index at {root}: {exc}") from None
    if own != name:
        store.close()
        raise IndexUnavailable(
            f"Shard {name} of the index at {root} holds another shard ({own!r}). Run the same "
            "`codeguard index add ... --ray` again to rebuild it."
        )
    return store
