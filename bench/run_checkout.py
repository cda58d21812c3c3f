#!/usr/bin/env python3
"""Run the codeguard CLI of another checkout with this checkout's virtual environment.

For side-by-side timings of two versions (same interpreter, same installed libraries): the
editable finder that maps ``codeguard`` to this checkout is taken off ``sys.meta_path``, this
checkout leaves ``sys.path``, the other checkout goes first, and ``codeguard`` runs as
``python -m codeguard`` would.

Usage:  .venv/bin/python bench/run_checkout.py OLD_CHECKOUT [codeguard arguments...]
e.g.    CODEGUARD=".venv/bin/python bench/run_checkout.py ../old" python bench/precommit_latency.py
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def _is_here(entry: str) -> bool:
    """Whether a sys.path entry is this checkout or its bench/ (not the venv inside it)."""
    try:
        path = Path(entry or os.getcwd()).resolve()
    except OSError:
        return False
    return path in (HERE, HERE / "bench")


def main() -> None:
    if len(sys.argv) < 2 or not (Path(sys.argv[1]) / "codeguard" / "__init__.py").is_file():
        sys.exit("usage: run_checkout.py CHECKOUT [codeguard arguments...] (CHECKOUT holds codeguard/)")
    old = str(Path(sys.argv[1]).resolve())
    sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
    sys.path[:] = [p for p in sys.path if "__editable__" not in p and not _is_here(p)]
    sys.path.insert(0, old)
    for name in [m for m in sys.modules if m == "codeguard" or m.startswith("codeguard.")]:
        del sys.modules[name]
    sys.argv = ["codeguard", *sys.argv[2:]]
    runpy.run_module("codeguard", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
