#!/usr/bin/env python3
"""Cost of indexing the CPython stdlib with `codeguard index add`.

Measures, over --runs fresh indexes (default 3; median reported):
  * wall time and peak RSS of `codeguard index add STDLIB --name stdlib --index TMP --json`
    (a new, empty index directory each run);
  * wall time and peak RSS of a second `index add` of the same, unchanged tree into that
    now-populated index ("re-add unchanged"; should be incremental);
  * size of the result: files / chunks as codeguard reports them (`index add --json`
    summary and `index list --json` stats, text summaries parsed as a fallback), the
    on-disk index size, and files / lines of the input as counted here (codeguard does not
    report lines).

STDLIB is every *.py of the installed CPython stdlib with site-packages excluded, copied to
.bench/stdlib (the same tree bench/corpus_compare.py gives to all tools); --stdlib PATH
indexes another tree instead.  No assertions: prints a markdown table and writes JSON
(default .bench/results/index_stdlib.json).

Usage:  python bench/index_stdlib.py [--runs N] [--stdlib PATH] [--timeout S] [--jobs N]
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


def load_json(text: str) -> dict | None:
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def add_summary(text: str) -> dict:
    """Counts from an `index add` summary: the --json object, else a text line."""
    data = load_json(text)
    if data is not None:
        out = {
            k: data[k]
            for k in ("added", "updated", "unchanged", "removed", "chunks")
            if isinstance(data.get(k), int)
        }
        out["files"] = sum(out.get(k, 0) for k in ("added", "updated", "unchanged"))
        out["skipped"] = len(data.get("skipped") or [])
        return out
    out = {}
    for want in ("files", "chunks", "lines"):
        m = re.search(rf"([\d][\d,_]*)[ \t]+(?:\w+[ \t]+)?(?:{want}|{want[:-1]})\b", text)
        if m:
            out[want] = int(re.sub(r"[,_]", "", m.group(1)))
    return out


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
    ap.add_argument(
        "--jobs", type=int, default=None, help="pass -j N to codeguard (default: codeguard's own default)"
    )
    ap.add_argument("--timeout", type=float, default=1800.0, help="per command, seconds")
    ap.add_argument(
        "--with-model",
        action="store_true",
        help="also embed the chunks with the shipped model (default: --no-ml, the fingerprint path)",
    )
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
    jobs = [] if args.jobs is None else ["-j", str(args.jobs)]
    (BENCH_DIR / "tmp").mkdir(parents=True, exist_ok=True)
    runs = []
    reported: dict = {}
    listed: dict = {}
    last_index = None
    for i in range(args.runs):
        work = Path(tempfile.mkdtemp(prefix="index-stdlib-", dir=BENCH_DIR / "tmp"))
        index_dir = work / "index"
        ml = [] if args.with_model else ["--no-ml"]
        add = cg + [
            "index",
            "add",
            str(src),
            "--name",
            "stdlib",
            "--index",
            str(index_dir),
            "--json",
            *jobs,
            *ml,
        ]
        print(f"run {i + 1}/{args.runs}: index add (fresh) ...", file=sys.stderr, flush=True)
        first = run_measured(add, timeout=args.timeout)
        if first.rc != 0:
            print(
                f"index add failed (exit {first.rc}, timed_out={first.timed_out}):\n{first.stderr_tail}",
                file=sys.stderr,
            )
            runs.append({"fresh": first.to_dict()})
            shutil.rmtree(work, ignore_errors=True)
            break
        size = dir_size(index_dir) if index_dir.exists() else None
        print(f"run {i + 1}/{args.runs}: index add (unchanged) ...", file=sys.stderr, flush=True)
        again = run_measured(add, timeout=args.timeout)
        if i == 0:
            reported = add_summary(first.stdout) or add_summary(first.stderr_tail)
            listing = run_measured(cg + ["index", "list", "--index", str(index_dir), "--json"], timeout=300)
            data = load_json(listing.stdout)
            listed = (data or {}).get("stats") or add_summary(listing.stdout)
        runs.append(
            {
                "fresh": first.to_dict(),
                "readd": again.to_dict(),
                "index_bytes": size,
                "fresh_summary": add_summary(first.stdout),
                "readd_summary": add_summary(again.stdout),
            }
        )
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
    readd_ok = [r for r in ok if r["readd"]["rc"] == 0]
    fresh_s = median([r["fresh"]["wall_s"] for r in ok])
    fresh_rss = median([r["fresh"]["peak_rss_kb"] for r in ok])
    readd_s = median([r["readd"]["wall_s"] for r in readd_ok])
    readd_rss = median([r["readd"]["peak_rss_kb"] for r in readd_ok])
    fresh_tree = median([r["fresh"]["peak_tree_rss_kb"] for r in ok])
    readd_tree = median([r["readd"]["peak_tree_rss_kb"] for r in readd_ok])
    size = median([r["index_bytes"] for r in ok if r.get("index_bytes")])

    def num(value) -> str:
        return f"{value:,}" if isinstance(value, int) else "n/a"

    print(f"\n## codeguard index add — stdlib (runs={args.runs}, {len(ok)} ok)\n")
    print(
        f"input: {src} — {input_stats['files']:,} .py files, {input_stats['lines']:,} lines, "
        f"{input_stats['bytes'] / 1e6:.1f} MB; command: {' '.join(cg)} index add ...\n"
    )
    readd_note = ""
    if readd_ok:
        rs = readd_ok[0]["readd_summary"]
        readd_note = ", ".join(f"{k} {rs[k]}" for k in ("added", "updated", "unchanged") if k in rs)
    rows = [
        [
            "index add (fresh index)",
            fmt_s(fresh_s),
            fmt_mb(fresh_rss),
            fmt_mb(fresh_tree),
            ", ".join(fmt_s(r["fresh"]["wall_s"]) for r in ok),
            "",
        ],
        [
            "re-add unchanged",
            fmt_s(readd_s),
            fmt_mb(readd_rss),
            fmt_mb(readd_tree),
            ", ".join(fmt_s(r["readd"]["wall_s"]) for r in readd_ok),
            readd_note,
        ],
    ]
    print(
        markdown_table(
            [
                "step",
                "median wall (s)",
                "median peak RSS (largest process)",
                "median peak RSS (process tree)",
                "runs (s)",
                "summary",
            ],
            rows,
        )
    )
    lines_per_s = (input_stats["lines"] / fresh_s) if fresh_s else None
    print()
    print(
        markdown_table(
            [
                "files indexed",
                "chunks",
                "fingerprints",
                "files skipped",
                "input files",
                "input lines",
                "index size",
                "input lines/s (fresh)",
            ],
            [
                [
                    num(listed.get("files", reported.get("files"))),
                    num(listed.get("chunks", reported.get("chunks"))),
                    num(listed.get("fingerprints")),
                    num(reported.get("skipped")),
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
            "add_summary": reported,
            "index_list_stats": listed,
            "median": {
                "fresh_s": fresh_s,
                "fresh_peak_rss_kb": fresh_rss,
                "readd_s": readd_s,
                "readd_peak_rss_kb": readd_rss,
                "fresh_peak_tree_rss_kb": fresh_tree,
                "readd_peak_tree_rss_kb": readd_tree,
                "index_bytes": size,
            },
            "runs": runs,
        },
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
