#!/usr/bin/env python3
"""Distributed indexing: `index add --ray` with 1 worker against 2 workers, same corpus.

One local Ray cluster (2 CPUs) is started once; each run adds the corpus to a new sharded index
with at most 1 or 2 shards built at once (``--workers``), alternating, --runs times each, and the
median wall time is reported (the cluster start is reported apart; the driver's connection to
the cluster is part of every run). For reference, the same corpus is added without Ray into one
index with --jobs 1 and --jobs 2 (the local process pool). Fingerprints only (--no-ml) unless
--with-model.

The corpus is the first --files *.py files (sorted paths) of the installed stdlib, copied to a
temporary directory. No assertions: prints a markdown table and writes JSON (default
.bench/results/ray_index.json). The target of issue 12 is 2 workers >= 1.7x one worker; on a
shared machine the numbers are contended (say so when you quote them).

Usage:  python bench/ray_index.py [--files N] [--shard-files N] [--runs N] [--with-model]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import BENCH_DIR, fmt_s, machine_info, markdown_table, median, stdlib_py_tree, write_json  # noqa: E402


def corpus(dest: Path, n_files: int) -> Path:
    tree = stdlib_py_tree()
    files = sorted(p for p in tree.rglob("*.py") if "test" not in p.relative_to(tree).parts[0])[:n_files]
    for p in files:
        rel = p.relative_to(tree)
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p, dest / rel)
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=240)
    ap.add_argument("--shard-files", type=int, default=20)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--with-model", action="store_true")
    ap.add_argument("--out", type=Path, default=BENCH_DIR / "results" / "ray_index.json")
    args = ap.parse_args()

    import ray

    from codeguard.engine.distributed import add_distributed
    from codeguard.engine.indexing import add_source
    from codeguard.index.store import IndexStore
    from codeguard.ml.card import default_model_dir

    encoder = model_dir = model_id = None
    if args.with_model:
        from codeguard.ml.encoder import Encoder

        model_dir = default_model_dir()
        encoder = Encoder.load(model_dir)
        model_id = encoder.card.model_id

    with tempfile.TemporaryDirectory(prefix="ray-bench-") as tmp:
        src = corpus(Path(tmp) / "corpus", args.files)
        t0 = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        start_s = time.perf_counter() - t0
        times: dict[str, list[float]] = {"ray 1": [], "ray 2": [], "local 1": [], "local 2": []}
        shards = 0
        for run in range(args.runs):
            for workers in (1, 2):
                t = time.perf_counter()
                result = add_distributed(
                    Path(tmp) / f"sharded-{run}-{workers}",
                    str(src),
                    name="stdlib",
                    workers=workers,
                    shard_files=args.shard_files,
                    model_dir=model_dir,
                    model_id=model_id,
                )
                times[f"ray {workers}"].append(time.perf_counter() - t)
                shards = len(result.shards)
            for jobs in (1, 2):
                t = time.perf_counter()
                store = IndexStore.open(Path(tmp) / f"single-{run}-{jobs}", create=True)
                add_source(store, str(src), name="stdlib", jobs=jobs, encoder=encoder)
                store.close()
                times[f"local {jobs}"].append(time.perf_counter() - t)
            print(f"run {run + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()), flush=True)
        ray.shutdown()

    med = {k: median(v) for k, v in times.items()}
    rows = [
        ["index add --ray, 1 worker", fmt_s(med["ray 1"]), "1.00x"],
        ["index add --ray, 2 workers", fmt_s(med["ray 2"]), f"{med['ray 1'] / med['ray 2']:.2f}x"],
        ["index add (one index), --jobs 1", fmt_s(med["local 1"]), f"{med['ray 1'] / med['local 1']:.2f}x"],
        ["index add (one index), --jobs 2", fmt_s(med["local 2"]), f"{med['ray 1'] / med['local 2']:.2f}x"],
    ]
    print(
        f"\n{args.files} stdlib files, {shards} shards of {args.shard_files} files, "
        f"{'with the model' if args.with_model else 'fingerprints only'}; median of {args.runs} runs; "
        f"Ray local cluster start {start_s:.1f} s (not counted)\n"
    )
    print(markdown_table(["what", "seconds", "speed vs ray 1 worker"], rows))
    write_json(
        args.out,
        {
            "machine": machine_info(),
            "files": args.files,
            "shard_files": args.shard_files,
            "shards": shards,
            "with_model": args.with_model,
            "ray_start_seconds": start_s,
            "seconds": times,
            "median": med,
        },
    )


if __name__ == "__main__":
    main()
