"""Adding and removing reference sources: one transaction each, incremental by content hash."""

from __future__ import annotations

import hashlib
import json
import posixpath
import sqlite3
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codeguard.discover import (
    ALWAYS_SKIPPED_DIRS,
    CODEGUARD_IGNORE,
    DEFAULT_MAX_BYTES,
    DEFAULT_SKIPPED_DIRS,
    HASH_ONLY_MAX_BYTES,
    Candidate,
    iter_tree,
    oversize_reason,
    path_filter,
)
from codeguard.engine.analyze import Analyzed, analyze_file, cap_repeats, compress, parallel_map
from codeguard.engine.progress import NoProgress, Progress
from codeguard.errors import IndexUnavailable, SourceError, UsageError
from codeguard.fingerprint.comments import segments
from codeguard.fingerprint.winnow import channel_fingerprints, family_seed
from codeguard.gitio import git_tree, head_commit, parse_source_arg
from codeguard.index.store import (
    META_EMBED_DIM,
    META_EMBED_MODEL,
    IndexStore,
    pack_tokens,
    unpack_tokens,
)
from codeguard.index.vectors import MIN_EMBED_TOKENS, ChunkTexts, EmbeddingModelMismatch, encode_vectors
from codeguard.licenses.packages import (
    Packages,
    attribute,
    directory_reader,
    find_packages,
    is_package_file,
    package_paths,
    vendored_at,
)
from codeguard.model import Skip
from codeguard.parsing.chunker import BOILERPLATE
from codeguard.parsing.languages import LANGUAGES, language_for_path

if TYPE_CHECKING:
    from codeguard.ml.encoder import Encoder

# Chunks embedded per call of the encoder (it sorts each call's texts by length to pad little).
EMBED_BATCH = 256


@dataclass
class AddSummary:
    """What ``index add`` did."""

    name: str
    commit: str | None
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0
    # Files not chunked (generated, minified, without code) whose whole-file identity is recorded.
    hashed_only: int = 0
    skipped: list[Skip] = field(default_factory=list)
    # Files indexed with a remark (transcoded from another encoding, syntax errors).
    notes: list[tuple[str, str]] = field(default_factory=list)
    # Chunks embedded by this add, with which model, and the seconds spent embedding them and
    # refreshing the vector search cache.
    embedded: int = 0
    embed_model: str | None = None
    embed_seconds: float = 0.0
    # The source's license as stored (what scans use for files without their own), whether it
    # was given with --license, the keys of it the default policy cannot judge, and how many
    # files of the source have no license of their own (in a header).
    license: str | None = None
    license_given: bool = False
    unknown_licenses: list[str] = field(default_factory=list)
    files_without_license: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "commit": self.commit,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "chunks": self.chunks,
            "hashed_only": self.hashed_only,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "notes": [{"path": p, "note": n} for p, n in self.notes],
            "embedded": self.embedded,
            "embed_model": self.embed_model,
            "embed_seconds": round(self.embed_seconds, 3),
            "license": self.license,
            "license_given": self.license_given,
            "unknown_licenses": self.unknown_licenses,
            "files_without_license": self.files_without_license,
        }

    @property
    def license_unknown(self) -> bool:
        """Copies from files of this source will be reported as of unknown license."""
        return not self.license_given and bool(self.unknown_licenses) and self.files_without_license > 0


# A job: (relpath, path on disk or bytes, language, sha256 already indexed or "", and why it is
# only hashed, not chunked: over the size limit; "" for the others)
Job = tuple[str, "Path | bytes", str, str, str]


def _index_job(job: Job) -> tuple[Any, ...]:
    relpath, where, language, known, hash_only = job
    if isinstance(where, bytes):
        raw = where
    else:
        try:
            raw = where.read_bytes()
        except OSError as exc:
            return ("skip", relpath, f"unreadable: {exc.strerror or exc}", None)
    if known and hashlib.sha256(raw).hexdigest() == known:
        return ("same", relpath)
    res, whole = analyze_file(relpath, raw, language, hash_only)
    if isinstance(res, Skip):
        # Not chunked, yet its whole-file identity is recorded (with its license, and its text
        # unless it is over the size limit).
        text = None if hash_only else compress(raw)
        hashed = None if whole is None else (whole, _file_notice(raw), text)
        return ("skip", relpath, res.reason, hashed)
    return ("ok", relpath, _row(res), res.note, whole)


