"""The layering of DESIGN.md: pure stages import no heavy libraries; scanning never imports torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE = [
    "codeguard.fingerprint.winnow",
    "codeguard.fingerprint.align",
    "codeguard.fingerprint.wholefile",
    "codeguard.model",
    "codeguard.report",
    "codeguard.verdict.classifier",
    "codeguard.verdict.features",
    "codeguard.verdict.wholefile",
]
HEAVY = ["torch", "faiss", "tree_sitter", "transformers", "sklearn"]


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_import_no_heavy_library(module: str) -> None:
    code = f"import sys, {module}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


RAY_MODULE = "codeguard/engine/distributed.py"


def test_only_the_distributed_module_imports_ray() -> None:
    """Ray is an optional extra and the one module that knows a cluster: nothing else names it."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    importers = []
    for path in sorted((root / "codeguard").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            if any(n == "ray" or n.startswith("ray.") for n in names):
                importers.append(path.relative_to(root).as_posix())
    assert sorted(set(importers)) == [RAY_MODULE]


def test_scanning_a_sharded_index_does_not_import_ray() -> None:
    code = (
        "import sys, codeguard.cli, codeguard.engine.scan, codeguard.index.shards; "
        "print('ray' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
