#!/usr/bin/env python3
"""Latency of `codeguard scan` of a 50-file Python project against a stdlib index.

The project is deterministic: the 50 top-level files of the shared corpus's suspect/
project (10 verbatim, 10 renamed, 10 edited copies of stdlib functions and 20 original
files), built with `corpus.py build` from the installed stdlib.  The index is built once
with `codeguard index add` over the .bench/stdlib tree (every *.py of the installed stdlib,
site-packages excluded) unless --index points at an existing one (for example one kept by
`bench/index_stdlib.py --keep-index DIR`).

Measures `codeguard scan PROJECT --index INDEX --format json` (--warmup untimed runs, then
--runs timed runs; median, min and max wall time, median peak RSS of the process, number of
findings).  Exit status 1 (findings) is the expected result.  No assertions: prints a
markdown table and writes JSON (default .bench/results/query_latency.json).

Usage:  python bench/query_latency.py [--runs N] [--warmup N] [--index DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    BENCH_DIR,
    codeguard_cmd,
    find_shared_bench,
    fmt_mb,
    fmt_s,
    machine_info,
    markdown_table,
    median,
    run_measured,
    stdlib_py_tree,
    tree_stats,
    write_json,
)

PROJECT_FILES = 50


def build_project(dest: Path) -> Path:
    """Copy the 50 categorised top-level suspect files of the corpus into dest/project."""
    shared = find_shared_bench()
    corpus = dest / "corpus"
    subprocess.run(
        [sys.executable, str(shared / "corpus.py"), "build", str(corpus)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    manifest = json.loads((corpus / "manifest.json").read_text())
    names = sorted(s["file"] for s in manifest["suspect"] if s["category"] in ("a", "b", "c", "d"))
    if len(names) != PROJECT_FILES:
        sys.exit(f"expected {PROJECT_FILES} corpus files, found {len(names)}")
    project = dest / "project"
    project.mkdir(parents=True)
    for name in names:
        shutil.copy2(corpus / "suspect" / name, project / name)
    return project


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="timed scans (default 5)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed scans first (default 1)")
    ap.add_argument(
        "--index",
        type=Path,
        default=None,
        help="existing stdlib index (default: build a fresh one)",
    )
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--json", type=Path, default=BENCH_DIR / "results" / "query_latency.json")
    args = ap.parse_args()

    cg = codeguard_cmd()
    (BENCH_DIR / "tmp").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="query-latency-", dir=BENCH_DIR / "tmp"))
    project = build_project(work)
    pstats = tree_stats(project)

    index_build = None
    if args.index is None:
        index = work / "stdlib-index"
        src = stdlib_py_tree()
        print(f"building stdlib index from {src} ...", file=sys.stderr, flush=True)
        index_build = run_measured(
            cg + ["index", "add", str(src), "--name", "stdlib", "--index", str(index)],
            timeout=args.timeout,
        )
        if index_build.rc != 0:
            print(
                f"index add failed (exit {index_build.rc}):\n{index_build.stderr_tail}",
                file=sys.stderr,
            )
            return 1
    else:
        index = args.index.resolve()

    scans = []
    for i in range(args.warmup + args.runs):
        out = work / f"scan-{i}.json"
        res = run_measured(
            cg
            + [
                "scan",
                str(project),
                "--index",
                str(index),
                "--format",
                "json",
                "--output",
                str(out),
            ],
            timeout=args.timeout,
        )
        findings = None
        if res.rc in (0, 1):
            text = out.read_text() if out.exists() and out.stat().st_size else res.stdout
            try:
                findings = len(json.loads(text).get("findings", []))
            except ValueError:
                pass
        else:
            print(f"scan failed (exit {res.rc}):\n{res.stderr_tail}", file=sys.stderr)
        entry = res.to_dict()
        entry.update(warmup=i < args.warmup, findings=findings)
        scans.append(entry)
        print(
            f"scan {i + 1}: {res.wall_s:.2f} s rc={res.rc} findings={findings}"
            f"{' (warm-up)' if i < args.warmup else ''}",
            file=sys.stderr,
            flush=True,
        )

    timed = [s for s in scans if not s["warmup"] and s["rc"] in (0, 1)]
    walls = [s["wall_s"] for s in timed]
    print(f"\n## codeguard scan latency (runs={args.runs}, warm-up={args.warmup})\n")
    print(
        f"project: {pstats['files']} files, {pstats['lines']:,} lines; index: {index}"
        + (f" (built in {index_build.wall_s:.1f} s)" if index_build else "")
        + "\n"
    )
    print(
        markdown_table(
            [
                "command",
                "median wall (s)",
                "min (s)",
                "max (s)",
                "median peak RSS (largest process)",
                "median peak RSS (process tree)",
                "findings",
                "ok runs",
            ],
            [
                [
                    "scan --format json",
                    fmt_s(median(walls)),
                    fmt_s(min(walls) if walls else None),
                    fmt_s(max(walls) if walls else None),
                    fmt_mb(median([s["peak_rss_kb"] for s in timed])),
                    fmt_mb(median([s["peak_tree_rss_kb"] for s in timed])),
                    timed[0]["findings"] if timed else "—",
                    f"{len(timed)}/{args.runs}",
                ]
            ],
        )
    )
    write_json(
        args.json,
        {
            "benchmark": "query_latency",
            "machine": machine_info(),
            "command": cg,
            "args": {k: str(v) for k, v in vars(args).items()},
            "project": str(project),
            "project_stats": pstats,
            "index": str(index),
            "index_build": index_build.to_dict() if index_build else None,
            "median_wall_s": median(walls),
            "scans": scans,
        },
    )
    if args.index is None:
        shutil.rmtree(index, ignore_errors=True)
    return 0 if timed else 1


if __name__ == "__main__":
    sys.exit(main())
