"""Train the verdict classifier (codeguard/verdict/verdict.json) on the TRAIN splits of the
development benchmarks, never on the pairs that measure.

    python bench/verdict_train.py OUT_JSON BENCH_DIR [BENCH_DIR ...]

Each BENCH_DIR is a benchmark built by `bench/verdict_bench.py build ... --split train` or
`bench/sametask_bench.py build ... --split train` (a truth.json, refs/ and suspect/). The script
indexes its references (fingerprints only), scans its suspect files in-process, and keeps every
candidate pair the scan would decide, with its features. Labels come from truth.json: a pair on a
planted copy that names the copy's origin file and overlaps its origin lines is a copy; a pair on
a negative unit (independent code, boilerplate, same-task solutions by other authors) is not;
pairs on a copy unit with another origin, or on no unit, are left out (unknown).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import codeguard_cmd  # noqa: E402

from codeguard.engine.analyze import Analyzed, parallel_map  # noqa: E402
from codeguard.engine.progress import NoProgress  # noqa: E402
from codeguard.engine.scan import ScanOptions, ScoredPair, _analyze_job, discover, match_files  # noqa: E402
from codeguard.engine.semantic import load_semantic, semantic_findings  # noqa: E402
from codeguard.index.store import IndexStore  # noqa: E402
from codeguard.model import Chunk  # noqa: E402
from codeguard.verdict.classifier import Verdict  # noqa: E402
from codeguard.verdict.features import FEATURES  # noqa: E402
from codeguard.verdict.train import expected_calibration_error, fit  # noqa: E402


def uniform_verdict() -> Verdict:
    """A classifier that says 0.5 to everything: collecting pairs needs no trained one."""
    n = len(FEATURES)
    return Verdict(FEATURES, np.zeros(n), np.ones(n), np.zeros(n), 0.0, np.zeros(0), np.zeros(0))


def build_index(bench: Path, truth: dict, with_model: bool) -> Path:
    index = bench / (".train-index-ml" if with_model else ".train-index")
    if (index / "index.db").exists():
        return index
    for s in truth["sources"]:
        subprocess.run(
            codeguard_cmd()
            + [
                "index",
                "add",
                str(bench / s["dir"]),
                "--name",
                s["name"],
                "--license",
                s["license"],
                "--index",
                str(index),
                "--json",
            ]
            + ([] if with_model else ["--no-ml"]),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return index


def collect(bench: Path, with_model: bool = False) -> tuple[list[ScoredPair], dict]:
    """Every candidate pair a scan of the bench would decide: fingerprint pairs, and with the
    model the semantic layer's pairs too (proposed by FAISS or by fingerprint near misses)."""
    truth = json.loads((bench / "truth.json").read_text())
    store = IndexStore.open(build_index(bench, truth, with_model))
    options = ScanOptions(min_probability=2.0)  # nothing is a finding; every pair is collected
    cands, _ = discover(bench / truth["suspect_dir"], options)
    analyzed = [a for a in parallel_map(_analyze_job, cands, 0) if isinstance(a, Analyzed)]
    pairs: list[ScoredPair] = []
    near: dict = defaultdict(set)
    cache: dict = {}
    sources = store.source_map()
    verdict = uniform_verdict()
    match_files(store, analyzed, options, NoProgress(), near, cache, sources, verdict=verdict, collect=pairs)
    if with_model:
        sem, status = load_semantic(store, None, None, use_cache=False)
        if sem is None:
            raise SystemExit(f"{bench}: semantic layer {status}")
        raw: list = []
        semantic_findings(sem, store, analyzed, {}, near, sources, cache, verdict, 2.0, collect=raw)
        for relpath, chunk, row, feat, p in raw:
            ref = cache[row[1]] if row[1] in cache else store.load_file(row[1])
            r_region = Chunk(
                kind=row[2],
                name=row[3],
                start_tok=row[4],
                end_tok=row[5],
                start_line=row[6],
                end_line=row[7],
                depth=0,
            )
            pairs.append(ScoredPair(relpath, chunk, ref.path, sources[ref.source_id].name, r_region, feat, p))
    store.close()
    return pairs, truth


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]) + 1)


def label(pair: ScoredPair, units: list[dict]) -> tuple[int | None, str]:
    """1 copy, 0 not a copy, None unknown; and the unit id that decided it (the split group)."""
    q = (pair.q_region.start_line, pair.q_region.end_line)
    r = (pair.r_region.start_line, pair.r_region.end_line)
    on = [u for u in units if _overlap(q, tuple(u["lines"])) > 0]
    if not on:
        return None, ""
    for u in on:
        o = u.get("origin")
        if u["label"] == "copy" and o and o["source"] == pair.source and o["path"] == pair.ref_path:
            if _overlap(r, tuple(o["lines"])) > 0:
                return 1, u["id"]
    if all(u["label"] == "negative" for u in on):
        return 0, on[0]["id"]
    return None, ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("benches", type=Path, nargs="+")
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--with-model", action="store_true", help="also the semantic layer's pairs")
    ap.add_argument("--pairs", type=Path, help="labelled pairs (.npz): read if it exists, else written")
    args = ap.parse_args()
    xs, ys, groups = [], [], []
    per_bench: dict = {}
    if args.pairs and args.pairs.exists():
        saved = np.load(args.pairs, allow_pickle=False)
        xs, ys, groups = list(saved["x"]), list(saved["y"]), list(saved["groups"])
        per_bench = json.loads(str(saved["per_bench"]))
        print(f"{args.pairs}: {len(ys)} labelled pairs")
    for bench in [] if per_bench else args.benches:
        t0 = time.perf_counter()
        pairs, truth = collect(bench, args.with_model)
        by_path: dict[str, list[dict]] = {}
        for u in truth["units"]:
            by_path.setdefault(u["path"], []).append(u)
        n_pos = n_neg = 0
        for p in pairs:
            y, group = label(p, by_path.get(p.path, []))
            if y is None:
                continue
            xs.append(p.features)
            ys.append(y)
            groups.append(f"{bench.name}:{group}")
            n_pos += y
            n_neg += 1 - y
        name = f"{truth.get('set', 'planted')}:{truth.get('split')}"
        per_bench[name] = {"pairs": len(pairs), "positives": n_pos, "negatives": n_neg}
        print(
            f"{bench}: {len(pairs)} candidate pairs, {n_pos} copies, {n_neg} not copies "
            f"({time.perf_counter() - t0:.1f}s)"
        )
    x = np.stack(xs)
    y = np.array(ys)
    if args.pairs and not args.pairs.exists():
        np.savez(args.pairs, x=x, y=y, groups=np.array(groups), per_bench=json.dumps(per_bench))
    card = {
        "recipe": "python bench/verdict_train.py "
        + ("--with-model " if args.with_model or args.pairs else "")
        + " ".join([str(args.out)] + [b.name for b in args.benches])
        + f" --C {args.C}",
        "data": per_bench,
        "note": (
            "train splits only; measured on the test splits (bench/verdict_bench.py, bench/sametask_bench.py)"
        ),
    }
    model = fit(x, y, groups, c=args.C, card=card)
    model.save(args.out)
    p = model.probability(x)
    print(
        f"fit: {len(y)} pairs ({int(y.sum())} copies); ECE on the calibration part "
        f"{model.card['fit']['calibration_ece']}; "
        f"ECE on all train pairs {expected_calibration_error(p, y):.4f}"
    )
    for f, w in sorted(model.card["fit"]["weights"].items(), key=lambda kv: -abs(kv[1])):
        print(f"  {f:24s} {w:+.3f}")


if __name__ == "__main__":
    main()
