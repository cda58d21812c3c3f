"""Indexing on a Ray cluster: the one module that imports ray (an optional extra).

``index add --ray`` runs the pure stages (parse, chunk, fingerprint, and embed when a model is
on) as Ray tasks over consecutive batches of a source's files. Each task builds a normal
codeguard index (a shard) with the same code as a local add and sends its files back; the
driver writes each shard under ``shards/`` and records it in the shard manifest only once it is
complete (codeguard.index.shards). The source joins the index in one step at the end: the
global common-fingerprint table is computed over all shards, then the manifest that lists the
source is swapped in. An interrupted add (a crash, Ctrl-C, a cluster that goes away) leaves the
previous state readable and resumes: shards are named by the digest of their files, so a rerun
keeps the complete ones and builds the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from codeguard.discover import DEFAULT_MAX_BYTES
from codeguard.engine.analyze import die_with_parent
from codeguard.engine.indexing import AddSummary, Job, _apply, checked_license, default_name, discover_source
from codeguard.engine.progress import NoProgress, Progress
from codeguard.errors import CodeguardError, IndexUnavailable, UsageError
from codeguard.gitio import parse_source_arg
from codeguard.index.shards import (
    META_SHARD,
    SHARDS_DIR,
    SHARDS_MANIFEST,
    build_common,
    complete_shards,
    file_sha256,
    new_manifest,
    read_manifest,
    write_manifest,
)
from codeguard.index.store import DB_NAME, IndexStore
from codeguard.model import Skip

RAY_EXTRA = "pip install 'codeguard[ray]'"
# Files per shard: a shard is the unit of work, of resumption and of the scan fan-out.
SHARD_FILES = 200
# CPUs of the local cluster started when no address is given.
LOCAL_CPUS = 2


def import_ray() -> Any:
    """The ray module, or a usage error naming the extra that installs it."""
    try:
        import ray
    except ImportError:
        raise UsageError(f"--ray needs Ray, an optional extra of codeguard: {RAY_EXTRA}") from None
    return ray


@dataclass
class DistributedSummary:
    """What a distributed ``index add`` did: the add itself and its shards."""

    add: AddSummary
    shards: list[str] = field(default_factory=list)
    built: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return self.add.to_json() | {"shards": self.shards, "built": self.built, "kept": self.kept}


# What a shard's record keeps of the add that built it.
_SUMMARY_KEYS = ("added", "embedded", "embed_seconds", "skipped", "notes")


def _build_shard(name: str, meta: dict[str, Any], jobs: list[Job], model_dir: str | None) -> dict[str, Any]:
    """Ray task: one shard (a normal index of ``jobs``) built in a temporary directory; returns
    its files' bytes and what it holds."""
    encoder = None
    if model_dir is not None:
        from codeguard.ml.encoder import Encoder

        encoder = Encoder.load(Path(model_dir))
    with tempfile.TemporaryDirectory(prefix="codeguard-shard-") as tmp:
        where = Path(tmp) / "shard"
        store = IndexStore.open(where, create=True)
        summary = _apply(
            store,
            meta["name"],
            meta["kind"],
            meta["location"],
            meta["revision"],
            meta["commit"],
            meta["license"],
            meta["boilerplate"],
            None,
            {},
            jobs,
            [],
            1,
            NoProgress(),
            license_given=meta["license_given"],
            encoder=encoder,
            packages=meta.get("packages"),
        )
        with store.transaction() as conn:
            IndexStore.set_meta(conn, META_SHARD, name)
        stats = store.stats()
        no_license = store.conn.execute("SELECT COUNT(*) FROM files WHERE license IS NULL").fetchone()[0]
        paths = [r[0] for r in store.conn.execute("SELECT path FROM files ORDER BY id")]
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store.close()
        files = {p.name: p.read_bytes() for p in where.iterdir() if p.is_file() and "-wal" not in p.name}
    return {
        "name": name,
        "files": files,
        "summary": summary.to_json(),
        "record": {
            "source": meta["name"],
            "files": stats["files"],
            "chunks": stats["chunks"],
            "fingerprints": stats["fingerprints"],
            "vectors": summary.embedded,
            "model": summary.embed_model,
            "first": min(paths, default=""),
            "last": max(paths, default=""),
            "without_license": int(no_license),
            "summary": {k: v for k, v in summary.to_json().items() if k in _SUMMARY_KEYS},
        },
    }