def _row(a: Analyzed) -> tuple[Any, ...]:
    p = a.parsed
    chunks = [(c.kind, c.name, c.start_tok, c.end_tok, c.start_line, c.end_line, c.depth) for c in p.chunks]
    return (
        a.sha256,
        a.language,
        p.n_lines,
        len(p.tokens),
        compress(a.source),
        pack_tokens(p.tokens, p.starts, p.ends, p.raw_tokens, p.flags_or_zero),
        chunks,
        a.hashes.tolist() + a.raw_hashes.tolist() + a.comments.hashes.tolist(),
        a.positions.tolist() + a.raw_positions.tolist() + a.comments.before.tolist(),
        _file_notice(a.source),
    )


def _file_notice(source: bytes) -> str | None:
    """The license notice of a file's header as stored (JSON), resolved against the file's
    package once all files are in (``_attribute``)."""
    from codeguard.licenses.project import header_license

    found = header_license(source)
    return json.dumps(found.to_json(), sort_keys=True) if found else None


def _dir_jobs(
    root: Path,
    known: dict[str, tuple[int, str]],
    max_bytes: int,
    exclude: tuple[str, ...],
    include_skipped_dirs: bool = False,
) -> tuple[list[Job], list[Skip]]:
    jobs: list[Job] = []
    skips: list[Skip] = []
    for item in iter_tree(root, max_bytes, exclude, include_skipped_dirs=include_skipped_dirs):
        if isinstance(item, Skip):
            skips.append(item)
        else:
            assert isinstance(item, Candidate)
            known_sha = known.get(item.relpath, (0, ""))[1]
            jobs.append((item.relpath, item.path, item.language, known_sha, item.hash_only))
    return jobs, skips


def _git_jobs(
    blobs: Iterator[Any], known: dict[str, tuple[int, str]], max_bytes: int, exclude: tuple[str, ...]
) -> tuple[list[Job], list[Skip]]:
    """Jobs for the files of a commit, without those that --exclude or a committed
    .codeguardignore leave out (.gitignore is not applied: a committed file is part of the project)."""
    jobs: list[Job] = []
    skips: list[Skip] = []
    items = list(blobs)
    ignore_files = {
        posixpath.dirname(b.path): b.read().decode("utf-8", "replace").splitlines()
        for b in items
        if posixpath.basename(b.path) == CODEGUARD_IGNORE and not b.is_symlink
    }
    left_out = path_filter(exclude, ignore_files)
    for blob in items:
        spec = language_for_path(blob.path)
        if spec is None or left_out(blob.path):
            continue
        if blob.is_symlink:
            skips.append(Skip(blob.path, "symlink in git tree (not followed)"))
        elif blob.size > max(max_bytes, HASH_ONLY_MAX_BYTES):
            skips.append(Skip(blob.path, oversize_reason(blob.size, max_bytes)))
        else:
            hash_only = oversize_reason(blob.size, max_bytes) if blob.size > max_bytes else ""
            jobs.append((blob.path, blob.read(), spec.name, known.get(blob.path, (0, ""))[1], hash_only))
    return jobs, skips


def _license_was_given(store: IndexStore, existing: Any) -> bool:
    """A re-added source keeps a license given with --license earlier; detected ones refresh."""
    if existing is None:
        return False
    row = store.conn.execute("SELECT license_given FROM sources WHERE id = ?", (existing.id,)).fetchone()
    return bool(row and row[0])


