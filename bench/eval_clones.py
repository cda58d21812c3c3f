#!/usr/bin/env python3
"""Clone-detection benchmarks for codeguard's fingerprint scorer, next to published numbers.

Runs POJ-104 (MAP@R on the 12,000-program test split), BigCloneBench (F1 on test_head2000,
threshold chosen on valid_head2000), GCJ (P/R/F1 over all googlejam4 pairs, threshold chosen on
FA-AST's 500 validation pairs) and SOCO 2014 train (P/R/F1 over all same-language pairs,
thresholds chosen across languages) through `codeguard.evaluate`. Data is read in place from
$CODEGUARD_DATA (default ../shared/data, then /work/shared/data).

The fingerprint scorer uses the scan path's k-gram length and window (winnow.K, winnow.W) unless
--k is given; several --k values give one row each (k is then a free parameter: compare rows by
their validation numbers in the JSON, not by test numbers). No assertions: prints a markdown
table and writes JSON (default .bench/results/eval_clones.json).

Usage:  python bench/eval_clones.py [--limit N] [--benchmark NAME ...] [--k K ...] [--out FILE]
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BENCH_DIR, machine_info  # noqa: E402

from codeguard.evaluate.benchmarks import BENCHMARKS, to_json  # noqa: E402
from codeguard.evaluate.cli import BENCHMARK_NAMES, summary_rows  # noqa: E402
from codeguard.evaluate.data import data_dir  # noqa: E402
from codeguard.evaluate.scorers import FingerprintScorer  # noqa: E402
from codeguard.fingerprint.winnow import K, W  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="cap items per split (quick run)")
    ap.add_argument("--benchmark", nargs="+", choices=BENCHMARK_NAMES, default=list(BENCHMARK_NAMES))
    ap.add_argument("--k", type=int, nargs="+", default=[K], help=f"k-gram lengths (default {K})")
    ap.add_argument("--w", type=int, default=W, help=f"winnowing window (default {W})")
    ap.add_argument("--out", type=Path, default=BENCH_DIR / "results" / "eval_clones.json")
    args = ap.parse_args()

    runs = []
    for k in args.k:
        make = functools.partial(FingerprintScorer, k=k, w=args.w)
        for name in args.benchmark:
            t0 = time.perf_counter()
            result = BENCHMARKS[name](make, limit=args.limit)
            wall = time.perf_counter() - t0
            print(f"{name} k={k}: {result['metric']} {result['value']:.4g} in {wall:.1f} s", file=sys.stderr)
            runs.append({"k": k, "w": args.w, "wall_s": wall, "result": result})

    print(f"\nData: {data_dir()}  limit: {args.limit or 'none (full size)'}\n")
    print("| benchmark | metric | scorer | codeguard | published | protocol | time (s) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for run in runs:
        bench, metric, ours, published, how = summary_rows([run["result"]])[0]
        scorer = f"fingerprint k={run['k']} w={run['w']}"
        print(f"| {bench} | {metric} | {scorer} | {ours} | {published} | {how} | {run['wall_s']:.1f} |")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"machine": machine_info(), "data": str(data_dir()), "limit": args.limit, "runs": runs}
    args.out.write_text(json.dumps(to_json(payload), indent=2, sort_keys=True) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