def _plan(
    name: str, jobs: list[Job], boilerplate: bool, model_id: str | None, shard_files: int
) -> tuple[list[tuple[str, list[Job]]], list[Skip]]:
    """Consecutive batches of the jobs, each named by the digest of what it holds (so a rerun
    on the same files finds the same shards), with the content read now (a remote worker sees
    no local path); unreadable files are skips, as in a local add."""
    read: list[Job] = []
    skips: list[Skip] = []
    for relpath, where, language, _, hash_only in jobs:
        if isinstance(where, Path):
            try:
                where = where.read_bytes()
            except OSError as exc:
                skips.append(Skip(relpath, f"unreadable: {exc.strerror or exc}"))
                continue
        read.append((relpath, where, language, "", hash_only))
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:40]
    batches = []
    for lo in range(0, len(read), shard_files):
        part = read[lo : lo + shard_files]
        h = hashlib.sha256(json.dumps([name, boilerplate, model_id]).encode())
        for relpath, data, language, _, hash_only in part:
            assert isinstance(data, bytes)
            h.update(f"\0{relpath}\0{language}\0{hash_only}\0{hashlib.sha256(data).hexdigest()}".encode())
        batches.append((f"{slug}-{h.hexdigest()[:16]}", part))
    return batches, skips


def _connect(ray: Any, address: str | None, workers: int) -> bool:
    """Join the cluster at ``address`` or start a local one; True when this call started Ray."""
    if ray.is_initialized():
        return False
    try:
        if address:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    except Exception as exc:  # ray raises ConnectionError, RuntimeError, ValueError...
        where = f"at {address}" if address else "(local)"
        raise IndexUnavailable(f"Cannot start or reach the Ray cluster {where}: {exc}") from None
    return True


