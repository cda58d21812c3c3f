#!/usr/bin/env python3
"""Cost of indexing the CPython stdlib with `codeguard index add`.

Measures, over --runs fresh indexes (default 3; median reported):
  * wall time and peak RSS of `codeguard index add STDLIB --name stdlib --index TMP`
    (a new empty index directory each run);
  * wall time and peak RSS of a second `index add` of the same, unchanged tree into that
    now-populated index ("re-add unchanged": should be incremental);
  * size of the result: files / chunks / lines indexed as codeguard reports them (JSON or
    text summary of `index add`, then `index list`), the on-disk index size, and the
    files / lines of the input as counted here.

STDLIB is every *.py of the installed CPython stdlib with site-packages excluded, copied to
.bench/stdlib (the same tree bench/corpus_compare.py gives to all tools); --stdlib PATH
indexes another tree instead.  No assertions: prints a markdown table and writes JSON
(default .bench/results/index_stdlib.json).

Usage:  python bench/index_stdlib.py [--runs N] [--stdlib PATH] [--timeout S]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
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
    tree_stats,
    write_json,
)

COUNT_KEYS = ("files", "chunks", "lines")


def _find_counts(obj, found: dict) -> None:
    """Collect the first integer found under keys that look like files/chunks/lines."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            low = str(key).lower()
            if isinstance(value, int) and not isinstance(value, bool):
                for want in COUNT_KEYS:
                    one = want[:-1]
                    names = (
                        want,
                        one,
                        f"{one}_count",
                        f"n_{want}",
                        f"num_{want}",
                        f"total_{want}",
                        f"{want}_indexed",
                        f"indexed_{want}",
                    )
                    if want not in found and low in names:
                        found[want] = value
            else:
                _find_counts(value, found)
    elif isinstance(obj, list):
        for item in obj:
            _find_counts(item, found)