def checked_license(expression: str, what: str) -> str:
    """A user-given SPDX expression, normalized; unknown ids (other than LicenseRef-) are an error."""
    from codeguard.licenses.policy import normalize_expression, validate_expression

    problems = [p for p in validate_expression(expression) if "LicenseRef-" not in p]
    if problems:
        raise UsageError(
            f"{what} {expression!r} is not a valid SPDX expression ({'; '.join(problems)}). "
            "Use SPDX ids such as MIT, Apache-2.0, GPL-3.0-only, or LicenseRef-<name> for your own."
        )
    return normalize_expression(expression)


def default_name(location: str, is_url: bool) -> str:
    """A source name from its path or URL: the last path component without ``.git``."""
    tail = (
        location.rstrip("/").replace(":", "/").rsplit("/", 1)[-1] if is_url else Path(location).resolve().name
    )
    return tail.removesuffix(".git") or "source"


def add_source(
    store: IndexStore,
    source: str,
    name: str | None = None,
    license: str | None = None,
    boilerplate: bool | None = None,
    jobs: int = 0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    exclude: tuple[str, ...] = (),
    progress: Progress | None = None,
    encoder: Encoder | None = None,
    include_skipped_dirs: bool = False,
) -> AddSummary:
    """Add (or refresh) a directory or git repository as a reference source, atomically.

    With an ``encoder``, the source's eligible chunks that have no embedding yet (those of new
    and changed files, or all of them the first time) are embedded in the same transaction; an
    index holding embeddings of another model is refused (:class:`EmbeddingModelMismatch`)."""
    progress = progress or NoProgress()
    arg = parse_source_arg(source)
    given = license is not None
    if license is not None:
        license = checked_license(license, "--license")
    name = name or default_name(arg.location, arg.is_url)
    existing = store.source_by_name(name)
    known = store.file_hashes(existing.id) if existing else {}
    location = arg.location if arg.is_url else str(Path(arg.location).resolve())
    earlier = (
        existing.license if existing and license is None and _license_was_given(store, existing) else license
    )
    kind, commit, packages, job_list, skips = discover_source(
        arg, known, max_bytes, exclude, include_skipped_dirs, earlier
    )
    summary = _apply(
        store,
        name,
        kind,
        location,
        arg.revision,
        commit,
        packages.roots[""].license,
        boilerplate,
        existing,
        known,
        job_list,
        skips,
        jobs,
        progress,
        license_given=given,
        encoder=encoder,
        packages=packages,
    )
    _record_license(store, summary)
    return summary


def discover_source(
    arg: Any,
    known: dict[str, tuple[int, str]],
    max_bytes: int,
    exclude: tuple[str, ...],
    include_skipped_dirs: bool,
    given: str | None,
) -> tuple[str, str | None, Packages, list[Job], list[Skip]]:
    """(kind, commit, packages, jobs, skips) of a parsed source argument (a directory or a git
    repository at a revision); the tree's top package takes the license ``given`` (now or by an
    earlier add), else the one its metadata and license files declare."""
    if arg.revision is None and not arg.is_url:
        root = Path(arg.location)
        if not root.is_dir():
            raise UsageError(f"{arg.location} is not a directory; index a directory or a git repository.")
        kind, commit = "dir", head_commit(root)
        skip_dirs = ALWAYS_SKIPPED_DIRS | (set() if include_skipped_dirs else set(DEFAULT_SKIPPED_DIRS))
        packages = find_packages(package_paths(root, skip_dirs), directory_reader(root), given=given)
        job_list, skips = _dir_jobs(root, known, max_bytes, exclude, include_skipped_dirs)
    else:
        kind = "git"
        # Blobs are read while the (possibly cloned) repository exists; jobs hold their bytes.
        with git_tree(arg.location, arg.revision, arg.is_url) as (commit, blobs):
            items = list(blobs)
            meta = {b.path: b for b in items if not b.is_symlink and is_package_file(b.path)}
            packages = find_packages(list(meta), lambda n: meta[n].read(), given=given)
            job_list, skips = _git_jobs(iter(items), known, max_bytes, exclude)
    return kind, commit, packages, job_list, skips


