#!/usr/bin/env python3
"""`codeguard index add` of the standard library with the model on: two codeguard trees, side by side.

Runs ``python -m codeguard index add STDLIB --name stdlib --index FRESH --json`` with the model
each tree ships, alternating the trees (before, after, before, after...) so that load on a
shared machine hits both alike, and reports per tree the median wall time, CPU time (user + sys
of the process and its workers), the chunks embedded and the seconds `index add` says it spent
embedding them. STDLIB is the .bench/stdlib copy of the installed standard library (the tree
bench/index_stdlib.py indexes). No assertions: prints a markdown table, writes
.bench/results/index_model_ab.json.

Before = another checkout, e.g. main's code:
    git archive main | tar -x -C /tmp/codeguard-main
    python bench/index_model_ab.py --before /tmp/codeguard-main [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BENCH_DIR, stdlib_py_tree  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def run_add(tree: Path, src: Path, timeout: float) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="index-model-ab-", dir=BENCH_DIR / "tmp"))
    env = dict(os.environ, PYTHONPATH=str(tree))
    cmd = [sys.executable, "-m", "codeguard", "index", "add", str(src), "--name", "stdlib"]
    cmd += ["--index", str(work / "index"), "--json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    # cwd outside both trees, so that PYTHONPATH decides which codeguard is imported
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=work, timeout=timeout, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    shutil.rmtree(work, ignore_errors=True)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if out.returncode != 0:
        raise SystemExit(f"{tree}: index add failed (exit {out.returncode}):\n{out.stderr[-2000:]}")
    data = json.loads(out.stdout)
    added = data["added"][0] if isinstance(data.get("added"), list) else data
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "chunks": added.get("chunks"),
        "embedded": added.get("embedded"),
        "embed_model": added.get("embed_model"),
        "embed_seconds": added.get("embed_seconds"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", type=Path, required=True, help="the other codeguard checkout")
    ap.add_argument("--after", type=Path, default=REPO, help="default: this checkout")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=3600)
    args = ap.parse_args()
    (BENCH_DIR / "tmp").mkdir(parents=True, exist_ok=True)
    src = stdlib_py_tree()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in trees}
    for i in range(args.runs):
        for name, tree in trees.items():
            print(f"run {i + 1}/{args.runs}: {name} ({tree}) ...", file=sys.stderr, flush=True)
            runs[name].append(run_add(tree, src, args.timeout))
            print(f"  {runs[name][-1]}", file=sys.stderr, flush=True)
    print(f"\n`codeguard index add` of {src} with the model on, runs={args.runs} (median)\n")
    print("| | model | chunks | embedded | wall, s | CPU, s | embedding, s (as reported) | embedded/s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, rs in runs.items():
        wall = statistics.median(r["wall_s"] for r in rs)
        cpu = statistics.median(r["cpu_s"] for r in rs)
        emb = statistics.median(r["embed_seconds"] for r in rs)
        r0 = rs[0]
        print(
            f"| {name} | {r0['embed_model']} | {r0['chunks']:,} | {r0['embedded']:,} | {wall:.0f} "
            f"| {cpu:.0f} | {emb:.0f} | {r0['embedded'] / emb:.0f} |"
        )
    out = BENCH_DIR / "results" / "index_model_ab.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {"trees": {k: str(v) for k, v in trees.items()}, "runs": runs}
    out.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
