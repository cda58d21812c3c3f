#!/usr/bin/env python3
"""Detection quality and cost of codeguard vs. copydetect and Dolos on the shared corpus.

Measures, for each tool on the *same* input:
  * found/10 for corpus categories (a) verbatim, (b) renamed+reformatted,
    (c) renamed + 1-3 statement edits, false positives on the 20 (d) originals,
    and other wrong (suspect, reference) pairs;
  * wall time and peak RSS of the tool's process(es).

Input: `corpus.py build` output (DIR/suspect is the project under scan).  References:
  * "stdlib" - every *.py of the installed CPython stdlib (site-packages excluded), copied
    to .bench/stdlib so all tools read the same tree; scored with `--stdlib-refs`
    (expected reference = stdlib module path, e.g. json/encoder.py).  This is the
    comparison the issue asks for.
  * "reference" - DIR/reference (40 one-function files); scored without `--stdlib-refs`.
    Run as well so that a peer that cannot finish on the stdlib still has a number.

Tools / how they are driven:
  * codeguard: `index add REFS --index TMP` (fresh index) then
    `scan DIR/suspect --index TMP --format json`; pair = (finding.path, finding.origin.path).
    Time and RSS cover index + scan (shown separately too).
  * copydetect 0.5.0: shared/bench/peers/copydetect_pairs.py (CLI defaults; a pair is
    reported when copydetect flags it, i.e. test-side similarity >= display_t 0.33).
  * Dolos (dolos-lib 3.5.1):
      - "dolos run": peers/dolos_run.mjs, mirrors `dolos run -f csv` (all pairs of all files);
      - "dolos query": peers/dolos_query.mjs, only suspect x reference pairs.
    Dolos has no "flagged" cut-off of its own (minSimilarity defaults to 0), so a pair is
    reported when its similarity >= --dolos-threshold (default 0.25, the lowest threshold
    the Dolos web UI similarity setting offers).

A peer that exceeds --peer-timeout (default 600 s) is recorded as "did not finish in N s".
Detection results come from the first run; times and RSS are the median over --runs.
No assertions: prints a markdown table, writes JSON (default .bench/results/corpus_compare.json).

Usage:  python bench/corpus_compare.py [--runs N] [--peer-timeout S] [--tools ...] [--refs ...]
Needs:  bench/setup_peers.sh run once (peers live in .bench/).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    BENCH_DIR,
    DOLOS_DIR,
    PEERS_VENV,
    RunResult,
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

# codeguard: the default (fingerprints + the shipped model's semantic layer);
# codeguard-noml: fingerprints only (`index add --no-ml`, `scan --no-ml`).
TOOLS = ["codeguard", "codeguard-noml", "copydetect", "dolos-run", "dolos-query"]
REFSETS = ["stdlib", "reference"]
CSV_FIELD_LIMIT = 1 << 30


# --------------------------------------------------------------------------- tool drivers
# Each driver returns (pairs, [RunResult, ...], info) where pairs is the normalised list
# [{"suspect", "reference", "score"}] relative to DIR/suspect and to the reference root.


def run_codeguard(
    suspect: Path, refs: Path, refname: str, work: Path, timeout: float, extra: tuple[str, ...] = ()
):
    index_dir = work / "cg-index"
    if index_dir.exists():
        shutil.rmtree(index_dir)
    cg = codeguard_cmd()
    add = run_measured(
        cg + ["index", "add", str(refs), "--name", refname, "--index", str(index_dir), *extra],
        timeout=timeout,
    )
    if add.timed_out or add.rc != 0:
        return None, [add], {"step": "index add"}
    out_json = work / "cg-scan.json"
    scan = run_measured(
        cg
        + [
            "scan",
            str(suspect),
            "--index",
            str(index_dir),
            "--format",
            "json",
            "--output",
            str(out_json),
            *extra,
        ],
        timeout=max(1.0, timeout - add.wall_s),
    )
    if scan.timed_out or scan.rc not in (0, 1):
        return None, [add, scan], {"step": "scan"}
    shutil.rmtree(index_dir, ignore_errors=True)  # can be large; not needed any more
    text = out_json.read_text() if out_json.exists() and out_json.stat().st_size else scan.stdout
    report = json.loads(text)
    pairs = []
    for f in report.get("findings", []):
        pairs.append(
            {
                "suspect": f["path"],
                "reference": f["origin"]["path"],
                "score": f.get("score"),
                "match_type": f.get("match_type"),
                "also_in": [a.get("path") if isinstance(a, dict) else a for a in f.get("also_in") or []],
            }
        )
    info = {
        "index_s": add.wall_s,
        "scan_s": scan.wall_s,
        "index_rss_kb": add.peak_rss_kb,
        "scan_rss_kb": scan.peak_rss_kb,
        "findings": len(report.get("findings", [])),
        "skipped": len(report.get("skipped", [])),
        "stats": report.get("stats"),
    }
    return pairs, [add, scan], info


def run_copydetect(suspect: Path, refs: Path, work: Path, timeout: float, shared: Path):
    out = work / "copydetect.json"
    py = PEERS_VENV / "bin" / "python"
    res = run_measured(
        [str(py), str(shared / "peers" / "copydetect_pairs.py"), str(suspect), str(refs), str(out)],
        timeout=timeout,
    )
    if res.timed_out or res.rc != 0:
        return None, [res], {}
    pairs = json.loads(out.read_text())
    return pairs, [res], {"driver_stdout": res.stdout.strip()}


def _dolos_env() -> dict:
    env = dict(os.environ)
    # The stdlib run needs > 4 GB of JS heap (the default cap on a 24 GB machine).
    env.setdefault("NODE_OPTIONS", "--max-old-space-size=16384")
    return env


def _rel(path: str, root: Path) -> str | None:
    rel = os.path.relpath(os.path.abspath(path), root)
    return None if rel.startswith("..") else rel


def run_dolos_run(suspect: Path, refs: Path, work: Path, timeout: float, threshold: float):
    outdir = work / "dolos-run"
    res = run_measured(
        ["node", str(DOLOS_DIR / "dolos_run.mjs"), str(outdir), str(suspect), str(refs)],
        timeout=timeout,
        cwd=DOLOS_DIR,
        env=_dolos_env(),
    )
    if res.timed_out or res.rc != 0:
        return None, [res], {}
    pairs = []
    csv.field_size_limit(CSV_FIELD_LIMIT)
    with open(outdir / "pairs.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            left, right = row["leftFilePath"], row["rightFilePath"]
            ls, rr = _rel(left, suspect), _rel(right, refs)
            if ls is None or rr is None:
                ls, rr = _rel(right, suspect), _rel(left, refs)
            if ls is None or rr is None:
                continue  # suspect-suspect or reference-reference pair
            sim = float(row["similarity"])
            if sim >= threshold:
                pairs.append({"suspect": ls, "reference": rr, "score": round(sim, 3)})
    return pairs, [res], {"driver_stdout": res.stdout.strip()}


def run_dolos_query(suspect: Path, refs: Path, work: Path, timeout: float, threshold: float):
    out = work / "dolos-query.csv"
    res = run_measured(
        ["node", str(DOLOS_DIR / "dolos_query.mjs"), str(out), str(suspect), str(refs)],
        timeout=timeout,
        cwd=DOLOS_DIR,
        env=_dolos_env(),
    )
    if res.timed_out or res.rc != 0:
        return None, [res], {}
    pairs = []
    csv.field_size_limit(CSV_FIELD_LIMIT)
    with open(out, newline="") as fh:
        for row in csv.DictReader(fh):
            ls, rr = _rel(row["suspect"], suspect), _rel(row["reference"], refs)
            if ls is None or rr is None:
                continue
            sim = float(row["similarity"])
            if sim >= threshold:
                pairs.append({"suspect": ls, "reference": rr, "score": round(sim, 3)})
    return pairs, [res], {"driver_stdout": res.stdout.strip()}


# --------------------------------------------------------------------------- scoring


def dedupe(pairs: list[dict]) -> list[dict]:
    """One entry per (suspect, reference), keeping the highest score."""
    best: dict[tuple[str, str], dict] = {}
    for p in pairs:
        key = (p["suspect"], p["reference"])
        if key not in best or (p.get("score") or 0) > (best[key].get("score") or 0):
            best[key] = p
    return sorted(best.values(), key=lambda p: (p["suspect"], p["reference"]))


def score(shared: Path, corpus: Path, pairs: list[dict], label: str, stdlib_refs: bool, work: Path) -> dict:
    path = work / f"pairs-{label}.json"
    path.write_text(json.dumps(pairs, indent=1) + "\n")
    cmd = [
        sys.executable,
        str(shared / "corpus.py"),
        "score",
        str(corpus),
        str(path),
        "--label",
        label,
    ]
    if stdlib_refs:
        cmd.append("--stdlib-refs")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out[out.index("{") :])


# --------------------------------------------------------------------------- main


def rss_cell(e: dict) -> str:
    """Largest process; plus the summed process tree when it is clearly larger."""
    one, tree = e["peak_rss_kb_median"], e.get("peak_tree_rss_kb_median")
    if one is not None and tree and tree > 1.2 * one:
        return f"{fmt_mb(one)} (tree {fmt_mb(tree)})"
    return fmt_mb(one)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--runs",
        type=int,
        default=1,
        help="runs per tool/ref set; table shows median time and RSS (default 1)",
    )
    ap.add_argument(
        "--peer-timeout",
        type=float,
        default=600.0,
        help="seconds before a tool run is abandoned (default 600)",
    )
    ap.add_argument("--tools", nargs="+", choices=TOOLS, default=TOOLS)
    ap.add_argument("--refs", nargs="+", choices=REFSETS, default=REFSETS)
    ap.add_argument("--dolos-threshold", type=float, default=0.25)
    ap.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="scratch dir (default: a fresh temp dir under .bench/tmp)",
    )
    ap.add_argument("--json", type=Path, default=BENCH_DIR / "results" / "corpus_compare.json")
    args = ap.parse_args()

    shared = find_shared_bench()
    (BENCH_DIR / "tmp").mkdir(parents=True, exist_ok=True)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="corpus-compare-", dir=BENCH_DIR / "tmp"))
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / "corpus"
    subprocess.run(
        [sys.executable, str(shared / "corpus.py"), "build", str(corpus)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    suspect = (corpus / "suspect").resolve()
    refdirs = {"stdlib": stdlib_py_tree().resolve(), "reference": (corpus / "reference").resolve()}

    missing = []
    if "copydetect" in args.tools and not (PEERS_VENV / "bin" / "python").exists():
        missing.append("copydetect")
    if (
        any(t.startswith("dolos") for t in args.tools)
        and not (DOLOS_DIR / "node_modules" / "@dodona" / "dolos-lib").is_dir()
    ):
        missing.append("dolos")
    if missing:
        print(f"peers not set up ({', '.join(missing)}): run bench/setup_peers.sh", file=sys.stderr)
        return 2

    results = []
    for refname in args.refs:
        refs = refdirs[refname]
        for tool in args.tools:
            label = f"{tool}@{refname}"
            runs: list[list[RunResult]] = []
            pairs = None
            info: dict = {}
            status = "ok"
            for i in range(args.runs):
                sub = work / label.replace("@", "_") / f"run{i}"
                sub.mkdir(parents=True, exist_ok=True)
                print(
                    f"[{time.strftime('%H:%M:%S')}] {label} run {i + 1}/{args.runs} ...",
                    file=sys.stderr,
                    flush=True,
                )
                if tool == "codeguard":
                    p, rr, inf = run_codeguard(suspect, refs, refname, sub, args.peer_timeout)
                elif tool == "codeguard-noml":
                    p, rr, inf = run_codeguard(suspect, refs, refname, sub, args.peer_timeout, ("--no-ml",))
                elif tool == "copydetect":
                    p, rr, inf = run_copydetect(suspect, refs, sub, args.peer_timeout, shared)
                elif tool == "dolos-run":
                    p, rr, inf = run_dolos_run(suspect, refs, sub, args.peer_timeout, args.dolos_threshold)
                else:
                    p, rr, inf = run_dolos_query(suspect, refs, sub, args.peer_timeout, args.dolos_threshold)
                runs.append(rr)
                if p is None:
                    last = rr[-1]
                    if last.timed_out:
                        status = f"did not finish in {args.peer_timeout:.0f} s"
                    else:
                        status = f"failed (exit {last.rc}): {last.stderr_tail.strip()[-300:]}"
                    info = inf
                    break  # do not repeat a run that timed out or failed
                if i == 0:
                    pairs, info = dedupe(p), inf
                else:
                    # keep per-run timings of codeguard's two steps
                    for k in ("index_s", "scan_s"):
                        if k in inf:
                            info.setdefault(k + "_runs", [info[k]]).append(inf[k])
            walls = [sum(r.wall_s for r in rr) for rr in runs]
            rsss = [max(r.peak_rss_kb for r in rr) for rr in runs]
            trees = [max(r.peak_tree_rss_kb for r in rr) for rr in runs]
            entry = {
                "tool": tool,
                "refs": refname,
                "ref_dir": str(refs),
                "status": status,
                "wall_s_median": median(walls),
                "wall_s_runs": walls,
                "peak_rss_kb_median": median(rsss),
                "peak_rss_kb_runs": rsss,
                "peak_tree_rss_kb_median": median(trees),
                "peak_tree_rss_kb_runs": trees,
                "info": info,
                "runs": [[r.to_dict() for r in rr] for rr in runs],
            }
            if pairs is not None:
                entry["pairs"] = pairs
                entry["score"] = score(
                    shared, corpus, pairs, label.replace("@", "_"), refname == "stdlib", work
                )
            results.append(entry)
            print(
                f"    -> {status}, {fmt_s(entry['wall_s_median'])} s, {fmt_mb(entry['peak_rss_kb_median'])}",
                file=sys.stderr,
                flush=True,
            )

    headers = [
        "tool",
        "refs",
        "a found/10",
        "b found/10",
        "c found/10",
        "FP on d (files)",
        "other wrong pairs",
        "wall time (s)",
        "peak RSS",
    ]
    rows = []
    for e in results:
        sc = e.get("score")
        wall = fmt_s(e["wall_s_median"])
        if e["tool"].startswith("codeguard") and "index_s" in e["info"]:
            ix = median(e["info"].get("index_s_runs", [e["info"]["index_s"]]))
            sn = median(e["info"].get("scan_s_runs", [e["info"]["scan_s"]]))
            wall += f" (index {fmt_s(ix)} + scan {fmt_s(sn)})"
        if sc is None:
            rows.append(
                [
                    e["tool"],
                    e["refs"],
                    "—",
                    "—",
                    "—",
                    "—",
                    "—",
                    e["status"] if e["status"].startswith("did not") else f"{wall} — {e['status'][:80]}",
                    rss_cell(e),
                ]
            )
            continue
        d_fp = len(sc["d_false_positive_files"])
        other = sum(1 for s, _r, _x in sc["false_positive_pairs"] if s not in sc["d_false_positive_files"])
        rows.append(
            [
                e["tool"],
                e["refs"],
                f"{sc['a']['found']}/{sc['a']['of']}",
                f"{sc['b']['found']}/{sc['b']['of']}",
                f"{sc['c']['found']}/{sc['c']['of']}",
                f"{d_fp}/20",
                other,
                wall,
                rss_cell(e),
            ]
        )

    st = tree_stats(refdirs["stdlib"])
    print(
        f"\n## Corpus comparison (runs={args.runs}, peer timeout {args.peer_timeout:.0f} s, "
        f"Dolos threshold {args.dolos_threshold})\n"
    )
    print(
        f"stdlib refs: {st['files']} files, {st['lines']} lines ({refdirs['stdlib']}); "
        f"reference refs: 40 one-function files; suspect: {suspect}\n"
    )
    print(markdown_table(headers, rows))
    print(
        "\n'other wrong pairs' = reported pairs on a/b/c/licence files whose reference is "
        "not the expected one.\n"
        "peak RSS = largest single process (wait4); '(tree N)' = summed RSS of its process "
        "group, sampled every 0.1 s, shown when over 1.2x larger.\n"
        "median wall time and peak RSS over the runs; detection from the first run."
    )
    write_json(
        args.json,
        {
            "benchmark": "corpus_compare",
            "machine": machine_info(),
            "args": {k: str(v) for k, v in vars(args).items()},
            "corpus": str(corpus),
            "stdlib": st,
            "results": results,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
