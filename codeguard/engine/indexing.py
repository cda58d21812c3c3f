"""Adding and removing reference sources: one transaction each, incremental by content hash."""

from __future__ import annotations

import hashlib
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

from codeguard.discover import CODEGUARD_IGNORE, DEFAULT_MAX_BYTES, Candidate, iter_tree, path_filter
from codeguard.engine.analyze import Analyzed, analyze, compress, parallel_map
from codeguard.engine.progress import NoProgress, Progress
from codeguard.errors import IndexUnavailable, SourceError, UsageError
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
from codeguard.licenses.project import directory_license, tree_license
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


# A job: (relpath, path on disk or bytes, language, sha256 already indexed or "")
Job = tuple[str, "Path | bytes", str, str]


def _index_job(job: Job) -> tuple[Any, ...]:
    relpath, where, language, known = job
    if isinstance(where, bytes):
        raw = where
    else:
        try:
            raw = where.read_bytes()
        except OSError as exc:
            return ("skip", relpath, f"unreadable: {exc.strerror or exc}")
    if known and hashlib.sha256(raw).hexdigest() == known:
        return ("same", relpath)
    res = analyze(relpath, raw, language)
    if isinstance(res, Skip):
        return ("skip", relpath, res.reason)
    return ("ok", relpath, _row(res), res.note)


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
        a.hashes.tolist() + a.raw_hashes.tolist(),
        a.positions.tolist() + a.raw_positions.tolist(),
        _file_license(a.source),
    )


def _file_license(source: bytes) -> str | None:
    from codeguard.licenses.project import header_license

    found = header_license(source)
    return found.expression if found else None


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
            jobs.append((item.relpath, item.path, item.language, known.get(item.relpath, (0, ""))[1]))
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
        elif blob.size > max_bytes:
            skips.append(Skip(blob.path, f"larger than the {max_bytes:,}-byte limit ({blob.size:,} bytes)"))
        else:
            jobs.append((blob.path, blob.read(), spec.name, known.get(blob.path, (0, ""))[1]))
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
    detect = not given and not _license_was_given(store, existing)
    kind, commit, detected, job_list, skips = discover_source(
        arg, known, max_bytes, exclude, include_skipped_dirs, detect
    )
    if detect:
        license = detected
    summary = _apply(
        store,
        name,
        kind,
        location,
        arg.revision,
        commit,
        license,
        boilerplate,
        existing,
        known,
        job_list,
        skips,
        jobs,
        progress,
        license_given=given,
        encoder=encoder,
    )
    _record_license(store, summary)
    return summary


def discover_source(
    arg: Any,
    known: dict[str, tuple[int, str]],
    max_bytes: int,
    exclude: tuple[str, ...],
    include_skipped_dirs: bool,
    detect_license: bool,
) -> tuple[str, str | None, str | None, list[Job], list[Skip]]:
    """(kind, commit, detected license, jobs, skips) of a parsed source argument (a directory
    or a git repository at a revision); the license is detected only when asked."""
    license = None
    if arg.revision is None and not arg.is_url:
        root = Path(arg.location)
        if not root.is_dir():
            raise UsageError(f"{arg.location} is not a directory; index a directory or a git repository.")
        kind, commit = "dir", head_commit(root)
        if detect_license:
            license = directory_license(root).expression
        job_list, skips = _dir_jobs(root, known, max_bytes, exclude, include_skipped_dirs)
    else:
        kind = "git"
        # Blobs are read while the (possibly cloned) repository exists; jobs hold their bytes.
        with git_tree(arg.location, arg.revision, arg.is_url) as (commit, blobs):
            items = list(blobs)
            if detect_license:
                top = {b.path: b for b in items if "/" not in b.path and not b.is_symlink}
                license = tree_license(list(top), lambda n: top[n].read()).expression
            job_list, skips = _git_jobs(iter(items), known, max_bytes, exclude)
    return kind, commit, license, job_list, skips


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
        seen: set[str] = set()
        for res in parallel_map(_index_job, job_list, jobs):
            progress.advance()
            status, relpath = res[0], res[1]
            if status == "same":
                seen.add(relpath)
                summary.unchanged += 1
                continue
            if status == "skip":
                skips.append(Skip(relpath, res[2]))
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
            _insert_file(conn, source_id, relpath, row)
        for relpath, (file_id, _) in known.items():
            if relpath not in seen:
                _delete_file(conn, file_id)
                summary.removed += 1
        conn.execute("DELETE FROM skips WHERE source_id = ?", (source_id,))
        conn.executemany("INSERT INTO skips VALUES (?,?,?)", [(source_id, s.path, s.reason) for s in skips])
        store.refresh_common_hashes(conn)
        started = time.perf_counter()
        # A boilerplate source is never reported, so its chunks are not candidates: no vectors.
        dropped = conn.execute(
            """DELETE FROM embeddings WHERE chunk_id IN (SELECT c.id FROM chunks c
               JOIN files f ON c.file_id = f.id JOIN sources s ON f.source_id = s.id
               WHERE s.id = ? AND s.boilerplate = 1)""",
            (source_id,),
        ).rowcount
        if encoder is not None:
            pending = _pending_chunks(conn, source_id)
            summary.embedded = _embed_chunks(conn, encoder, pending, progress, f"embedding {name}")
            summary.embed_model = encoder.card.model_id
        stale = bool(summary.embedded or dropped or summary.updated or summary.removed)
        if stale:
            store.bump_vectors_generation(conn)
    if stale:
        refresh_vector_cache(store)
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


