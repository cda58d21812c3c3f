#!/usr/bin/env python3
"""Pre-commit latency: `codeguard scan --staged` on a repository with 7 staged files against
an index of the Python standard library, cold start included (a new process per run, as
pre-commit and git hooks start one).

The repository is made in a temp dir: an MIT LICENSE committed, then the seven modules of
examples/demo-project/src/demo staged (three of them hold copied stdlib functions, one a GPL
snippet). The index is built once from .bench/stdlib unless --index names an existing one.
Prints a markdown table (median, min, max wall time; median CPU time; median peak RSS) and
writes .bench/results/precommit_latency.json.

Three modes on the same index (built with the shipped model's embeddings): fingerprints only
(`--no-ml`); the semantic layer with an empty embedding cache (every staged chunk embedded, as
after editing all seven files); the semantic layer with a warm cache (unchanged chunks).

`--before CMD` times another version too (a command prefix that runs its CLI, e.g.
`.venv/bin/python bench/run_checkout.py ../old-checkout`), run for run alternating with this
checkout's (which one goes first alternates too), and says per mode whether the two JSON reports
are the same once timings and the checkouts' own paths are set aside. CPU time (user + system,
git subprocesses included) is printed next to wall time: on a shared machine it moves less.

Usage:  python bench/precommit_latency.py [--runs N] [--index DIR] [--before CMD]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    BENCH_DIR,
    codeguard_cmd,
    fmt_mb,
    fmt_s,
    machine_info,
    markdown_table,
    median,
    run_measured,
    stdlib_py_tree,
    write_json,
)

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo-project"


def make_repo(dest: Path) -> Path:
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="b",
        GIT_AUTHOR_EMAIL="b@x",
        GIT_COMMITTER_NAME="b",
        GIT_COMMITTER_EMAIL="b@x",
    )

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=dest, env=env, check=True, capture_output=True)

    dest.mkdir(parents=True)
    git("init", "-q", "-b", "main")
    shutil.copy(DEMO / "LICENSE", dest / "LICENSE")
    git("add", ".")
    git("commit", "-qm", "initial")
    files = sorted(p for p in (DEMO / "src" / "demo").glob("*.py") if p.name != "__init__.py")
    for p in files:
        shutil.copy(p, dest / p.name)
    git("add", ".")
    return dest


def comparable(report: str, roots: list[str]) -> object:
    """A JSON report without what differs between two runs of the same findings: timings
    (``seconds*`` keys), the tool's version line and the checkouts' own paths (the policy file)."""

    def clean(node: object) -> object:
        if isinstance(node, dict):
            return {k: clean(v) for k, v in node.items() if not k.startswith("seconds") and k != "tool"}
        if isinstance(node, list):
            return [clean(v) for v in node]
        if isinstance(node, str):
            for root in roots:
                node = node.replace(root, "<checkout>")
        return node

    try:
        return clean(json.loads(report))
    except ValueError:
        return None


def _checkout_of(cmd: list[str]) -> str:
    """The checkout a command prefix runs (run_checkout.py's argument), else this one."""
    for i, part in enumerate(cmd[:-1]):
        if part.endswith("run_checkout.py"):
            return str(Path(cmd[i + 1]).resolve())
    return str(ROOT)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--index", type=Path, default=None, help="existing stdlib index (default: build one)")
    ap.add_argument(
        "--before",
        default=None,
        help="another version's CLI (a command prefix), timed alternately",
    )
    ap.add_argument("--json", type=Path, default=BENCH_DIR / "results" / "precommit_latency.json")
    args = ap.parse_args()
    cg = codeguard_cmd()
    versions = [("this checkout", cg)]
    if args.before:
        before = [os.path.abspath(c) if Path(c).exists() else c for c in shlex.split(args.before)]
        versions = [("before", before), ("this checkout", cg)]
    roots = sorted({_checkout_of(cmd) for _, cmd in versions}, key=len, reverse=True)
    (BENCH_DIR / "tmp").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="precommit-", dir=BENCH_DIR / "tmp"))
    repo = make_repo(work / "repo")
    index = args.index.resolve() if args.index else work / "index"
    if args.index is None:
        print("building the stdlib index ...", file=sys.stderr, flush=True)
        built = run_measured(
            cg + ["index", "add", str(stdlib_py_tree()), "--name", "stdlib", "--index", str(index)]
        )
        if built.rc != 0:
            print(built.stderr_tail, file=sys.stderr)
            return 1
    # The embedding cache is one file (CODEGUARD_EMBEDDING_CACHE); "fresh" deletes it before
    # each run. Other caches (the license rule index, the project's license) stay warm in
    # every mode.
    modes = [
        ("fingerprints only (--no-ml)", ["--no-ml"], None),
        ("with the model, empty embedding cache", [], "fresh"),
        ("with the model, warm embedding cache", [], "warm"),
    ]
    args_scan = ["scan", "--staged", "--index", str(index), "--quiet", "--format", "json"]
    rows, results, same = [], {}, {}
    cwd = Path.cwd()
    os.chdir(repo)
    try:
        cache_file = work / "embeddings.sqlite"
        env = os.environ | {"CODEGUARD_EMBEDDING_CACHE": str(cache_file)}
        for _, cmd in versions:
            run_measured(cmd + args_scan, env=env)  # warm-up: fills the caches once
        for name, extra, cache in modes:
            runs: dict[str, list[dict]] = {label: [] for label, _ in versions}
            last: dict[str, str] = {}  # the whole report (to_dict keeps only its tail)
            for i in range(args.runs):
                order = versions if i % 2 == 0 else versions[::-1]
                for label, cmd in order:
                    if cache == "fresh":
                        cache_file.unlink(missing_ok=True)
                    res = run_measured(cmd + args_scan + extra, env=env)
                    runs[label].append(res.to_dict())
                    last[label] = res.stdout
            reports = [comparable(last[label], roots) for label, _ in versions]
            if len(versions) > 1:
                same[name] = reports[0] is not None and reports[0] == reports[1]
            for label, _ in versions:
                ok = [r for r in runs[label] if r["rc"] in (0, 1)]
                walls = [r["wall_s"] for r in ok]
                rows.append(
                    [
                        name,
                        *([label] if len(versions) > 1 else []),
                        fmt_s(median(walls)),
                        fmt_s(min(walls) if walls else None),
                        fmt_s(max(walls) if walls else None),
                        fmt_s(median([r["cpu_s"] for r in ok])),
                        fmt_mb(median([r["peak_rss_kb"] for r in ok])),
                        f"{len(ok)}/{args.runs}",
                    ]
                )
                key = name if len(versions) == 1 else f"{name} [{label}]"
                results[key] = {"runs": runs[label], "median_wall_s": median(walls)}
    finally:
        os.chdir(cwd)
    print(
        "\n## pre-commit latency: `codeguard scan --staged`, 7 staged files, stdlib index "
        f"(runs={args.runs})\n"
    )
    headers = ["mode", *(["version"] if len(versions) > 1 else []), "median wall (s)", "min (s)", "max (s)"]
    headers += ["median CPU (s)", "median peak RSS", "ok runs"]
    print(markdown_table(headers, rows))
    for name, equal in same.items():
        print(f"\n{name}: reports {'identical' if equal else 'DIFFER'} (timings and checkout paths aside)")
    write_json(
        args.json,
        {
            "benchmark": "precommit_latency",
            "machine": machine_info(),
            "load_average": os.getloadavg(),
            "index": str(index),
            "versions": {label: cmd for label, cmd in versions},
            "same_reports": same,
            "modes": results,
        },
    )
    shutil.rmtree(work, ignore_errors=True)
    ok = all(r["median_wall_s"] is not None for r in results.values()) and all(same.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