def _attribute(conn: sqlite3.Connection, source_id: int, packages: Packages) -> None:
    """Each file's license from its package and its own notice, with where it came from, for the
    chunked files and the whole-file identities of every file (those not chunked too). A file of
    the tree's top package without a notice keeps NULL: it takes the source's license."""
    top = packages.roots[""]
    for table in ("files", "whole_files"):
        rows = conn.execute(
            f"SELECT id, path, notice FROM {table} WHERE source_id = ?", (source_id,)
        ).fetchall()
        updates = []
        for row_id, path, notice in rows:
            pkg = packages.of(path)
            att = attribute(json.loads(notice) if notice else None, pkg)
            lic = None if pkg is top and notice is None else att.license
            vendored = vendored_at(path, pkg)
            name = vendored.rsplit("/", 1)[-1] if vendored and not pkg.vendored else pkg.name
            updates.append(
                (
                    lic,
                    att.license_from,
                    att.note or None,
                    vendored or pkg.root,
                    name,
                    int(bool(vendored)),
                    row_id,
                )
            )
        conn.executemany(
            f"""UPDATE {table} SET license = ?, license_from = ?, license_note = ?, package = ?,
               package_name = ?, vendored = ? WHERE id = ?""",
            updates,
        )


def _record_license(store: IndexStore, summary: AddSummary) -> None:
    """The stored license of the added source and what the default policy makes of it."""
    from codeguard.licenses.policy import load_policy

    row = store.conn.execute(
        """SELECT s.license, s.license_given, SUM(f.id IS NOT NULL AND f.license IS NULL) FROM sources s
           LEFT JOIN files f ON f.source_id = s.id WHERE s.name = ? GROUP BY s.id""",
        (summary.name,),
    ).fetchone()
    if row is None:
        return
    summary.license, summary.license_given, summary.files_without_license = row[0], bool(row[1]), row[2] or 0
    summary.unknown_licenses = load_policy().unknown_licenses(summary.license)