def refresh_vector_cache(store: IndexStore) -> None:
    """Rebuild the nearest-neighbour cache now, so that the next scan does not pay for it."""
    from codeguard.index.vectors import open_vectors

    open_vectors(store)


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
    from codeguard.index.vectors import open_vectors

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
    vectors = open_vectors(store)
    return EmbedSummary(
        model=model,
        embedded=embedded,
        replaced_model=replaced,
        vectors=len(vectors) if vectors else 0,
        method=vectors.method if vectors else None,
        seconds=time.perf_counter() - started,
    )


def _insert_file(conn: sqlite3.Connection, source_id: int, relpath: str, row: tuple[Any, ...]) -> None:
    sha, language, n_lines, n_tokens, content, tokens, chunks, hashes, positions, file_license = row
    cur = conn.execute(
        """INSERT INTO files (source_id, path, sha256, language, n_lines, n_tokens, license,
           content, tokens) VALUES (?,?,?,?,?,?,?,?,?)""",
        (source_id, relpath, sha, language, n_lines, n_tokens, file_license, content, tokens),
    )
    file_id = cur.lastrowid
    conn.executemany(
        """INSERT INTO chunks (file_id, kind, name, start_tok, end_tok, start_line, end_line, depth)
           VALUES (?,?,?,?,?,?,?,?)""",
        [(file_id, *c) for c in chunks],
    )
    conn.executemany(
        "INSERT OR IGNORE INTO postings VALUES (?,?,?)",
        zip(hashes, [file_id] * len(hashes), positions),
    )


def _delete_file(conn: sqlite3.Connection, file_id: int) -> None:
    """Delete a file with its chunks, their embeddings, and its postings (postings found by
    re-fingerprinting it). The caller bumps the vectors generation (chunk ids may be reused)."""
    language, blob = conn.execute("SELECT language, tokens FROM files WHERE id = ?", (file_id,)).fetchone()
    tokens, _, _, raw, flags = unpack_tokens(blob)
    seed = family_seed(LANGUAGES[language].fingerprint_family)
    hashes, positions, raw_hashes, raw_positions = channel_fingerprints(
        tokens, raw, (flags & BOILERPLATE) != 0, seed
    )
    conn.executemany(
        "DELETE FROM postings WHERE hash = ? AND file_id = ? AND pos = ?",
        zip(
            hashes.tolist() + raw_hashes.tolist(),
            [file_id] * (len(hashes) + len(raw_hashes)),
            positions.tolist() + raw_positions.tolist(),
        ),
    )
    conn.execute(
        "DELETE FROM embeddings WHERE chunk_id IN (SELECT id FROM chunks WHERE file_id = ?)", (file_id,)
    )
    conn.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))
    conn.execute("DELETE FROM files WHERE id = ?", (file_id,))


def remove_source(store: IndexStore, name: str) -> int:
    """Remove a source and everything indexed from it; returns the number of files removed."""
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
        conn.execute("DELETE FROM sources WHERE id = ?", (src.id,))
        store.refresh_common_hashes(conn)
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
