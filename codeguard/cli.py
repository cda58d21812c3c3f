"""The command line: `codeguard index ...` and `codeguard scan`.

Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or configuration error,
3 internal error (a bug: the traceback is printed), 4 index (or model) unavailable.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import traceback
from collections.abc import Callable, Iterable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from codeguard import __version__
from codeguard.errors import CodeguardError, ExitCode, UsageError
from codeguard.report import FORMATS

F = TypeVar("F", bound=Callable[..., Any])

LEVELS = {"note": 1, "warning": 2, "error": 3}
INDEX_ENV = "CODEGUARD_INDEX"


def default_index(start: Path | None = None) -> Path:
    """$CODEGUARD_INDEX, else the nearest ``.codeguard/index`` above the current directory,
    else the per-user data directory (platformdirs)."""
    env = os.environ.get(INDEX_ENV)
    if env:
        return Path(env)
    here = (start or Path.cwd()).resolve()
    for d in [here, *here.parents]:
        if (d / ".codeguard" / "index").is_dir():
            return d / ".codeguard" / "index"
    import platformdirs

    return Path(platformdirs.user_data_dir("codeguard")) / "index"


def handle_errors(fn: F) -> F:
    """Map codeguard errors to exit codes; a bug prints its traceback and exits 3."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CodeguardError as exc:
            click.echo(f"codeguard: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("codeguard: interrupted", err=True)
            sys.exit(130)
        except click.exceptions.ClickException:
            raise
        except Exception:  # noqa: BLE001 - a bug: show everything
            traceback.print_exc()
            click.echo(
                "codeguard: internal error (a bug in codeguard; please report it with the traceback above)",
                err=True,
            )
            sys.exit(ExitCode.INTERNAL)

    return wrapper  # type: ignore[return-value]


class RichProgress:
    """Progress bars on stderr, only when it is a terminal."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and sys.stderr.isatty()
        self._progress: Any = None
        self._task: Any = None

    def start(self, total: int, label: str) -> None:
        if not self.enabled or total < 20:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.stop()
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(label, total=total)

    def advance(self, n: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)
            if self._progress.finished:
                self.stop()

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


index_option = click.option(
    "--index",
    "index_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help=f"Reference index directory [default: ${INDEX_ENV}, else nearest .codeguard/index, "
    "else the user data dir].",
)
policy_option = click.option(
    "--policy",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="License policy file [default: [tool.codeguard] policy, else the one shipped with codeguard].",
)
project_license_option = click.option(
    "--project-license",
    metavar="SPDX",
    default=None,
    help="The project's license [default: [tool.codeguard] project-license, else from its package "
    "metadata or LICENSE files].",
)
jobs_option = click.option(
    "--jobs", "-j", type=click.IntRange(min=0), default=0, help="Worker processes (0: one per CPU)."
)
exclude_option = click.option(
    "--exclude", multiple=True, metavar="PATTERN", help="Gitignore-style pattern to leave out (repeatable)."
)
max_size_option = click.option(
    "--max-file-size",
    type=click.IntRange(min=1),
    default=None,
    help="Skip files larger than this many bytes.",
)
include_skipped_option = click.option(
    "--include-skipped-dirs",
    is_flag=True,
    help="Also walk what is skipped by default: virtual environments, node_modules, build/dist, "
    "*.egg-info, __pycache__ and tool caches (.tox, .mypy_cache...).",
)
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bars or summaries on stderr.")


class _Main(click.Group):
    """The top-level group. The commands of the optional stages (train, eval) are imported when
    named or listed, not on every start: a pre-commit scan does not need their modules."""

    LAZY = {
        "train": ("codeguard.ml.cli", "train_command"),
        "eval": ("codeguard.evaluate.cli", "eval_command"),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is None and cmd_name in self.LAZY:
            import importlib

            module, attr = self.LAZY[cmd_name]
            cmd = getattr(importlib.import_module(module), attr)
        return cmd


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="codeguard")
def main() -> None:
    """codeguard: find code copied from reference corpora, with its provenance."""


@main.group()
def index() -> None:
    """Manage the reference index (sources you compare against)."""


def _open_index(index_dir: Path | None, create: bool = False) -> Any:
    from codeguard.index.shards import open_index

    return open_index(index_dir or default_index(), create=create)


def _open_scan_index(index_dir: Path | None) -> Any:
    """The index a scan reads; a missing one says how to scan without it too."""
    from codeguard.errors import IndexMissing

    try:
        return _open_index(index_dir)
    except IndexMissing as exc:
        hint = "To check only the project's own license notices, scan with --no-index."
        raise IndexMissing(f"{exc} {hint}") from None


model_option = click.option(
    "--model",
    "model_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Semantic model directory (made by `codeguard train`) that embeds the chunks "
    "[default: the model shipped with codeguard, if any].",
)


def _load_encoder(model_dir: Path | None, required: bool) -> Any:
    """The encoder of ``model_dir`` or of the shipped model; None when there is none and
    none is ``required``."""
    from codeguard.ml.card import ModelUnavailable, default_model_dir

    path = model_dir or default_model_dir()
    if path is None:
        if not required:
            return None
        raise ModelUnavailable(
            "no semantic model: this installation ships none. Pass --model DIR, a directory made "
            "by `codeguard train`"
        )
    from codeguard.ml.encoder import Encoder

    return Encoder.load(path)


def _ray_count(flag: str, default: int, help: str) -> Callable[[F], F]:
    """A positive count that only ``index add --ray`` reads."""
    kind = click.IntRange(min=1)
    return click.option(flag, type=kind, default=default, show_default=True, help=f"With --ray: {help}")


@index.command("add")
@click.argument("source")
@click.option(
    "--name", help="Source name [default: directory or repository name]. Re-adding a name updates it."
)
@click.option("--license", "license_", metavar="SPDX", help="License of the source (SPDX expression).")
@click.option(
    "--boilerplate/--no-boilerplate",
    default=None,
    help="Treat this source as boilerplate: its fingerprints are ignored, never reported "
    "[default: as before for a re-added source, else no].",
)
@exclude_option
@include_skipped_option
@max_size_option
@model_option
@click.option("--no-ml", is_flag=True, help="Fingerprints only: do not embed the chunks.")
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[ADDRESS]",
    help="Index on a Ray cluster (the cluster at ADDRESS, else a local one) into a sharded index; "
    "an interrupted run resumes. Needs the ray extra: pip install 'codeguard[ray]'.",
)
@_ray_count("--workers", 2, "shards built at once (and CPUs of a local cluster).")
@_ray_count("--shard-files", 200, "files per shard.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@index_option
@jobs_option
@quiet_option
@handle_errors
def index_add(
    source: str,
    name: str | None,
    license_: str | None,
    boilerplate: bool | None,
    exclude: tuple[str, ...],
    include_skipped_dirs: bool,
    max_file_size: int | None,
    model_dir: Path | None,
    no_ml: bool,
    ray_address: str | None,
    workers: int,
    shard_files: int,
    as_json: bool,
    index_dir: Path | None,
    jobs: int,
    quiet: bool,
) -> None:
    """Add a directory or git repository (PATH_OR_URL[@REV]) to the reference index.

    The chunks of its files are fingerprinted and, with a semantic model (--model, else the
    shipped one), embedded for nearest-neighbour search. With --ray the work runs on a Ray
    cluster and the index is sharded (a scan reads it as one index)."""
    from codeguard.discover import DEFAULT_MAX_BYTES
    from codeguard.engine.indexing import add_source
    from codeguard.gitio import parse_source_arg

    parse_source_arg(source)  # a missing path or malformed URL fails before any index is created
    if no_ml and model_dir is not None:
        raise UsageError("--model and --no-ml exclude each other: embed with a model, or not at all.")
    encoder = None if no_ml else _load_encoder(model_dir, required=False)
    target = index_dir or default_index()
    # What names and selects the source, the same for a local and a distributed add.
    chosen: dict[str, Any] = {
        "name": name,
        "license": license_,
        "boilerplate": boilerplate,
        "max_bytes": max_file_size or DEFAULT_MAX_BYTES,
        "exclude": exclude,
        "include_skipped_dirs": include_skipped_dirs,
    }
    if ray_address is not None:
        _index_add_ray(
            source,
            target,
            ray_address or None,
            workers,
            shard_files,
            encoder,
            model_dir,
            as_json,
            quiet,
            **chosen,
        )
        return
    store = _open_index(target, create=True)
    created = store.created
    if encoder is None and not no_ml and not quiet:
        held = store.embedding_info()
        if held["vectors"]:
            click.echo(
                f"codeguard: no semantic model available: the new chunks are not embedded, although "
                f"the index holds embeddings of {held['model']}. Pass --model DIR with that model.",
                err=True,
            )
        else:
            click.echo(
                "codeguard: no semantic model available (none shipped; pass --model DIR): "
                "indexing fingerprints only.",
                err=True,
            )
    progress = RichProgress(not quiet)
    try:
        summary = add_source(store, source, jobs=jobs, progress=progress, encoder=encoder, **chosen)
    except CodeguardError as exc:
        # Do not leave an empty index behind a failed first add, unless another process is
        # using it (the index is busy: a concurrent add of the same new index).
        if created and exc.exit_code != ExitCode.UNAVAILABLE and not store.sources():
            store.close()
            shutil.rmtree(target, ignore_errors=True)
        store.close()
        raise
    finally:
        progress.stop()
    if as_json:
        payload = summary.to_json() | {"index": str(store.path)}
        _echo_add(source, summary, json.dumps(payload, indent=2, sort_keys=True))
        return
    commit = f" at {summary.commit[:12]}" if summary.commit else ""
    embedded = f", {summary.embedded} chunk(s) embedded" if encoder is not None else ""
    _echo_add(
        source,
        summary,
        f"{summary.name}{commit}: {summary.added} added, {summary.updated} updated, "
        f"{summary.unchanged} unchanged, "
        f"{summary.removed} removed, {len(summary.skipped)} skipped{embedded}; index {store.path}",
    )
    if summary.notes and not quiet:
        click.echo(
            f"  {len(summary.notes)} file(s) indexed with notes: {_note_kinds(n for _, n in summary.notes)} "
            "(--json lists them)",
            err=True,
        )
    if summary.skipped and not quiet:
        from collections import Counter

        reasons = Counter(s.reason.split(" (")[0].split(":")[0] for s in summary.skipped)
        listed = ", ".join(f"{n} {r}" for r, n in reasons.most_common())
        hashed = (
            f"; {summary.hashed_only} of them not chunked, but hashed to find whole-file copies"
            if summary.hashed_only
            else ""
        )
        click.echo(f"  skipped: {listed}{hashed} (--json lists every file and reason)", err=True)


def _index_add_ray(
    source: str,
    target: Path,
    address: str | None,
    workers: int,
    shard_files: int,
    encoder: Any,
    model_dir: Path | None,
    as_json: bool,
    quiet: bool,
    **options: Any,
) -> None:
    """``index add --ray``: the distributed add into a sharded index, and its summary."""
    from codeguard.engine.distributed import add_distributed
    from codeguard.ml.card import default_model_dir

    progress = RichProgress(not quiet)
    try:
        result = add_distributed(
            target,
            source,
            address=address,
            workers=workers,
            shard_files=shard_files,
            model_dir=None if encoder is None else (model_dir or default_model_dir()),
            model_id=None if encoder is None else encoder.card.model_id,
            progress=progress,
            **options,
        )
    finally:
        progress.stop()
    summary = result.add
    embedded = f", {summary.embedded} chunk(s) embedded" if encoder is not None else ""
    _echo_add(
        source,
        summary,
        json.dumps(result.to_json() | {"index": str(target)}, indent=2, sort_keys=True)
        if as_json
        else f"{summary.name}: {summary.added} added, {summary.unchanged} unchanged, "
        f"{len(summary.skipped)} skipped{embedded}; {len(result.shards)} shard(s) "
        f"({len(result.built)} built, {len(result.kept)} kept); sharded index {target}",
    )


def _echo_add(source: str, summary: Any, text: str) -> None:
    """The summary of an add (JSON or a line), then what the policy will make of its license."""
    click.echo(text)
    if summary.license_unknown:
        _warn_unknown_license(source, summary)


def _warn_unknown_license(source: str, summary: Any) -> None:
    """Say at index time what a scan would report later: copies from this source are of unknown
    license (CG-LIC-007); and how to give it."""
    import shlex

    if summary.license is None:
        what = "no license found (no LICENSE/COPYING file or package metadata at its top declares one)"
    else:
        unknown = ", ".join(summary.unknown_licenses)
        part = "" if unknown == summary.license else f" ({unknown})"
        what = f"the detected license {summary.license} is not one the policy knows{part}"
    click.echo(
        f"codeguard: warning: source {summary.name!r}: {what}, and {summary.files_without_license} "
        "file(s) have no license header of their own: copies from them will be reported as of unknown "
        "license (CG-LIC-007). Give the license with: "
        f"codeguard index add {shlex.quote(source)} --name {shlex.quote(summary.name)} --license SPDX-ID",
        err=True,
    )


@index.command("list")
@index_option
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@handle_errors
def index_list(index_dir: Path | None, as_json: bool) -> None:
    """List the sources in the reference index."""
    from codeguard.index.vectors import method_for

    store = _open_index(index_dir)
    sources = store.sources()
    vectors = store.vectors_per_source()
    info = store.embedding_info()
    embeddings = {
        "model": info["model"],
        "dim": info["dim"],
        "vectors": info["vectors"],
        "method": method_for(info["vectors"]) if info["vectors"] else None,
    }
    if as_json:
        rows = [
            {
                "name": s.name,
                "kind": s.kind,
                "location": s.location,
                "revision": s.revision,
                "commit": s.commit_sha,
                "license": s.license,
                "boilerplate": s.boilerplate,
                "files": s.n_files,
                "chunks": s.n_chunks,
                "vectors": vectors.get(s.id, 0),
                "updated_at": s.updated_at,
            }
            for s in sources
        ]
        click.echo(
            json.dumps(
                {
                    "index": str(store.path),
                    "sources": rows,
                    "stats": store.stats(common=True),
                    "embeddings": embeddings,
                },
                indent=2,
                sort_keys=True,
            )
        )
        return
    if not sources:
        click.echo(f"No sources in {store.path}. Add one with `codeguard index add PATH`.")
        return
    for s in sources:
        extra = " (boilerplate)" if s.boilerplate else ""
        commit = f" @ {s.commit_sha[:12]}" if s.commit_sha else ""
        embedded = f", {vectors.get(s.id, 0)} embedded" if info["vectors"] else ""
        click.echo(
            f"{s.name}{extra}: {s.n_files} files, {s.n_chunks} chunks{embedded}, "
            f"license {s.license or 'unknown'}{commit}  [{s.location}]"
        )
    if info["vectors"]:
        click.echo(
            f"embeddings: {info['vectors']:,} vectors of model {info['model']} (dim {info['dim']}), "
            f"{embeddings['method']} nearest-neighbour search"
        )
    else:
        click.echo("embeddings: none (fingerprints only; `codeguard index embed --model DIR` adds them)")


@index.command("remove")
@click.argument("name")
@index_option
@handle_errors
def index_remove(name: str, index_dir: Path | None) -> None:
    """Remove a source from the reference index."""
    from codeguard.engine.indexing import remove_source

    store = _open_index(index_dir)
    n = remove_source(store, name)
    click.echo(f"removed {name} ({n} files) from {store.path}")


@index.command("embed")
@model_option
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Re-embed chunks that already have vectors of this model too.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@index_option
@quiet_option
@handle_errors
def index_embed(
    model_dir: Path | None, everything: bool, as_json: bool, index_dir: Path | None, quiet: bool
) -> None:
    """Embed every eligible chunk of the index with a semantic model (--model, else the shipped one).

    Vectors of another model are replaced; chunks that already have vectors of this model are
    kept unless --all. Use it after changing models, or for an index built with --no-ml."""
    from codeguard.engine.indexing import embed_index

    encoder = _load_encoder(model_dir, required=True)
    store = _open_index(index_dir)
    progress = RichProgress(not quiet)
    try:
        summary = embed_index(store, encoder, progress=progress, everything=everything)
    finally:
        progress.stop()
    if as_json:
        click.echo(json.dumps(summary.to_json() | {"index": str(store.path)}, indent=2, sort_keys=True))
        return
    replaced = f", replacing the vectors of {summary.replaced_model}" if summary.replaced_model else ""
    method = f" ({summary.method} search)" if summary.method else ""
    click.echo(
        f"embedded {summary.embedded} chunk(s) with {summary.model} in {summary.seconds:.1f}s{replaced}; "
        f"{summary.vectors:,} vectors{method} in {store.path}"
    )


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@index_option
@click.option(
    "--staged",
    is_flag=True,
    help="Scan the content staged in the git index (what the next commit holds), not the work tree, "
    "keeping findings on the changed lines. FILES, if given (the pre-commit hook passes them), are "
    "scanned whole instead: from the index where they have staged changes, else from the work tree "
    "(so pre-commit run --all-files checks every file); a directory stands for its staged files.",
)
@click.option(
    "--diff",
    "diff_range",
    metavar="BASE...HEAD",
    help="Scan the files a git range changed (content at HEAD) and keep findings on changed lines.",
)
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default="text", show_default=True)
@click.option(
    "--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="Write the report to a file."
)
@click.option(
    "--sarif",
    "sarif_out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write a SARIF 2.1.0 report to this file (for code scanning), whatever --format is.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "note", "none"]),
    default="warning",
    show_default=True,
    help="Exit 1 when a finding's policy level is at or above this level.",
)
@policy_option
@project_license_option
@click.option("--no-index", is_flag=True, help="Check only the project's own license notices (no corpus).")
@click.option(
    "--baseline",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Baseline of accepted findings (codeguard baseline create); only new findings count "
    "[default: [tool.codeguard] baseline, else .codeguard-baseline.json at the repository root "
    "(the project root outside git) when it exists].",
)
@click.option("--no-baseline", is_flag=True, help="Use no baseline, not even the default one.")
@model_option
@click.option("--no-ml", is_flag=True, help="Fingerprints only: no semantic (model) matching.")
@click.option(
    "--semantic-threshold",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    help="P(copy) at which a semantic match is reported [default: the larger of --min-probability "
    "and 0.9: same meaning alone is weak evidence of copying].",
)
@click.option(
    "--min-probability",
    type=click.FloatRange(0, 1, max_open=True),
    default=None,
    help="Calibrated P(copy) at which a candidate pair is reported [default: 0.5]; findings below 0.9 "
    "are notes (review them), so the default --fail-on warning gates on P(copy) >= 0.9.",
)
@click.option(
    "--verdict",
    "verdict_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Verdict classifier file (JSON, made by `make verdict`) [default: the shipped one].",
)
@click.option(
    "--own-corpus",
    "own_corpora",
    multiple=True,
    metavar="NAME",
    help="A corpus indexed from this repository (another checkout of it): a file's copy there at "
    "the same path is the file itself, never its origin. A corpus indexed from this very directory "
    "is recognised without it. Repeatable.",
)
@exclude_option
@include_skipped_option
@max_size_option
@jobs_option
@quiet_option
@click.pass_context
@handle_errors
def scan(
    ctx: click.Context,
    paths: tuple[Path, ...],
    index_dir: Path | None,
    staged: bool,
    diff_range: str | None,
    fmt: str,
    output: Path | None,
    sarif_out: Path | None,
    fail_on: str,
    policy: Path | None,
    project_license: str | None,
    no_index: bool,
    baseline: Path | None,
    no_baseline: bool,
    model_dir: Path | None,
    no_ml: bool,
    semantic_threshold: float | None,
    min_probability: float | None,
    verdict_file: Path | None,
    own_corpora: tuple[str, ...],
    exclude: tuple[str, ...],
    include_skipped_dirs: bool,
    max_file_size: int | None,
    jobs: int,
    quiet: bool,
) -> None:
    """Scan PATH (a directory or file; default: the current directory) for copied code.

    Settings can also come from [tool.codeguard] in pyproject.toml or a .codeguard.toml
    (index, policy, project-license, fail-on, format, exclude, max-file-size, baseline,
    own-corpus); flags win.
    A baseline at its default place (.codeguard-baseline.json at the repository root) is used
    unless --no-baseline. Paths in every report are relative to the repository root (outside
    git: the project root), whatever PATH is.
    """
    _import_numpy_single_threaded()
    from codeguard.config import load_config
    from codeguard.discover import DEFAULT_MAX_BYTES
    from codeguard.engine.indexing import checked_license
    from codeguard.engine.scan import ScanOptions
    from codeguard.engine.scan import scan as run_scan
    from codeguard.report import get_report

    change = None
    tracked = None
    if staged and diff_range:
        raise UsageError("Use --staged or --diff, not both.")
    if staged or diff_range:
        from codeguard.gitio import (
            diff_files,
            named_files,
            repo_root,
            split_range,
            staged_files,
            tracked_paths,
        )

        path = repo_root(paths[0] if paths else Path.cwd())
        change = staged_files(path) if staged else diff_files(path, diff_range or "")
        tracked = tracked_paths(path, None if staged else split_range(diff_range or "")[1])
        if paths and staged:
            change = named_files(path, list(paths), change)
        elif paths:
            wanted = {p.resolve() for p in paths}
            keep = [
                c
                for c in change[0]
                if (path / c.path).resolve() in wanted
                or any(w in (path / c.path).resolve().parents for w in wanted)
            ]
            change = (keep, change[1])
    else:
        if len(paths) > 1:
            raise UsageError("scan takes one PATH (with --staged, several files may be given).")
        path = paths[0] if paths else Path(".")
        if not path.exists():
            raise UsageError(f"No such file or directory: {path}")
    cfg = load_config(path)

    def setting(param: str, key: str, value: Any) -> Any:
        from_flag = ctx.get_parameter_source(param) is not click.core.ParameterSource.DEFAULT
        return value if from_flag or cfg.get(key) is None else cfg.get(key)

    index_dir = setting("index_dir", "index", index_dir)
    fmt = setting("fmt", "format", fmt)
    if fmt not in FORMATS:
        raise UsageError(f"{cfg.path}: format {fmt!r} is not one of {', '.join(FORMATS)}")
    fail_on = setting("fail_on", "fail-on", fail_on)
    if fail_on not in (*LEVELS, "none"):
        raise UsageError(f"{cfg.path}: fail-on {fail_on!r} is not one of error, warning, note, none")
    policy = setting("policy", "policy", policy)
    project_license = setting("project_license", "project-license", project_license)
    exclude = tuple(setting("exclude", "exclude", exclude))
    own_corpora = tuple(setting("own_corpora", "own-corpus", own_corpora))
    baseline = setting("baseline", "baseline", baseline)
    if no_baseline and ctx.get_parameter_source("baseline") is not click.core.ParameterSource.DEFAULT:
        raise UsageError("--baseline and --no-baseline exclude each other.")
    baseline = None if no_baseline else baseline or _default_baseline(path)
    max_file_size = setting("max_file_size", "max-file-size", max_file_size)
    if project_license:
        project_license = checked_license(project_license, "project license")
    store = None if no_index else _open_scan_index(Path(index_dir) if index_dir else None)
    progress = RichProgress(not quiet)
    options = ScanOptions(
        jobs=jobs,
        exclude=exclude,
        max_bytes=max_file_size or DEFAULT_MAX_BYTES,
        policy=Path(policy) if policy else None,
        project_license=project_license,
        baseline=Path(baseline) if baseline else None,
        semantic=not no_ml,
        model=Path(model_dir) if model_dir else None,
        semantic_threshold=semantic_threshold,
        verdict=Path(verdict_file) if verdict_file else None,
        include_skipped_dirs=include_skipped_dirs,
        own_corpora=own_corpora,
    )
    if min_probability is not None:
        options.min_probability = min_probability
    if no_ml and model_dir is not None:
        raise UsageError("--model and --no-ml exclude each other.")
    try:
        result = run_scan(store, path, options, progress, change=change, tracked=tracked)
    finally:
        progress.stop()
    report = get_report(fmt)
    if sarif_out:
        _write_report("sarif", result, sarif_out)
    if output:
        _write_report(fmt, result, output)
        if not quiet:
            click.echo(f"{len(result.findings)} finding(s); report written to {output}", err=True)
    elif quiet and fmt == "text" and _clean(result):
        # A clean commit through the hook prints nothing, or one line worth knowing.
        for state in ("changed", "moved"):
            n = sum(1 for f in result.suppressed if f.baseline == state)
            if n:
                click.echo(
                    f"codeguard: {n} accepted finding(s) {state} since accepted "
                    "(`codeguard baseline update` records them)."
                )
    else:
        report.write(result, sys.stdout, color=sys.stdout.isatty())
    threshold = LEVELS.get(fail_on)
    everything: list[Any] = [*result.findings, *result.license_findings]
    blocking = [f for f in everything if threshold is not None and LEVELS.get(f.level, 0) >= threshold]
    if blocking:
        click.echo(_next_step(blocking, fail_on, Path(baseline) if baseline else None, path), err=True)
        sys.exit(ExitCode.FINDINGS)


def _import_numpy_single_threaded() -> None:
    """Import NumPy with its OpenBLAS on one thread, unless the user chose a thread count.

    Starting OpenBLAS's thread pool doubled NumPy's import (0.06 s of every scan on this 2-core
    machine) and buys a scan nothing: its NumPy matrix products are small (the pair head; a
    10,000-pair batch ran as fast on one thread, bit for bit the same), and FAISS and ONNX
    Runtime, which do the heavy products, keep their own threads (the variable is unset again
    before they load)."""
    if "numpy" in sys.modules or "OPENBLAS_NUM_THREADS" in os.environ:
        return
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        import numpy  # noqa: F401
    finally:
        del os.environ["OPENBLAS_NUM_THREADS"]


def _default_baseline(path: Path) -> Path | None:
    """The baseline at its default place for a scan of ``path``, if there is one."""
    from codeguard.baseline.file import DEFAULT_NAME
    from codeguard.engine.scan import report_base

    candidate = report_base(path) / DEFAULT_NAME
    return candidate if candidate.is_file() else None


def _clean(result: Any) -> bool:
    return not (result.findings or result.license_findings or result.stats.get("suppressions_without_reason"))


# The start of an indexing note -> what the summary of `index add` calls that kind of note.
_NOTE_KINDS = (
    ("decoded from", "re-encoded"),
    ("syntax errors", "with syntax errors"),
    ("fingerprint(s) of code repeated", "with repeated code left out (a data table?)"),
    ("chunk(s) over the per-file limits", "with chunks over the per-file limits"),
)


def _note_kinds(notes: Iterable[str]) -> str:
    """``1 re-encoded, 2 with syntax errors``: how many indexed files carry each kind of note."""
    from collections import Counter

    kinds: Counter[str] = Counter()
    for note in notes:
        parts = [part.strip() for part in note.split(";")]
        found = {label for part in parts for key, label in _NOTE_KINDS if key in part}
        kinds.update(found or {"other"})
    return ", ".join(f"{n} {label}" for label, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])))


def _next_step(blocking: list[Any], fail_on: str, baseline: Path | None, path: Path) -> str:
    """What a user whose scan (or commit) is blocked can do about it."""
    from codeguard.baseline.file import DEFAULT_NAME
    from codeguard.baseline.inline import FILE_HEAD_LINES, hint
    from codeguard.engine.scan import report_base
    from codeguard.engine.wholefile import FILE_KIND
    from codeguard.model import LicenseFinding

    base = report_base(path)
    where = "" if base == Path.cwd().resolve() else f" {_shown(base)}"
    if baseline is None:
        accept = f"codeguard baseline create{where}"
    elif baseline.resolve() == base / DEFAULT_NAME:
        accept = f"codeguard baseline update{where}"
    else:
        accept = f"codeguard baseline update{where} -o {_shown(baseline)}"
    lines = [
        f"codeguard: {len(blocking)} finding(s) at or above --fail-on {fail_on} block this. Next step:",
        "  - fix the code: remove the copy, or replace it with code of your own; or",
        f"  - accept every current finding: `{accept}` (commit the baseline file); or",
        "  - accept one where it is, with a comment:",
    ]
    for f in blocking[:5]:
        if isinstance(f, LicenseFinding):
            spot = f"on the notice line or the line before {f.path}:{f.start_line}"
        elif f.chunk_kind == FILE_KIND:
            spot = f"on one of the first {FILE_HEAD_LINES} lines of {f.path}"
        else:
            spot = f"on the line before {f.path}:{f.start_line}"
        lines.append(f"      {hint(f.rule_id)}   ({spot})")
    if len(blocking) > 5:
        lines.append(f"      ... and {len(blocking) - 5} more (see the report)")
    return "\n".join(lines)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return str(path)


def _write_report(fmt: str, result: Any, output: Path) -> None:
    from codeguard.report import get_report

    if fmt not in FORMATS:
        raise UsageError(f"The {fmt} report format is not available in this build.")
    try:
        with open(output, "w", encoding="utf-8") as fh:
            get_report(fmt).write(result, fh, color=False)
    except OSError as exc:
        raise UsageError(f"Cannot write the report to {output}: {exc.strerror or exc}") from None


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@exclude_option
@handle_errors
def licenses(path: Path, as_json: bool, exclude: tuple[str, ...]) -> None:
    """Print the licenses detected in PATH: per file (license files, notices, SPDX tags) and the
    project's own (package metadata or LICENSE files)."""
    from codeguard.config import load_config
    from codeguard.engine.licensing import license_report

    baseline = load_config(path).get("baseline")  # codeguard's own file, whatever its name
    rep = license_report(path, exclude, own=(Path(baseline),) if baseline else ())
    if as_json:
        click.echo(json.dumps(rep, indent=2, sort_keys=True))
        return
    for f in rep["files"]:
        resolved = f" -> {f['resolved']} ({f['resolved_from']})" if f.get("resolved") else ""
        note = f"  [{f['note']}]" if f.get("note") else ""
        click.echo(
            f"{f['path']}:{f['start_line']}-{f['end_line']}  {f['license']}  "
            f"({f['kind']}, confidence {f['confidence']:.2f}){resolved}{note}"
        )
    _echo_packages(rep["packages"])
    proj = rep["project"]
    click.echo(f"\nproject {proj['root']}: {proj['license'] or 'unknown'}")
    for e in proj["evidence"]:
        click.echo(f"  from {e['file']} ({e['kind']}): {e.get('license') or 'undecided'}")
    s = rep["stats"]
    click.echo(f"{len(rep['files'])} detection(s) in {s['files_read']} file(s) read in {s['seconds']:.2f}s")


def _echo_packages(packages: list[dict[str, Any]]) -> None:
    """The package table of `codeguard licenses`: root, name, version, license, and its source."""
    if not packages:
        return
    rows = [
        (
            p["root"] + (" (vendored)" if p["vendored"] else ""),
            p["name"] or "-",
            p["version"] or "-",
            p["license"] or "unknown",
            p["license_from"] or "-",
        )
        for p in packages
    ]
    head = ("package root", "name", "version", "license", "from")
    widths = [min(48, max(len(r[i]) for r in [head, *rows])) for i in range(4)]
    click.echo(f"\n{len(rows)} package(s):")
    for r in [head, *rows]:
        click.echo("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[4])
    for p in packages:
        for problem in p["problems"]:
            click.echo(f"  problem in {p['root']}: {problem}")


@main.group()
def hook() -> None:
    """Manage the plain git pre-commit hook (for repositories without the pre-commit framework)."""


_HOOK_MARK = "# installed by codeguard hook install"


@hook.command("install")
@click.option(
    "--force", is_flag=True, help="Replace an existing pre-commit hook that codeguard did not install."
)
@click.argument("repo", type=click.Path(path_type=Path, file_okay=False), default=".")
@handle_errors
def hook_install(force: bool, repo: Path) -> None:
    """Install a pre-commit hook in REPO that runs `codeguard scan --staged` with this Python."""
    from codeguard.errors import SourceError
    from codeguard.gitio import hooks_dir

    try:
        target = hooks_dir(repo) / "pre-commit"
    except SourceError:
        raise UsageError(
            f"codeguard hook install: {repo} is not inside a git repository; run `git init` there "
            "first (or install the hook with the pre-commit framework in a repository)."
        ) from None
    if target.exists() and _HOOK_MARK not in target.read_text(errors="replace") and not force:
        raise UsageError(f"{target} exists and was not installed by codeguard; use --force to replace it.")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        "#!/bin/sh\n"
        f"{_HOOK_MARK}\n"
        "# Scans the staged content, subtracts the baseline at the repository root (if any) and\n"
        "# blocks the commit on new findings (see `codeguard scan --help`).\n"
        f'exec "{sys.executable}" -m codeguard scan --staged --quiet\n'
    )
    target.chmod(0o755)
    click.echo(f"installed {target}")


@main.group()
def baseline() -> None:
    """Accept the current findings so that scans (and CI gates) fail on new ones only."""


def _baseline_command(update: bool) -> Callable[..., None]:
    @click.argument("path", type=click.Path(path_type=Path, exists=True), default=".")
    @click.option(
        "--output",
        "-o",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="Baseline file [default: [tool.codeguard] baseline, else .codeguard-baseline.json at the "
        "repository root (the project root outside git), where scans and the hook find it].",
    )
    @index_option
    @policy_option
    @project_license_option
    @jobs_option
    @handle_errors
    def command(
        path: Path,
        output: Path | None,
        index_dir: Path | None,
        policy: Path | None,
        project_license: str | None,
        jobs: int,
    ) -> None:
        from codeguard.baseline import file as baseline_file
        from codeguard.config import load_config
        from codeguard.engine.indexing import checked_license
        from codeguard.engine.scan import ScanOptions, report_base
        from codeguard.engine.scan import scan as run_scan

        cfg = load_config(path)
        target = output or (Path(cfg.get("baseline")) if cfg.get("baseline") else None)
        target = target or report_base(path) / baseline_file.DEFAULT_NAME
        previous = baseline_file.load(target) if update else None
        if not update and target.exists():
            raise UsageError(f"{target} exists; use `codeguard baseline update` to refresh it.")
        index = index_dir or (Path(cfg.get("index")) if cfg.get("index") else None)
        lic = project_license or cfg.get("project-license")
        options = ScanOptions(
            jobs=jobs,
            exclude=tuple(cfg.get("exclude") or ()),
            policy=policy or (Path(cfg.get("policy")) if cfg.get("policy") else None),
            project_license=checked_license(lic, "project license") if lic else None,
        )
        result = run_scan(_open_index(index), path, options)
        data = baseline_file.build(result, previous, target)
        baseline_file.write(target, data)
        notices = sum(1 for e in data["findings"] if e["kind"] == baseline_file.NOTICE)
        of_which = f" ({notices} license notice(s))" if notices else ""
        click.echo(f"{len(data['findings'])} finding(s) accepted{of_which} in {target}")

    command.__doc__ = (
        "Re-scan PATH and rewrite the baseline (keeps hand-written justifications)."
        if update
        else "Scan PATH and write a baseline accepting all its current findings."
    )
    return command


baseline.command("create")(_baseline_command(update=False))
baseline.command("update")(_baseline_command(update=True))