def _apply(
    store: IndexStore,
    name: str,
    kind: str,
    location: str,
    revision: str | None,
    commit: str | None,
    license: str | None,
    boilerplate: bool | None,
    existing: Any,
    known: dict[str, tuple[int, str]],
    job_list: list[Job],
    skips: list[Skip],
    jobs: int,
    progress: Progress,
    license_given: bool = False,
    encoder: Encoder | None = None,
    packages: Packages | None = None,
) -> AddSummary:
    summary = AddSummary(name=name, commit=commit)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with store.transaction() as conn:
        _check_unchanged(store, name, existing, known)
        store.ensure_embeddings_table(conn)
        if encoder is not None:
            check_model(store, encoder)
        progress.start(len(job_list), f"indexing {name}")
        if existing is None:
            cur = conn.execute(
                """INSERT INTO sources (name, kind, location, revision, commit_sha, license,
                   boilerplate, added_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)""",
                (name, kind, location, revision, commit, license, int(bool(boilerplate)), now, now),
            )
            source_id = int(cur.lastrowid or 0)
        else:
            source_id = existing.id
            if boilerplate is not None and bool(boilerplate) != existing.boilerplate:
                _recount_boilerplate(conn, source_id, bool(boilerplate))
            conn.execute(
                """UPDATE sources SET kind=?, location=?, revision=?, commit_sha=?,
                   license=COALESCE(?, license), boilerplate=COALESCE(?, boilerplate),
                   updated_at=? WHERE id=?""",
                (
                    kind,
                    location,
                    revision,
                    commit,
                    license,
                    None if boilerplate is None else int(boilerplate),
                    now,
                    source_id,
                ),
            )
        if license_given:
            conn.execute("UPDATE sources SET license_given = 1 WHERE id = ?", (source_id,))
        is_boilerplate = bool(
            conn.execute("SELECT boilerplate FROM sources WHERE id = ?", (source_id,)).fetchone()[0]
        )
        seen: set[str] = set()
        stale_whole = store.whole_paths(source_id) if existing is not None else set()
        for res in parallel_map(_index_job, job_list, jobs):
            progress.advance()
            status, relpath = res[0], res[1]
            if status == "same":
                seen.add(relpath)
                stale_whole.discard(relpath)
                summary.unchanged += 1
                continue
            if status == "skip":
                skips.append(Skip(relpath, res[2]))
                if res[3] is not None:
                    whole, notice, content = res[3]
                    store.put_whole_file(conn, source_id, relpath, None, whole, notice, content)
                    stale_whole.discard(relpath)
                    summary.hashed_only += 1
                continue
            seen.add(relpath)
            row, note = res[2], res[3]
            if note:
                summary.notes.append((relpath, note))
            if relpath in known:
                _delete_file(conn, known[relpath][0])
                summary.updated += 1
            else:
                summary.added += 1
            summary.chunks += len(row[6])
            file_id = _insert_file(conn, source_id, relpath, row, is_boilerplate)
            store.put_whole_file(conn, source_id, relpath, file_id, res[4], row[9], None)
            stale_whole.discard(relpath)
        for relpath, (file_id, _) in known.items():
            if relpath not in seen:
                _delete_file(conn, file_id)
                summary.removed += 1
        store.delete_whole_files(conn, source_id, stale_whole)
        if packages is not None:
            _attribute(conn, source_id, packages)
        conn.execute("DELETE FROM skips WHERE source_id = ?", (source_id,))
        conn.executemany("INSERT INTO skips VALUES (?,?,?)", [(source_id, s.path, s.reason) for s in skips])
        started = time.perf_counter()
        # A boilerplate source is never reported, so its chunks are not candidates: no vectors.
        dropped = conn.execute(
            """DELETE FROM embeddings WHERE chunk_id IN (SELECT c.id FROM chunks c
               JOIN files f ON c.file_id = f.id JOIN sources s ON f.source_id = s.id
               WHERE s.id = ? AND s.boilerplate = 1)""",
            (source_id,),
        ).rowcount
        pending: list[tuple[int, int, int, int]] = []
        if encoder is not None:
            pending = _pending_chunks(conn, source_id)
            summary.embedded = _embed_chunks(conn, encoder, pending, progress, f"embedding {name}")
            summary.embed_model = encoder.card.model_id
        stale = bool(summary.embedded or dropped or summary.updated or summary.removed)
        if stale:
            generation = store.bump_vectors_generation(conn)
    if stale:
        only_added = not (dropped or summary.updated or summary.removed)
        refresh_vector_cache(store, generation - 1, [p[0] for p in pending] if only_added else None)
    if encoder is not None or stale:
        summary.embed_seconds = time.perf_counter() - started
    summary.skipped = sorted(skips, key=lambda s: s.path)
    summary.notes.sort()
    return summary


def _check_unchanged(store: IndexStore, name: str, existing: Any, known: dict[str, tuple[int, str]]) -> None:
    """Inside the write lock: refuse when another process added or changed the source since
    this one read it (its file list and hashes would be stale), as an index busy error."""
    now = store.source_by_name(name)
    before = None if existing is None else (existing.id, existing.updated_at)
    if (None if now is None else (now.id, now.updated_at)) != before or (
        now is not None and store.file_hashes(now.id) != known
    ):
        raise IndexUnavailable(
            f"The index at {store.path} is busy: another codeguard process changed source {name!r} "
            "while this one was reading it. Try again when it has finished."
        )


# Chunks worth embedding: big enough, and not of a boilerplate source.
_ELIGIBLE = f"""SELECT c.id, c.file_id, c.start_line, c.end_line FROM chunks c
    JOIN files f ON c.file_id = f.id JOIN sources s ON f.source_id = s.id
    WHERE c.end_tok - c.start_tok >= {MIN_EMBED_TOKENS} AND s.boilerplate = 0"""


def _pending_chunks(
    conn: sqlite3.Connection, source_id: int | None = None, missing_only: bool = True
) -> list[tuple[int, int, int, int]]:
    """(chunk id, file id, start line, end line) of eligible chunks (of one source, or all),
    without an embedding unless ``missing_only`` is False; in file order."""
    sql, args = _ELIGIBLE, []
    if source_id is not None:
        sql += " AND f.source_id = ?"
        args.append(source_id)
    if missing_only:
        sql += " AND c.id NOT IN (SELECT chunk_id FROM embeddings)"
    rows = conn.execute(sql + " ORDER BY c.file_id, c.id", args)
    return [(int(c), int(f), int(s), int(e)) for c, f, s, e in rows]


