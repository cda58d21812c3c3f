"""License detection speed: codeguard's detector next to ScanCode's on the same files.

    python bench/license_speed.py [--limit 200] [--scancode-python .bench/scancode-venv/bin/python]

Input: the first ``--limit`` test files (sorted by path) of ScanCode's data-driven license tests
(``shared/data/scancode-license-tests``). Each tool loads its license index first (timed on its
own: ScanCode's ``get_licenses`` on one file, codeguard's ``detect_licenses`` on one text), then
detects every file once; the table gives files per second of the detection pass and the ratio.
Quality is ``bench/license_detect.py``'s job (these are ScanCode's own regression tests, so
ScanCode passes them by construction).

ScanCode runs in its own virtual environment (its dependencies are not codeguard's), set up once:

    python3 -m venv .bench/scancode-venv
    .bench/scancode-venv/bin/pip install scancode-toolkit-mini==32.5.0 pluggy==1.0.0

(pluggy 1.0.0: with the pluggy 1.7 that pip picks, ScanCode 32.5's plugin manager finds no hooks
and every call fails.) Without that venv the ScanCode row is left out.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from license_detect import find_data  # noqa: E402

SCANCODE_DRIVER = r"""
import json, sys, time
from scancode.api import get_licenses
paths = json.loads(sys.stdin.read())
t0 = time.perf_counter()
get_licenses(paths[0])
load = time.perf_counter() - t0
t1 = time.perf_counter()
found = 0
for p in paths:
    found += len(get_licenses(p).get("license_detections", []))
print(json.dumps({"load_s": load, "detect_s": time.perf_counter() - t1, "detections": found}))
"""


def codeguard_pass(paths: list[Path]) -> dict[str, float]:
    from codeguard.licenses.detect import detect_licenses

    texts = [p.read_bytes().decode("utf-8", "replace") for p in paths]
    t0 = time.perf_counter()
    detect_licenses(texts[0])
    load = time.perf_counter() - t0
    t1 = time.perf_counter()
    found = sum(len(list(detect_licenses(t))) for t in texts)
    return {"load_s": load, "detect_s": time.perf_counter() - t1, "detections": found}


def scancode_pass(python: Path, paths: list[Path], timeout: float) -> dict[str, float] | None:
    if not python.is_file():
        print(f"no ScanCode venv at {python}: the ScanCode row is left out", file=sys.stderr)
        return None
    proc = subprocess.run(
        [str(python), "-W", "ignore", "-c", SCANCODE_DRIVER],
        input=json.dumps([str(p) for p in paths]),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        print(f"ScanCode failed: {proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data")
    ap.add_argument("--limit", type=int, default=200)
    venv_python = REPO / ".bench" / "scancode-venv" / "bin" / "python"
    ap.add_argument("--scancode-python", type=Path, default=venv_python)
    ap.add_argument("--timeout", type=float, default=3600.0)
    args = ap.parse_args()
    data = find_data(args.data)
    lines = (data / "expectations.jsonl").read_text().splitlines()
    cases = [json.loads(line) for line in lines if line.strip()]
    paths = sorted(data / "datadriven" / c["test_file"] for c in cases)
    paths = [p for p in paths if p.is_file()][: args.limit]
    size = sum(p.stat().st_size for p in paths)
    print(f"{len(paths)} files, {size / 1e6:.2f} MB", file=sys.stderr)
    rows = {"codeguard": codeguard_pass(paths)}
    sc = scancode_pass(args.scancode_python, paths, args.timeout)
    if sc is not None:
        rows["ScanCode 32.5.0 (scancode.api.get_licenses)"] = sc
    print("| tool | index load s | detection pass s | files/s | detections |")
    print("| --- | --- | --- | --- | --- |")
    for name, r in rows.items():
        rate = len(paths) / r["detect_s"] if r["detect_s"] else float("inf")
        print(f"| {name} | {r['load_s']:.2f} | {r['detect_s']:.2f} | {rate:,.1f} | {int(r['detections'])} |")
    if sc is not None:
        ratio = sc["detect_s"] / rows["codeguard"]["detect_s"]
        print(f"\ncodeguard is {ratio:.1f}x faster on the detection pass")


if __name__ == "__main__":
    main()
