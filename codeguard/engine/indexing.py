"""Adding and removing reference sources: one transaction each, incremental by content hash."""

from __future__ import annotations

import hashlib
import posixpath
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from codeguard.discover import CODEGUARD_IGNORE, DEFAULT_MAX_BYTES, Candidate, iter_tree, path_filter
from codeguard.engine.analyze import Analyzed, analyze, compress, parallel_map
from codeguard.engine.progress import NoProgress, Progress
from codeguard.errors import SourceError, UsageError
from codeguard.fingerprint.winnow import family_seed, fingerprint
from codeguard.gitio import git_tree, head_commit, parse_source_arg
from codeguard.index.store import IndexStore, pack_tokens, unpack_tokens
from codeguard.licenses.project import directory_license, tree_license
from codeguard.model import Skip
from codeguard.parsing.languages import LANGUAGES, language_for_path


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
        }


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
        pack_tokens(p.tokens, p.starts, p.ends),
        chunks,
        a.hashes.tolist(),
        a.positions.tolist(),
        _file_license(a.source),
    )


def _file_license(source: bytes) -> str | None:
    from codeguard.licenses.project import header_license

    found = header_license(source)
    return found.expression if found else None


def _dir_jobs(
    root: Path, known: dict[str, tuple[int, str]], max_bytes: int, exclude: tuple[str, ...]
) -> tuple[list[Job], list[Skip]]:
    jobs: list[Job] = []
    skips: list[Skip] = []
    for item in iter_tree(root, max_bytes, exclude):
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
) -> AddSummary:
    """Add (or refresh) a directory or git repository as a reference source, atomically."""
    progress = progress or NoProgress()
    arg = parse_source_arg(source)
    given = license is not None
    if license is not None:
        license = checked_license(license, "--license")
    name = name or default_name(arg.location, arg.is_url)
    existing = store.source_by_name(name)
    known = store.file_hashes(existing.id) if existing else {}
    location = arg.location if arg.is_url else str(Path(arg.location).resolve())
    if arg.revision is None and not arg.is_url:
        root = Path(arg.location)
        if not root.is_dir():
            raise UsageError(f"{source} is not a directory; index a directory or a git repository.")
        kind, commit = "dir", head_commit(root)
        if not given and not _license_was_given(store, existing):
            license = directory_license(root).expression
        job_list, skips = _dir_jobs(root, known, max_bytes, exclude)
    else:
        kind = "git"
        # Blobs are read while the (possibly cloned) repository exists; jobs hold their bytes.
        with git_tree(arg.location, arg.revision, arg.is_url) as (commit, blobs):
            items = list(blobs)
            if not given and not _license_was_given(store, existing):
                top = {b.path: b for b in items if "/" not in b.path and not b.is_symlink}
                license = tree_license(list(top), lambda n: top[n].read()).expression
            job_list, skips = _git_jobs(iter(items), known, max_bytes, exclude)
    return _apply(
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
    )


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
) -> AddSummary:
    summary = AddSummary(name=name, commit=commit)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    progress.start(len(job_list), f"indexing {name}")
    with store.transaction() as conn:
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
    summary.skipped = sorted(skips, key=lambda s: s.path)
    summary.notes.sort()
    return summary


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
    """Delete a file with its chunks and postings (postings found by re-fingerprinting it)."""
    language, blob = conn.execute("SELECT language, tokens FROM files WHERE id = ?", (file_id,)).fetchone()
    tokens, _, _ = unpack_tokens(blob)
    hashes, positions = fingerprint(tokens, family_seed(LANGUAGES[language].fingerprint_family))
    conn.executemany(
        "DELETE FROM postings WHERE hash = ? AND file_id = ? AND pos = ?",
        zip(hashes.tolist(), [file_id] * len(hashes), positions.tolist()),
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
        ids = [r[0] for r in conn.execute("SELECT id FROM files WHERE source_id = ?", (src.id,))]
        for file_id in ids:
            _delete_file(conn, file_id)
        conn.execute("DELETE FROM skips WHERE source_id = ?", (src.id,))
        conn.execute("DELETE FROM sources WHERE id = ?", (src.id,))
        store.refresh_common_hashes(conn)
    return len(ids)


__all__ = ["AddSummary", "NoProgress", "Progress", "SourceError", "add_source", "remove_source", "np"]