def _embed_chunks(
    conn: sqlite3.Connection,
    encoder: Encoder,
    pending: list[tuple[int, int, int, int]],
    progress: Progress,
    label: str,
) -> int:
    """Embed ``pending`` chunks (their source lines, see ``chunk_text``) and store the vectors,
    inside the caller's transaction; record the model. Returns how many were embedded."""
    if not pending:
        return 0
    progress.start(len(pending), label)
    file_id, texts_of = -1, ChunkTexts(b"")
    for lo in range(0, len(pending), EMBED_BATCH):
        part = pending[lo : lo + EMBED_BATCH]
        texts = []
        for _, fid, start, end in part:
            if fid != file_id:
                blob = conn.execute("SELECT content FROM files WHERE id = ?", (fid,)).fetchone()[0]
                file_id, texts_of = fid, ChunkTexts(zlib.decompress(blob))
            texts.append(texts_of.text(start, end))
        vectors = encoder.embed(texts)
        conn.executemany(
            "INSERT OR REPLACE INTO embeddings VALUES (?, ?)",
            zip([p[0] for p in part], encode_vectors(vectors)),
        )
        progress.advance(len(part))
    IndexStore.set_meta(conn, META_EMBED_MODEL, encoder.card.model_id)
    IndexStore.set_meta(conn, META_EMBED_DIM, encoder.dim)
    return len(pending)


def check_model(store: IndexStore, encoder: Encoder) -> None:
    """Refuse to mix embeddings of two models (or dimensions) in one index."""
    info = store.embedding_info()
    model, dim = encoder.card.model_id, encoder.dim
    if not info["vectors"] or (info["model"], info["dim"]) == (model, dim):
        return
    raise EmbeddingModelMismatch(
        f"the index at {store.path} holds {info['vectors']:,} embeddings of model {info['model']!r} "
        f"(dim {info['dim']}), but this command uses model {model!r} (dim {dim}). Pass --model with "
        f"the model the index was built with, re-embed the whole index with this model "
        f"(`codeguard index embed --model DIR --index {store.path}`), or add with --no-ml "
        f"(fingerprints only)"
    )


def refresh_vector_cache(store: IndexStore, before: int = -1, added: list[int] | None = None) -> None:
    """Bring the vector file up to date now, so that a scan only maps it: the vectors ``added``
    (and nothing else changed since generation ``before``) are added to it, else it is rebuilt."""
    from codeguard.index.vectors import add_vectors, open_vectors

    if not added or not add_vectors(store, before, added):
        open_vectors(store, build=True)


@dataclass
class EmbedSummary:
    """What ``index embed`` did."""

    model: str
    embedded: int
    replaced_model: str | None
    vectors: int
    method: str | None
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "embedded": self.embedded,
            "replaced_model": self.replaced_model,
            "vectors": self.vectors,
            "method": self.method,
            "seconds": round(self.seconds, 3),
        }