def parse_counts(text: str) -> dict:
    """files/chunks/lines from codeguard output: JSON if it parses, else 'N files' text."""
    found: dict = {}
    text = text.strip()
    if not text:
        return found
    try:
        _find_counts(json.loads(text), found)
    except ValueError:
        # text summary such as "indexed 1790 files, 51234 chunks, 858237 lines"
        for want in COUNT_KEYS:
            singular = want[:-1]
            m = re.search(rf"([\d][\d,_]*)[ \t]+(?:\w+[ \t]+)?(?:{want}|{singular})\b", text)
            if m is None:  # "files: 1790"
                m = re.search(rf"\b{singular}s?[ \t]*[:=][ \t]*([\d][\d,_]*)", text, re.I)
            if m:
                found[want] = int(re.sub(r"[,_]", "", m.group(1)))
    return found


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="fresh-index runs (default 3)")
    ap.add_argument(
        "--stdlib",
        type=Path,
        default=None,
        help="tree to index (default: .bench/stdlib copy of the installed stdlib)",
    )
    ap.add_argument("--timeout", type=float, default=1800.0, help="per command, seconds")
    ap.add_argument(
        "--keep-index",
        type=Path,
        default=None,
        help="copy the last index here (e.g. for bench/query_latency.py --index)",
    )
    ap.add_argument("--json", type=Path, default=BENCH_DIR / "results" / "index_stdlib.json")
    args = ap.parse_args()

    src = (args.stdlib or stdlib_py_tree()).resolve()
    input_stats = tree_stats(src)
    cg = codeguard_cmd()
    (BENCH_DIR / "tmp").mkdir(parents=True, exist_ok=True)
    runs = []
    reported: dict = {}
    last_index = None
    for i in range(args.runs):
        work = Path(tempfile.mkdtemp(prefix="index-stdlib-", dir=BENCH_DIR / "tmp"))
        index_dir = work / "index"
        print(f"run {i + 1}/{args.runs}: index add (fresh) ...", file=sys.stderr, flush=True)
        first = run_measured(
            cg + ["index", "add", str(src), "--name", "stdlib", "--index", str(index_dir)],
            timeout=args.timeout,
        )
        if first.rc != 0:
            print(
                f"index add failed (exit {first.rc}, timed_out={first.timed_out}):\n"
                f"{first.stderr_tail}",
                file=sys.stderr,
            )
            runs.append({"fresh": first.to_dict()})
            break
        size = dir_size(index_dir) if index_dir.exists() else None
        print(f"run {i + 1}/{args.runs}: index add (unchanged) ...", file=sys.stderr, flush=True)
        again = run_measured(
            cg + ["index", "add", str(src), "--name", "stdlib", "--index", str(index_dir)],
            timeout=args.timeout,
        )
        if i == 0:
            reported = parse_counts(first.stdout) or parse_counts(first.stderr_tail)
            listing = run_measured(cg + ["index", "list", "--index", str(index_dir)], timeout=300)
            reported_list = parse_counts(listing.stdout)
            for key, value in reported_list.items():
                reported.setdefault(key, value)
            reported["index_list_stdout"] = listing.stdout[-2000:]
        runs.append({"fresh": first.to_dict(), "readd": again.to_dict(), "index_bytes": size})
        if last_index is not None:
            shutil.rmtree(last_index.parent, ignore_errors=True)
        last_index = index_dir
    if args.keep_index and last_index is not None:
        if args.keep_index.exists():
            shutil.rmtree(args.keep_index)
        shutil.copytree(last_index, args.keep_index)
        print(f"index kept at {args.keep_index}", file=sys.stderr)
    if last_index is not None:
        shutil.rmtree(last_index.parent, ignore_errors=True)

    ok = [r for r in runs if r["fresh"]["rc"] == 0]
    fresh_s = median([r["fresh"]["wall_s"] for r in ok])
    fresh_rss = median([r["fresh"]["peak_rss_kb"] for r in ok])
    readd_s = median([r["readd"]["wall_s"] for r in ok if r["readd"]["rc"] == 0])
    readd_rss = median([r["readd"]["peak_rss_kb"] for r in ok if r["readd"]["rc"] == 0])
    size = median([r["index_bytes"] for r in ok if r.get("index_bytes")])

    def rep(key: str) -> str:
        return f"{reported[key]:,}" if isinstance(reported.get(key), int) else "n/a"

    print(f"\n## codeguard index add — stdlib (runs={args.runs}, {len(ok)} ok)\n")
    print(
        f"input: {src} — {input_stats['files']:,} .py files, {input_stats['lines']:,} lines, "
        f"{input_stats['bytes'] / 1e6:.1f} MB\n"
    )
    rows = [
        [
            "index add (fresh index)",
            fmt_s(fresh_s),
            fmt_mb(fresh_rss),
            ", ".join(fmt_s(r["fresh"]["wall_s"]) for r in ok),
        ],
        [
            "re-add unchanged",
            fmt_s(readd_s),
            fmt_mb(readd_rss),
            ", ".join(fmt_s(r["readd"]["wall_s"]) for r in ok),
        ],
    ]
    print(markdown_table(["step", "median wall (s)", "median peak RSS", "runs (s)"], rows))
    lines_per_s = (input_stats["lines"] / fresh_s) if fresh_s else None
    print()
    print(
        markdown_table(
            [
                "files (codeguard)",
                "chunks (codeguard)",
                "lines (codeguard)",
                "files (input)",
                "lines (input)",
                "index size",
                "lines/s (fresh)",
            ],
            [
                [
                    rep("files"),
                    rep("chunks"),
                    rep("lines"),
                    f"{input_stats['files']:,}",
                    f"{input_stats['lines']:,}",
                    "—" if size is None else f"{size / 1e6:.1f} MB",
                    "—" if lines_per_s is None else f"{lines_per_s:,.0f}",
                ]
            ],
        )
    )
    write_json(
        args.json,
        {
            "benchmark": "index_stdlib",
            "machine": machine_info(),
            "command": cg,
            "args": {k: str(v) for k, v in vars(args).items()},
            "input": str(src),
            "input_stats": input_stats,
            "reported_counts": reported,
            "median": {
                "fresh_s": fresh_s,
                "fresh_peak_rss_kb": fresh_rss,
                "readd_s": readd_s,
                "readd_peak_rss_kb": readd_rss,
                "index_bytes": size,
            },
            "runs": runs,
        },
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
