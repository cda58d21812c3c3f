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
