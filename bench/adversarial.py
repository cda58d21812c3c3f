"""Cost of adversarial inputs: wall time and peak RSS of `codeguard scan` on inputs that once
blew up (nested functions with the model on, a file of thousands of functions, a data table
shaped like idna's uts46data.py matched against an index holding it).

    python bench/adversarial.py [--code DIR] [--timeout S] [--skip TEXT...]

``--code`` points PYTHONPATH at another checkout (to measure before/after a change). A run that
exceeds ``--timeout`` is killed and reported as such with the memory it had reached.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from conftest import write_corpus  # noqa: E402
from test_adversarial import data_table, nested_js  # noqa: E402


def run(code: Path, args: list[str], timeout: float) -> tuple[str, float, float]:
    """(exit status or "killed", seconds, peak RSS in MB) of ``python -m codeguard ARGS``."""
    env = os.environ | {"PYTHONPATH": str(code)}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeguard", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=tempfile.gettempdir(),  # not the checkout: `python -m` would import it first
        start_new_session=True,
    )
    timer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
    timer.start()
    _, status, usage = os.wait4(proc.pid, 0)
    timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    outcome = "killed" if proc.returncode == -signal.SIGKILL else str(proc.returncode)
    return outcome, time.perf_counter() - start, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--code", type=Path, default=REPO, help="checkout whose codeguard runs")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--skip", nargs="*", default=[], help="leave out the cases whose label has this text")
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        corpus = write_corpus(tmp / "corpus")
        ml_index, table_index = tmp / "ml", tmp / "table-index"
        run(opts.code, ["index", "add", str(corpus.root), "--index", str(ml_index)], opts.timeout)
        ref = tmp / "table-ref"
        ref.mkdir()
        (ref / "uts46data.py").write_text(data_table(1))
        (ref / "other_table.py").write_text(data_table(2))
        run(opts.code, ["index", "add", str(ref), "--index", str(table_index), "--no-ml"], opts.timeout)
        body = "var x = a + b * c - d; if (x > 10) { return x * {i}; } return g(x, a, b, c);"
        siblings = "".join(
            f"function g{i}(a,b,c,d){{\n  {body.replace('{i}', str(i))}\n}}\n" for i in range(6000)
        )
        cases = {
            "2,000 nested JS functions, model on": ("deep.js", nested_js(2_000), ml_index, []),
            "20,000 nested JS functions, model on": ("deep.js", nested_js(20_000), ml_index, []),
            "6,000 sibling JS functions, model on": ("many.js", siblings, ml_index, []),
            "data table (8,500 rows) vs an index holding it": (
                "uts46data.py",
                data_table(1),
                table_index,
                ["--no-ml"],
            ),
        }
        print(f"codeguard from {opts.code}\n")
        print("| input | bytes | exit | seconds | peak RSS MB |\n|---|---:|---:|---:|---:|")
        for label, (name, text, index, extra) in cases.items():
            if any(word in label for word in opts.skip):
                continue
            tree = tmp / f"tree-{random.randrange(1 << 30)}"
            tree.mkdir()
            (tree / name).write_text(text)
            args = ["scan", str(tree), "--index", str(index), "--format", "json", *extra]
            outcome, seconds, peak = run(opts.code, args, opts.timeout)
            print(f"| {label} | {len(text):,} | {outcome} | {seconds:.1f} | {peak:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