def _prepare_root(root: Path) -> dict[str, Any]:
    """The manifest of the sharded index at ``root``, created when the directory is new or empty."""
    if (root / DB_NAME).exists():
        raise UsageError(
            f"{root} is a single (unsharded) index; --ray writes a sharded index. Choose a new "
            "directory with --index."
        )
    if (root / SHARDS_MANIFEST).is_file():
        return read_manifest(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise UsageError(f"{root} is not a codeguard index. Point --index at a new or empty directory.")
    (root / SHARDS_DIR).mkdir(parents=True, exist_ok=True)
    doc = new_manifest()
    write_manifest(root, doc)
    return doc


def add_distributed(
    root: Path,
    source: str,
    name: str | None = None,
    license: str | None = None,
    boilerplate: bool | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    exclude: tuple[str, ...] = (),
    include_skipped_dirs: bool = False,
    address: str | None = None,
    workers: int = LOCAL_CPUS,
    shard_files: int = SHARD_FILES,
    model_dir: Path | None = None,
    model_id: str | None = None,
    progress: Progress | None = None,
) -> DistributedSummary:
    """Add (or refresh) a source to the sharded index at ``root`` over a Ray cluster.

    At most ``workers`` shards are built at once. With ``model_dir`` (and its ``model_id``) the
    shards embed their chunks too. Shards already complete (of an interrupted run, or unchanged
    batches of a re-added source) are kept."""
    ray = import_ray()
    if shard_files < 1 or workers < 1:
        raise UsageError("--shard-files and --workers must be at least 1.")
    progress = progress or NoProgress()
    root = Path(root)
    arg = parse_source_arg(source)
    given = license is not None
    if license is not None:
        license = checked_license(license, "--license")
    doc = _prepare_root(root)
    name = name or default_name(arg.location, arg.is_url)
    before = next((s for s in doc["sources"] if s["name"] == name), None)
    if before is not None and not given and before.get("license_given"):
        license, given = before.get("license"), True
    kind, commit, packages, jobs, skips = discover_source(
        arg, {}, max_bytes, exclude, include_skipped_dirs, license if given else None
    )
    license = packages.roots[""].license
    if boilerplate is None:
        boilerplate = bool(before and before.get("boilerplate"))
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    meta = {
        "name": name,
        "kind": kind,
        "location": arg.location if arg.is_url else str(Path(arg.location).resolve()),
        "revision": arg.revision,
        "commit": commit,
        "license": license,
        "license_given": given,
        "boilerplate": boilerplate,
        "added_at": before["added_at"] if before else now,
        "updated_at": now,
    }
    batches, unreadable = _plan(name, jobs, boilerplate, model_id, shard_files)
    skips += unreadable
    names = [n for n, _ in batches]
    doc.setdefault("pending", {})[name] = meta | {"shards": names}
    write_manifest(root, doc)
    todo = [(n, part) for n, part in batches if n not in doc["shards"] or not _intact(root, n, doc)]
    kept = [n for n in names if n not in {t for t, _ in todo}]
    summary = AddSummary(name=name, commit=commit)
    progress.start(len(todo), f"indexing {name} on Ray ({len(todo)} of {len(names)} shards)")
    model = None if model_dir is None else str(model_dir)
    # The tasks attribute each file's license from the packages of the whole tree.
    doc = _run_isolated(ray, root, todo, meta | {"packages": packages}, model, workers, address, progress)
    for n, _ in todo:
        s = doc["shards"][n]["summary"]
        summary.added += s["added"]
        summary.embedded += s["embedded"]
        summary.embed_seconds += s["embed_seconds"]
        skips += [Skip(k["path"], k["reason"]) for k in s["skipped"]]
        summary.notes += [(n["path"], n["note"]) for n in s["notes"]]
    summary.unchanged = sum(doc["shards"][n]["files"] for n in kept)
    summary.chunks = sum(doc["shards"][n]["chunks"] for n in names)
    summary.embed_model = model_id
    _commit(root, doc, name, skips)
    summary.skipped = sorted(skips, key=lambda s: s.path)
    summary.notes.sort()
    summary.license, summary.license_given = license, given
    summary.files_without_license = sum(doc["shards"][n]["without_license"] for n in names)
    from codeguard.licenses.policy import load_policy

    summary.unknown_licenses = load_policy().unknown_licenses(license)
    return DistributedSummary(summary, shards=names, built=[n for n, _ in todo], kept=kept)


def _intact(root: Path, name: str, doc: dict[str, Any]) -> bool:
    """A recorded shard is still there, whole (its database has the recorded checksum)."""
    db = root / SHARDS_DIR / name / DB_NAME
    rec = doc["shards"][name]
    return db.is_file() and db.stat().st_size == rec["bytes"] and file_sha256(db) == rec["sha256"]


def _run_isolated(
    ray: Any,
    root: Path,
    todo: list[tuple[str, list[Job]]],
    meta: dict[str, Any],
    model_dir: str | None,
    workers: int,
    address: str | None,
    progress: Progress,
) -> dict[str, Any]:
    """Build the shards of ``todo`` from a child process that is the Ray driver, and return the
    manifest it left. Ray ends its driver process when the cluster goes away (no exception
    reaches Python); here that is an unavailable-index error naming the shard left unbuilt."""
    if not todo:
        return read_manifest(root)
    if address is None and ray.is_initialized():
        address = ray.get_runtime_context().gcs_address  # the child joins this process's cluster
    # A fresh interpreter (not multiprocessing's spawn, which re-runs the caller's __main__):
    # arguments on its stdin, one JSON line per event on a pipe of its own.
    read_end, write_end = os.pipe()
    child = subprocess.Popen(
        [sys.executable, "-c", f"from {__name__} import _drive; _drive({write_end})"],
        stdin=subprocess.PIPE,
        pass_fds=(write_end,),
    )
    os.close(write_end)
    assert child.stdin is not None
    try:
        with child.stdin:
            pickle.dump((os.getpid(), str(root), todo, meta, model_dir, workers, address), child.stdin)
    except BrokenPipeError:
        pass  # the child died at start: said below
    outcome: list[Any] | None = None
    try:
        with os.fdopen(read_end, "r", encoding="utf-8") as events:
            for line in events:
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a driver that Ray ended
                if msg[0] == "shard":
                    progress.advance()
                else:
                    outcome = msg
    except BaseException:  # Ctrl-C: the shards recorded so far stay for a rerun
        child.kill()
        raise
    finally:
        child.wait()
    if outcome is not None and outcome[0] == "error":
        error = IndexUnavailable(outcome[2])
        error.exit_code = outcome[1]
        raise error
    if outcome is not None and outcome[0] == "bug":
        raise RuntimeError(f"the Ray driver failed:\n{outcome[1]}")
    doc = read_manifest(root)
    left = [n for n, _ in todo if n not in doc["shards"]]
    if outcome is None or left:
        where = f"at {address}" if address else "(local)"
        raise IndexUnavailable(
            f"The Ray cluster {where} went away while building shard {left[0] if left else '?'} of "
            f"source {meta['name']} (the driver ended with exit status {child.returncode}). "
            f"{len(todo) - len(left)} of {len(todo)} shard(s) to build are complete and kept; run the same "
            "command again to resume."
        )
    return doc


def _drive(fd: int) -> None:
    """The Ray driver (a child process, arguments pickled on stdin by ``_run_isolated``): build
    the shards, say each one done on ``fd``, then "ok" or the error that stopped it."""
    parent, root, todo, meta, model_dir, workers, address = pickle.load(sys.stdin.buffer)
    die_with_parent(parent)
    with os.fdopen(fd, "w", encoding="utf-8", buffering=1) as out:

        def send(*msg: Any) -> None:
            out.write(json.dumps(msg) + "\n")

        ray = import_ray()
        try:
            _connect(ray, address, workers)
            try:
                _run(ray, Path(root), read_manifest(Path(root)), todo, meta, model_dir, workers, send)
            finally:
                try:
                    ray.shutdown()
                except Exception:  # a cluster that went away: the error above says so
                    pass
        except CodeguardError as exc:
            send("error", exc.exit_code, str(exc))
            return
        except Exception:  # a bug: its traceback goes to the parent, which fails with it
            send("bug", traceback.format_exc())
            return
        send("ok")


def _run(
    ray: Any,
    root: Path,
    doc: dict[str, Any],
    todo: list[tuple[str, list[Job]]],
    meta: dict[str, Any],
    model_dir: str | None,
    workers: int,
    send: Callable[..., None],
) -> None:
    """Build the shards of ``todo``, at most ``workers`` at once, recording each one as it
    completes; a failure of the cluster is an unavailable-index error naming the shard."""
    task = ray.remote(num_cpus=1)(_build_shard)
    waiting = list(todo)
    running: dict[Any, str] = {}
    while waiting or running:
        while waiting and len(running) < workers:
            n, part = waiting.pop(0)
            running[task.remote(n, meta, part, model_dir)] = n
        shard = next(iter(running.values()))
        try:
            done, _ = ray.wait(list(running), num_returns=1)
            shard = running.pop(done[0])
            result = ray.get(done[0])
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, CodeguardError):
                raise cause from None
            raise  # a bug in the task: its traceback
        except Exception as exc:  # RayError, or a connection error of a cluster that went away
            complete = sum(1 for n, _ in todo if n in doc["shards"])
            raise IndexUnavailable(
                f"The Ray cluster went away while building shard {shard} of source {meta['name']} "
                f"({type(exc).__name__}). {complete} of {len(todo)} shard(s) to build are complete and "
                "kept; run the same command again to resume."
            ) from None
        _record(root, doc, result)
        send("shard", shard)


