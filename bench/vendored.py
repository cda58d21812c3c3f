#!/usr/bin/env python3
"""A real vendored tree against its upstream packages: which vendored files codeguard finds.

The vendored tree (default: pip's ``_vendor`` in this checkout's venv) is copied to
.bench/vendored/tree; for every package in it the upstream copies on this machine are looked
for (site-packages of every Python found, /usr/lib/python3/dist-packages; never a ``_vendor``
directory) and the one sharing most byte-identical files is indexed as its own source
(``--all-copies``: every copy). The tree is then scanned once, and per package this prints:
files (supported-language files, empty ones included), byte-identical files (same bytes as a
file of an indexed copy), found (files with at least one finding), found EXACT (files with an
exact finding over the whole file) and the share of lines inside findings.

Before/after: ``--codeguard PATH`` runs the codeguard of another checkout (e.g. /work/main),
measured the same way. No assertions; prints a markdown table and writes JSON.

Usage:  python bench/vendored.py [--vendor DIR] [--codeguard CHECKOUT] [--ml] [--all-copies]
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BENCH_DIR, REPO, machine_info, markdown_table, write_json  # noqa: E402

SEARCH = [
    sysconfig.get_paths()["purelib"],
    "/usr/lib/python3/dist-packages",
    *glob.glob("/root/.pyenv/versions/*/lib/python3*/site-packages"),
    *glob.glob("/usr/local/lib/python3*/*-packages"),
    *glob.glob(str(REPO / ".venv/lib/python3*/site-packages")),
]


def default_vendor() -> Path:
    found = sorted(glob.glob(str(REPO / ".venv/lib/python3*/site-packages/pip/_vendor")))
    if not found:
        found = sorted(glob.glob("/work/main/.venv/lib/python3*/site-packages/pip/_vendor"))
    if not found:
        sys.exit("no pip/_vendor found; pass --vendor DIR")
    return Path(found[0])


def py_files(root: Path) -> dict[str, bytes]:
    """relpath -> content of the .py files under ``root`` (no caches)."""
    if root.is_file():
        return {root.name: root.read_bytes()}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*.py"))
        if "__pycache__" not in p.parts
    }


def upstream_copies(name: str, vendor: Path) -> list[Path]:
    """Copies of package ``name`` (a directory or a module) outside any vendored tree."""
    out: list[Path] = []
    seen: set[Path] = set()
    for root in SEARCH:
        for cand in (Path(root) / name, Path(root) / f"{name}.py"):
            real = cand.resolve() if cand.exists() else None
            if real is None or real in seen or "_vendor" in real.parts or real.is_relative_to(vendor):
                continue
            seen.add(real)
            out.append(real)
    return out


def label(path: Path) -> str:
    """A short name for where a copy lives."""
    parts = path.parts
    if "versions" in parts:
        return "py" + parts[parts.index("versions") + 1]
    if "dist-packages" in parts:
        return "debian"
    if ".venv" in parts:
        return "venv"
    return "site"


def run(cmd: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> tuple[float, str]:
    """Run ``cmd`` outside any checkout (``python -m`` would import the one in the cwd)."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd="/")
    if proc.returncode not in ok:
        sys.stderr.write(proc.stderr[-4000:])
        sys.exit(f"command failed (exit {proc.returncode}): {' '.join(cmd)}")
    return time.perf_counter() - start, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vendor", type=Path, default=None)
    ap.add_argument("--codeguard", type=Path, default=REPO, help="checkout whose codeguard runs")
    ap.add_argument("--work", type=Path, default=BENCH_DIR / "vendored")
    ap.add_argument("--ml", action="store_true", help="with the model layer (default --no-ml)")
    ap.add_argument("--all-copies", action="store_true", help="index every upstream copy found")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    vendor = (args.vendor or default_vendor()).resolve()
    work = args.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    tree = work / "tree"
    shutil.copytree(vendor, tree, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = os.environ | {"PYTHONPATH": str(args.codeguard.resolve())}
    cg = [sys.executable, "-m", "codeguard"]
    ml = [] if args.ml else ["--no-ml"]
    index = work / "index"

    packages = sorted(
        p.name if p.is_dir() else p.stem
        for p in tree.iterdir()
        if (p.is_dir() and any(p.rglob("*.py"))) or (p.suffix == ".py" and p.name != "__init__.py")
    )
    indexed: dict[str, list[str]] = {}
    upstream_shas: dict[str, set[str]] = {}
    t_index = 0.0
    for pkg in packages:
        ours = py_files(tree / pkg if (tree / pkg).is_dir() else tree / f"{pkg}.py")
        our_shas = {hashlib.sha256(b).hexdigest() for b in ours.values()}
        copies = []
        for copy in upstream_copies(pkg, vendor):
            shas = {hashlib.sha256(b).hexdigest() for b in py_files(copy).values()}
            copies.append((len(shas & our_shas), copy, shas))
        copies.sort(key=lambda c: (-c[0], str(c[1])))
        chosen = copies if args.all_copies else copies[:1]
        upstream_shas[pkg] = set().union(*(c[2] for c in chosen)) if chosen else set()
        indexed[pkg] = []
        for _, copy, _ in chosen:
            name = f"{pkg}@{label(copy)}"
            secs, _ = run([*cg, "index", "add", str(copy), "--name", name, "--index", str(index), *ml], env)
            t_index += secs
            indexed[pkg].append(f"{name} ({copy})")
    t_scan, out = run(
        [*cg, "scan", str(tree), "--index", str(index), "--format", "json", "--fail-on", "none", *ml],
        env,
        ok=(0, 1),
    )
    (work / "report.json").write_text(out)
    report = json.loads(out)
    by_file: dict[str, list[dict]] = {}
    for f in report["findings"] + report.get("suppressed", []):
        by_file.setdefault(f["path"], []).append(f)
    rows, totals = [], [0, 0, 0, 0, 0, 0]
    per_package = {}
    for pkg in packages:
        root = tree / pkg if (tree / pkg).is_dir() else tree / f"{pkg}.py"
        prefix = f"{pkg}/" if root.is_dir() else ""
        files = {prefix + rel: data for rel, data in py_files(root).items()}
        identical = sum(1 for d in files.values() if hashlib.sha256(d).hexdigest() in upstream_shas[pkg])
        found = exact = lines = covered = 0
        misses = []
        for rel, data in files.items():
            n = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
            fs = by_file.get(rel, [])
            marked = set()
            for f in fs:
                marked.update(range(f["start_line"], f["end_line"] + 1))
            lines += n
            covered += len(marked & set(range(1, n + 1)))
            found += bool(fs)
            whole = any(
                f["match_type"] == "exact" and f["start_line"] == 1 and f["end_line"] >= n for f in fs
            )
            exact += whole
            if not whole and hashlib.sha256(data).hexdigest() in upstream_shas[pkg]:
                misses.append(f"{rel} ({n} lines)")
        row = [len(files), identical, found, exact, lines, covered]
        totals = [a + b for a, b in zip(totals, row)]
        per_package[pkg] = dict(zip(["files", "identical", "found", "exact", "lines", "covered"], row))
        per_package[pkg]["identical_not_exact"] = misses
        rows.append([pkg, *row[:4], f"{covered / lines:.0%}" if lines else "—"])
    rows.append(["**all**", *totals[:4], f"{totals[5] / totals[4]:.0%}" if totals[4] else "—"])
    print(f"codeguard: {args.codeguard}  vendored tree: {vendor}  ({'with' if args.ml else 'no'} model)")
    headers = ["package", "files", "byte-identical", "found", "found EXACT", "lines covered"]
    print(markdown_table(headers, rows))
    print(f"\nindex add: {t_index:.1f} s in all; scan: {t_scan:.1f} s (contended machine)")
    missing = [p for p in packages if not indexed[p]]
    if missing:
        print("no upstream copy on this machine: " + ", ".join(missing))
    write_json(
        args.json or work / "results.json",
        {
            "codeguard": str(args.codeguard),
            "vendor": str(vendor),
            "ml": args.ml,
            "indexed": indexed,
            "packages": per_package,
            "totals": dict(zip(["files", "identical", "found", "exact", "lines", "covered"], totals)),
            "seconds_index": round(t_index, 1),
            "seconds_scan": round(t_scan, 1),
            "machine": machine_info(),
        },
    )


if __name__ == "__main__":
    main()