def embed_index(
    store: IndexStore, encoder: Encoder, progress: Progress | None = None, everything: bool = False
) -> EmbedSummary:
    """Embed every eligible chunk of the index with ``encoder``, in one transaction.

    Embeddings of another model are replaced; those of this model are kept (the same model
    gives the same vectors) unless ``everything``. The vector cache is rebuilt."""
    from codeguard.index.shards import ShardedStore
    from codeguard.index.vectors import open_vectors

    if isinstance(store, ShardedStore):
        return _embed_sharded(store, encoder, progress, everything)
    progress = progress or NoProgress()
    started = time.perf_counter()
    replaced: str | None = None
    with store.transaction() as conn:
        store.ensure_embeddings_table(conn)
        info = store.embedding_info()
        model = encoder.card.model_id
        same = not info["vectors"] or (info["model"], info["dim"]) == (model, encoder.dim)
        if not same:
            replaced = info["model"]
        if everything or not same:
            conn.execute("DELETE FROM embeddings")
        # Vectors of boilerplate sources (none are made; an older codeguard may have) go too.
        dropped = conn.execute(
            """DELETE FROM embeddings WHERE chunk_id IN (SELECT c.id FROM chunks c
               JOIN files f ON c.file_id = f.id JOIN sources s ON f.source_id = s.id
               WHERE s.boilerplate = 1)"""
        ).rowcount
        embedded = _embed_chunks(conn, encoder, _pending_chunks(conn), progress, "embedding")
        IndexStore.set_meta(conn, META_EMBED_MODEL, model)
        IndexStore.set_meta(conn, META_EMBED_DIM, encoder.dim)
        if embedded or replaced or everything or dropped:
            store.bump_vectors_generation(conn)
    vectors = open_vectors(store, build=True)
    return EmbedSummary(
        model=model,
        embedded=embedded,
        replaced_model=replaced,
        vectors=len(vectors) if vectors else 0,
        method=vectors.method if vectors else None,
        seconds=time.perf_counter() - started,
    )


def _embed_sharded(store: Any, encoder: Encoder, progress: Progress | None, everything: bool) -> EmbedSummary:
    """``embed_index`` of every shard of a sharded index (each a normal index, embedded in its
    own transaction), then one atomic manifest update recording each shard's new size,
    checksum, vectors and model. Until that update a scan refuses the changed shards (exit 4)."""
    from codeguard.index.shards import record_shards

    started = time.perf_counter()
    parts = [embed_index(shard, encoder, progress, everything) for shard in store.shards]
    counts = {name: p.vectors for name, p in zip(store.shard_names, parts)}
    store.close()
    record_shards(Path(store.path), counts, encoder.card.model_id)
    replaced = sorted({p.replaced_model for p in parts if p.replaced_model})
    return EmbedSummary(
        model=encoder.card.model_id,
        embedded=sum(p.embedded for p in parts),
        replaced_model=", ".join(replaced) or None,
        vectors=sum(p.vectors for p in parts),
        method="+".join(sorted({p.method for p in parts if p.method})) or None,
        seconds=time.perf_counter() - started,
    )


def _insert_file(
    conn: sqlite3.Connection, source_id: int, relpath: str, row: tuple[Any, ...], boilerplate: bool
) -> int:
    """Insert an analysed file with its chunks and postings, counted into ``df`` and its source."""
    sha, language, n_lines, n_tokens, content, tokens, chunks, hashes, positions, notice = row
    cur = conn.execute(
        """INSERT INTO files (source_id, path, sha256, language, n_lines, n_tokens, notice,
           content, tokens) VALUES (?,?,?,?,?,?,?,?,?)""",
        (source_id, relpath, sha, language, n_lines, n_tokens, notice, content, tokens),
    )
    file_id = int(cur.lastrowid or 0)
    conn.executemany(
        """INSERT INTO chunks (file_id, kind, name, start_tok, end_tok, start_line, end_line, depth)
           VALUES (?,?,?,?,?,?,?,?)""",
        [(file_id, *c) for c in chunks],
    )
    cur = conn.executemany(
        "INSERT OR IGNORE INTO postings VALUES (?,?,?)",
        zip(hashes, [file_id] * len(hashes), positions),
    )
    IndexStore.count_file(conn, file_id, hashes, boilerplate, +1)
    IndexStore.count_source(conn, source_id, 1, len(chunks), max(cur.rowcount, 0))
    return int(file_id or 0)


