#!/usr/bin/env python3
"""Scale: index time, size on disk and scan latency against synthetic corpora of growing size.

The corpus is built deterministically from real code on this machine: the Python files of the
standard library, then of site-packages, then the JavaScript of /usr/lib/node_modules (sorted
paths), written as they are (copy 0), then again as *renamed copies* (copy i >= 1: every name
the file defines — functions, classes, assigned names — gets the suffix ``_c{i}``, and integer
literals are shifted by i), until the corpus holds about the wanted number of chunks (estimated
from the ``def``/``class``/``function`` lines; the table gives the real count the index
reports). Every file goes through the real ``codeguard index add`` (parse, chunk, fingerprint,
and with --model embed): nothing is written into SQLite behind its back, so the index time is
the real one.

Scans are cold processes (``codeguard scan DIR``, as a pre-commit hook starts one) of 1, 5 and
50 original files (copy 0, so every one has copies to find), repeated --repeats times: p50 and
p95 wall time and the peak RSS (wait4) of the process. Two kinds of query (--queries):
``identical`` scans the original files as they are (byte-identical to an indexed file: found
by whole-file identity, their chunks are never matched) and ``renamed`` scans renamed copies
of the same files that no indexed copy equals (copy number 997: every chunk goes through
fingerprint matching, alignment and the verdict). With --model, the same after
``codeguard index embed`` with the shipped model, for the sizes up to --model-max-chunks
(embedding runs at ~40-80 chunks/s on 2 CPU cores: a 100k-chunk index takes about half an hour).

Usage:  python bench/scale.py [--sizes 10000,100000] [--repeats 5] [--queries identical,renamed]
        [--model] [--keep] [--reuse]
Writes .bench/results/scale.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import sysconfig
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    BENCH_DIR,
    codeguard_cmd,
    fmt_mb,
    fmt_s,
    machine_info,
    markdown_table,
    run_measured,
    write_json,
)

ROOTS = [
    (Path(sysconfig.get_paths()["stdlib"]), ".py"),
    (Path(sysconfig.get_paths()["purelib"]), ".py"),
    (Path("/usr/lib/node_modules"), ".js"),
]
MAX_FILE_BYTES = 200_000  # larger files are mostly data tables; skipped to keep the build fast
_CHUNK_RE = re.compile(rb"^\s*(?:async\s+def|def|class|function)\b", re.MULTILINE)
_DEF_RE = re.compile(rb"^\s*(?:async\s+def|def|class|function)\s+([A-Za-z_]\w*)", re.MULTILINE)
_ASSIGN_RE = re.compile(rb"^\s*([A-Za-z_]\w*)\s*=[^=]", re.MULTILINE)
_INT_RE = re.compile(rb"\b([1-9]\d{0,5})\b")
SCAN_SIZES = (1, 5, 50)
# The copy number of the renamed queries: above any copy a corpus of these sizes holds.
QUERY_COPY = 997
QUERIES = ("identical", "renamed")


def real_files() -> list[tuple[Path, str]]:
    """(path, name in the corpus) of every usable real source file, in a fixed order."""
    out: list[tuple[Path, str]] = []
    for n, (root, ext) in enumerate(ROOTS):
        if not root.is_dir():
            continue
        for path in sorted(root.rglob(f"*{ext}")):
            if "site-packages" in path.relative_to(root).parts and n == 0:
                continue  # the stdlib root holds site-packages: taken as its own root
            try:
                size = path.stat().st_size
            except OSError:
                continue
            if 200 < size <= MAX_FILE_BYTES and path.is_file():
                out.append((path, f"r{n}/{path.relative_to(root).as_posix()}"))
    return out


def renamed(data: bytes, i: int) -> bytes:
    """Copy ``i`` of a file: its defined names suffixed, its integer literals shifted."""
    names = set(_DEF_RE.findall(data)) | set(_ASSIGN_RE.findall(data))
    names = {n for n in names if len(n) > 2 and not n.startswith(b"__")}
    if names:
        pattern = re.compile(
            rb"\b(" + b"|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + rb")\b"
        )
        data = pattern.sub(lambda m: m.group(1) + b"_c%d" % i, data)
    return _INT_RE.sub(lambda m: b"%d" % (int(m.group(1)) + i), data)


def build_corpus(dest: Path, chunks: int, files: list[tuple[Path, str]]) -> dict[str, int]:
    """Write about ``chunks`` chunks of real and renamed code under ``dest``."""
    if dest.exists():
        shutil.rmtree(dest)
    estimate = n_files = copy = 0
    while estimate < chunks:
        for path, name in files:
            data = path.read_bytes()
            if copy:
                data = renamed(data, copy)
            target = dest / f"c{copy}" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            n_files += 1
            estimate += len(_CHUNK_RE.findall(data)) + 1
            if estimate >= chunks:
                break
        copy += 1
    return {"files": n_files, "estimated_chunks": estimate, "copies": copy}


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def scan_dirs(corpus: Path, work: Path, query: str = "identical") -> dict[int, Path]:
    """Query trees of 1, 5 and 50 original files (spread over the corpus, never tiny), as they
    are (``identical``) or renamed (``renamed``: copy QUERY_COPY of each)."""
    originals = sorted(p for p in (corpus / "c0").rglob("*") if p.is_file() and p.stat().st_size > 2000)
    out = {}
    for n in SCAN_SIZES:
        d = work / (f"q{n}" if query == "identical" else f"r{n}")
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        step = max(1, len(originals) // n)
        for k, src in enumerate(originals[::step][:n]):
            data = src.read_bytes()
            (d / f"f{k}{src.suffix}").write_bytes(data if query == "identical" else renamed(data, QUERY_COPY))
        out[n] = d
    return out


def time_scans(
    cg: list[str], index: Path, dirs: dict[int, Path], repeats: int, ml: bool
) -> dict[str, object]:
    res: dict[str, object] = {}
    for n, d in dirs.items():
        cmd = [*cg, "scan", str(d), "--index", str(index), "--format", "json", "--fail-on", "none", "-q"]
        if not ml:
            cmd.append("--no-ml")
        walls, rss, found = [], [], 0
        for _ in range(repeats):
            r = run_measured(cmd, sample_tree=False)
            if r.rc != 0:
                raise SystemExit(f"scan failed ({r.rc}): {r.stderr_tail}")
            walls.append(r.wall_s)
            rss.append(r.peak_rss_kb)
            found = len(json.loads(r.stdout)["findings"])
        res[str(n)] = {
            "p50_s": statistics.median(walls),
            "p95_s": percentile(walls, 0.95),
            "rss_kb": max(rss),
            "findings": found,
        }
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000", help="chunk counts, comma-separated")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=0, help="index add -j")
    ap.add_argument("--model", action="store_true", help="also embed with the shipped model and scan with it")
    ap.add_argument("--model-max-chunks", type=int, default=10_000)
    ap.add_argument("--keep", action="store_true", help="keep corpora and indexes under .bench/scale")
    ap.add_argument(
        "--reuse", action="store_true", help="scan the corpus and index a --keep run left (no index time)"
    )
    ap.add_argument("--queries", default=",".join(QUERIES), help="identical, renamed or both")
    ap.add_argument("--output", default="scale.json", help="file name under .bench/results")
    args = ap.parse_args()
    cg = codeguard_cmd()
    work = BENCH_DIR / "scale" / Path(args.output).stem  # runs with other outputs may run at once
    files = real_files()
    rows, results = [], []
    queries = [q for q in args.queries.split(",") if q]
    if any(q not in QUERIES for q in queries):
        raise SystemExit(f"--queries: each of {', '.join(QUERIES)}")
    for size in [int(s) for s in args.sizes.split(",")]:
        corpus, index = work / f"corpus-{size}", work / f"index-{size}"
        if args.reuse:
            if not index.is_dir():
                raise SystemExit(f"--reuse: no index at {index} (run with --keep first)")
            listed = run_measured([*cg, "index", "list", "--index", str(index), "--json"], sample_tree=False)
            entry: dict[str, object] = {
                "target_chunks": size,
                "chunks": sum(s["chunks"] for s in json.loads(listed.stdout)["sources"]),
                "index_seconds": None,  # not indexed by this run
                "index_bytes": du(index),
                "reused": True,
            }
        else:
            t0 = time.perf_counter()
            made = build_corpus(corpus, size, files)
            t_corpus = time.perf_counter() - t0
            if index.exists():
                shutil.rmtree(index)
            add = [*cg, "index", "add", str(corpus), "--name", "synth", "--index", str(index), "--no-ml"]
            r = run_measured([*add, "-j", str(args.jobs), "--json", "-q"], sample_tree=False)
            if r.rc != 0:
                raise SystemExit(f"index add failed ({r.rc}): {r.stderr_tail}")
            summary = json.loads(r.stdout)
            entry = {
                "target_chunks": size,
                "corpus": made,
                "corpus_seconds": t_corpus,
                "chunks": summary["chunks"],
                "index_seconds": r.wall_s,
                "index_rss_kb": r.peak_rss_kb,
                "index_bytes": du(index),
            }
        dirs = {q: scan_dirs(corpus, work, q) for q in queries}
        for q in queries:
            key = "scan_no_ml" if q == "identical" else f"scan_no_ml_{q}"
            entry[key] = time_scans(cg, index, dirs[q], args.repeats, ml=False)
        if args.model and size <= args.model_max_chunks and "identical" in dirs:
            e = run_measured(
                [*cg, "index", "embed", "--index", str(index), "--json", "-q"], sample_tree=False
            )
            if e.rc != 0:
                raise SystemExit(f"index embed failed ({e.rc}): {e.stderr_tail}")
            entry["embed_seconds"] = e.wall_s
            entry["index_bytes_ml"] = du(index)
            entry["scan_ml"] = time_scans(cg, index, dirs["identical"], args.repeats, ml=True)
        results.append(entry)
        labels = {
            "scan_no_ml": "fingerprints, identical files",
            "scan_no_ml_renamed": "fingerprints, renamed copies",
            "scan_ml": "model, identical files",
        }
        for mode, label in labels.items():
            scans = entry.get(mode)
            if not isinstance(scans, dict):
                continue
            rows.append(
                [
                    f"{entry['chunks']:,}",
                    label,
                    fmt_s(entry["embed_seconds"] if mode == "scan_ml" else entry["index_seconds"]),  # type: ignore[arg-type]
                    f"{int(entry['index_bytes_ml' if mode == 'scan_ml' else 'index_bytes']) / 1e6:.0f} MB",  # type: ignore[call-overload]
                    *(f"{scans[str(n)]['p50_s']:.2f} / {scans[str(n)]['p95_s']:.2f}" for n in SCAN_SIZES),
                    fmt_mb(max(scans[str(n)]["rss_kb"] for n in SCAN_SIZES)),
                ]
            )
        print(json.dumps(entry), flush=True)
        if not (args.keep or args.reuse):
            shutil.rmtree(corpus, ignore_errors=True)
            shutil.rmtree(index, ignore_errors=True)
    headers = [
        "chunks",
        "mode",
        "index (embed) s",
        "on disk",
        *(f"scan {n} p50/p95 s" for n in SCAN_SIZES),
        "scan RSS",
    ]
    print(markdown_table(headers, rows))
    out = BENCH_DIR / "results" / args.output
    write_json(out, {"machine": machine_info(), "command": " ".join(cg), "results": results})


if __name__ == "__main__":
    main()