def _record(root: Path, doc: dict[str, Any], result: dict[str, Any]) -> None:
    """Write a built shard into place, then list it in the manifest (never the other way round)."""
    name = result["name"]
    final = root / SHARDS_DIR / name
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=root / SHARDS_DIR))
    for fname, data in result["files"].items():
        (tmp / fname).write_bytes(data)
    if final.exists():
        shutil.rmtree(final)  # a leftover of an interrupted run: never listed, never trusted
    tmp.rename(final)
    db = final / DB_NAME
    doc["shards"][name] = result["record"] | {"bytes": db.stat().st_size, "sha256": file_sha256(db)}
    write_manifest(root, doc)


def _commit(root: Path, doc: dict[str, Any], name: str, skips: list[Skip]) -> None:
    """Swap the finished source into the manifest: common fingerprints first (a new file), then
    the manifest that names it; then remove shards and tables no complete source uses."""
    pending = doc["pending"].pop(name)
    entry = pending | {"complete": True, "skipped": [{"path": s.path, "reason": s.reason} for s in skips]}
    sources = [s for s in doc["sources"] if s["name"] != name]
    at = next((i for i, s in enumerate(doc["sources"]) if s["name"] == name), len(sources))
    sources.insert(at, entry)
    doc["sources"] = sources
    doc["common"] = build_common(root, doc)
    write_manifest(root, doc)
    used = set(complete_shards(doc)) | {n for p in doc["pending"].values() for n in p["shards"]}
    for n in [n for n in doc["shards"] if n not in used]:
        del doc["shards"][n]
    write_manifest(root, doc)
    for p in (root / SHARDS_DIR).iterdir():
        if p.name not in used:
            shutil.rmtree(p, ignore_errors=True)
    for p in root.glob("common-*.db"):
        if p.name != doc["common"]["file"]:
            p.unlink(missing_ok=True)


__all__ = ["DistributedSummary", "add_distributed", "import_ray"]