def _stored_fingerprints(conn: sqlite3.Connection, file_id: int) -> tuple[list[int], list[int]]:
    """The (hashes, positions) a stored file was indexed with, both channels (re-fingerprinted
    from its tokens, repeats capped as when it was analysed)."""
    language, blob, content = conn.execute(
        "SELECT language, tokens, content FROM files WHERE id = ?", (file_id,)
    ).fetchone()
    tokens, starts, ends, raw, flags = unpack_tokens(blob)
    seed = family_seed(LANGUAGES[language].fingerprint_family)
    spans = conn.execute("SELECT start_tok, end_tok FROM chunks WHERE file_id = ?", (file_id,)).fetchall()
    hashes, positions, raw_hashes, raw_positions = channel_fingerprints(
        tokens, raw, (flags & BOILERPLATE) != 0, seed, [(int(a), int(b)) for a, b in spans]
    )
    hashes, positions, _ = cap_repeats(hashes, positions)
    raw_hashes, raw_positions, _ = cap_repeats(raw_hashes, raw_positions)
    comments = segments(zlib.decompress(content), starts, ends, (flags & BOILERPLATE) != 0, seed)
    return (
        hashes.tolist() + raw_hashes.tolist() + comments.hashes.tolist(),
        positions.tolist() + raw_positions.tolist() + comments.before.tolist(),
    )


def _delete_file(conn: sqlite3.Connection, file_id: int) -> None:
    """Delete a file with its chunks, their embeddings, and its postings (postings found by
    re-fingerprinting it), counted out of ``df`` and its source. The caller bumps the vectors
    generation (chunk ids may be reused)."""
    source_id, boilerplate = conn.execute(
        "SELECT s.id, s.boilerplate FROM files f JOIN sources s ON f.source_id = s.id WHERE f.id = ?",
        (file_id,),
    ).fetchone()
    hashes, positions = _stored_fingerprints(conn, file_id)
    IndexStore.count_file(conn, file_id, hashes, bool(boilerplate), -1)
    cur = conn.executemany(
        "DELETE FROM postings WHERE hash = ? AND file_id = ? AND pos = ?",
        zip(hashes, [file_id] * len(hashes), positions),
    )
    n_postings = max(cur.rowcount, 0)
    conn.execute(
        "DELETE FROM embeddings WHERE chunk_id IN (SELECT id FROM chunks WHERE file_id = ?)", (file_id,)
    )
    n_chunks = conn.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,)).rowcount
    conn.execute("DELETE FROM files WHERE id = ?", (file_id,))
    IndexStore.count_source(conn, source_id, -1, -n_chunks, -n_postings)


def _recount_boilerplate(conn: sqlite3.Connection, source_id: int, boilerplate: bool) -> None:
    """A source turned boilerplate (or back): its files' fingerprints counted in (out of) ``nb``."""
    sign = 1 if boilerplate else -1
    for (file_id,) in conn.execute("SELECT id FROM files WHERE source_id = ?", (source_id,)).fetchall():
        hashes, _ = _stored_fingerprints(conn, file_id)
        IndexStore.count_file(conn, file_id, hashes, True, sign, family=False)


def remove_source(store: IndexStore, name: str) -> int:
    """Remove a source and everything indexed from it; returns the number of files removed."""
    from codeguard.index.shards import ShardedStore, remove_sharded_source

    if isinstance(store, ShardedStore):
        store.close()
        return remove_sharded_source(Path(store.path), name)
    src = store.source_by_name(name)
    if src is None:
        known = ", ".join(s.name for s in store.sources()) or "none"
        raise UsageError(f"No source named {name!r} in the index (sources: {known}).")
    with store.transaction() as conn:
        store.ensure_embeddings_table(conn)
        ids = [r[0] for r in conn.execute("SELECT id FROM files WHERE source_id = ?", (src.id,))]
        for file_id in ids:
            _delete_file(conn, file_id)
        conn.execute("DELETE FROM skips WHERE source_id = ?", (src.id,))
        store.delete_whole_files(conn, src.id)
        conn.execute("DELETE FROM sources WHERE id = ?", (src.id,))
        if ids:
            store.bump_vectors_generation(conn)
    if ids:
        refresh_vector_cache(store)
    return len(ids)


__all__ = [
    "AddSummary",
    "EmbedSummary",
    "NoProgress",
    "Progress",
    "SourceError",
    "add_source",
    "check_model",
    "embed_index",
    "remove_source",
    "np",
]
