#!/usr/bin/env python3
"""Pre-commit latency: `codeguard scan --staged` on a repository with 5 staged files against
an index of the Python standard library, cold start included (a new process per run, as
pre-commit and git hooks start one).

The repository is made in a temp dir: an MIT LICENSE committed, then the five files of
examples/demo-project/src/demo staged (three of them hold copied stdlib functions). The index
is built once from .bench/stdlib unless --index names an existing one. Prints a markdown table
(median, min, max wall time; median peak RSS) and writes .bench/results/precommit_latency.json.

Three modes on the same index (built with the shipped model's embeddings): fingerprints only
(`--no-ml`); the semantic layer with an empty embedding cache (every staged chunk embedded, as
after editing all five files); the semantic layer with a warm cache (unchanged chunks).

Usage:  python bench/precommit_latency.py [--runs N] [--index DIR]
"""

from __future__ import annotations

import argparse
import os
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--index", type=Path, default=None, help="existing stdlib index (default: build one)")
    ap.add_argument("--json", type=Path, default=BENCH_DIR / "results" / "precommit_latency.json")
    args = ap.parse_args()
    cg = codeguard_cmd()
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
    # each run. Other caches (the license rule index) stay warm in every mode.
    modes = [
        ("fingerprints only (--no-ml)", ["--no-ml"], None),
        ("with the model, empty embedding cache", [], "fresh"),
        ("with the model, warm embedding cache", [], "warm"),
    ]
    cmd = cg + ["scan", "--staged", "--index", str(index), "--quiet", "--format", "json"]
    rows, results = [], {}
    cwd = Path.cwd()
    os.chdir(repo)
    try:
        cache_file = work / "embeddings.sqlite"
        env = os.environ | {"CODEGUARD_EMBEDDING_CACHE": str(cache_file)}
        run_measured(cmd, env=env)  # warm-up: fills the caches once
        for name, extra, cache in modes:
            runs = []
            for _ in range(args.runs):
                if cache == "fresh":
                    cache_file.unlink(missing_ok=True)
                runs.append(run_measured(cmd + extra, env=env).to_dict())
            ok = [r for r in runs if r["rc"] in (0, 1)]
            walls = [r["wall_s"] for r in ok]
            rows.append(
                [
                    name,
                    fmt_s(median(walls)),
                    fmt_s(min(walls) if walls else None),
                    fmt_s(max(walls) if walls else None),
                    fmt_mb(median([r["peak_rss_kb"] for r in ok])),
                    f"{len(ok)}/{args.runs}",
                ]
            )
            results[name] = {"runs": runs, "median_wall_s": median(walls)}
    finally:
        os.chdir(cwd)
    print(
        "\n## pre-commit latency: `codeguard scan --staged`, 5 staged files, stdlib index "
        f"(runs={args.runs})\n"
    )
    headers = ["mode", "median wall (s)", "min (s)", "max (s)", "median peak RSS", "ok runs"]
    print(markdown_table(headers, rows))
    write_json(
        args.json,
        {"benchmark": "precommit_latency", "machine": machine_info(), "index": str(index), "modes": results},
    )
    shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["median_wall_s"] is not None for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
