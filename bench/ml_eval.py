#!/usr/bin/env python3
"""Clone benchmarks before and after fine-tuning: fingerprints, the untrained and the fine-tuned
encoder, fingerprints + encoder combined, next to the published CodeBERT numbers.

Each run is ``codeguard eval --benchmark B --scorer S [--model DIR] [--limit N] --json``, its
JSON kept in .bench/results/ml_eval/<column>-<benchmark>.json; with --reuse a run whose file
exists is not repeated (so the table can be rebuilt from runs made by hand with the same CLI).
Prints a markdown table. No assertions.

Usage:  python bench/ml_eval.py --untrained .bench/models/minilm-untrained \\
            --finetuned .bench/models/minilm-ft [--poj-limit N] [--benchmark bcb] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / ".bench" / "results" / "ml_eval"
PUBLISHED_CODEBERT = {"poj104": "82.67", "bcb": "0.941"}


def run(
    column: str, benchmark: str, scorer: str, model: Path | None, limit: int | None, reuse: bool
) -> dict[str, Any] | None:
    path = RESULTS / f"{column}-{benchmark}.json"
    if reuse and path.is_file():
        saved: dict[str, Any] = json.loads(path.read_text())
        return saved
    cmd = [sys.executable, "-m", "codeguard", "eval", "--benchmark", benchmark, "--scorer", scorer, "--json"]
    if model is not None:
        cmd += ["--model", str(model)]
    if limit:
        cmd += ["--limit", str(limit)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        print(f"{column}/{benchmark}: exit {proc.returncode}: {proc.stderr.strip()[-500:]}", file=sys.stderr)
        return None
    payload: dict[str, Any] = json.loads(proc.stdout)
    payload["wall_s"] = round(wall, 1)
    payload["command"] = " ".join(cmd[2:])
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    print(f"{column}/{benchmark}: {wall:.0f} s", file=sys.stderr)
    return payload


def cell(payload: dict[str, Any] | None) -> str:
    if not payload:
        return "–"
    r = payload["results"][0]
    v = f"{r['value']:.2f}" if r["benchmark"] == "poj104" else f"{r['value']:.3f}"
    extra = []
    if r["benchmark"] == "bcb":
        extra.append(f"AUC {r['auc']:.3f}")
    if r["benchmark"] == "poj104" and payload.get("limit"):
        extra.append(f"{r['n_programs']} programs")
    if str(r.get("variant", "")).startswith("w="):
        extra.append(r["variant"])
    return v + (f" ({', '.join(extra)})" if extra else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--untrained", type=Path)
    ap.add_argument("--finetuned", type=Path)
    ap.add_argument("--benchmark", action="append", choices=["poj104", "bcb", "gcj", "soco"])
    ap.add_argument("--poj-limit", type=int, default=None, help="POJ-104 programs per split (default all)")
    ap.add_argument(
        "--combined-poj", action="store_true", help="also run combined on POJ-104, GCJ and SOCO (slow)"
    )
    ap.add_argument("--reuse", action="store_true", help="reuse saved runs instead of repeating them")
    args = ap.parse_args()
    benchmarks = args.benchmark or ["bcb", "poj104"]

    columns: list[tuple[str, str, str, Path | None]] = [("fingerprints", "fingerprints", "fingerprint", None)]
    if args.untrained:
        columns += [("untrained", "untrained MiniLM", "model", args.untrained)]
    if args.finetuned:
        columns += [("finetuned", "fine-tuned MiniLM", "model", args.finetuned)]
    if args.untrained:
        columns += [("combined-untrained", "fp + untrained", "combined", args.untrained)]
    if args.finetuned:
        columns += [("combined-finetuned", "fp + fine-tuned", "combined", args.finetuned)]

    table: dict[str, dict[str, str]] = {b: {} for b in benchmarks}
    for b in benchmarks:
        limit = args.poj_limit if b == "poj104" else None
        for key, label, scorer, model in columns:
            if scorer == "combined" and b != "bcb" and not args.combined_poj:
                table[b][label] = "not run"
                continue
            table[b][label] = cell(run(key, b, scorer, model, limit, args.reuse))
    labels = [label for _, label, _, _ in columns]
    metric = {"poj104": "MAP@R (%)", "bcb": "F1 (test_head2000)", "gcj": "F1", "soco": "F1"}
    print("| benchmark | metric | " + " | ".join(labels) + " | published CodeBERT |")
    print("| --- | --- | " + " | ".join("---" for _ in labels) + " | --- |")
    for b in benchmarks:
        row = [table[b][label] for label in labels]
        print(f"| {b} | {metric[b]} | " + " | ".join(row) + f" | {PUBLISHED_CODEBERT.get(b, '—')} |")


if __name__ == "__main__":
    main()
