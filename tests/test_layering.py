"""The layering of DESIGN.md: pure stages import no heavy libraries; scanning never imports torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

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


# What a pre-commit scan (`scan --staged`, fingerprints only, unchanged project) must not load:
# each cost tens of milliseconds of its start-up (README "Latency").
NOT_AT_STARTUP = [
    "git",  # gitpython: plain git subprocesses read the change
    "license_expression",  # the policy's expressions, the LICENSE's and the headers' detection: cached
    "codeguard.licenses.detect",
    "codeguard.licenses.index",
    "importlib.metadata",
    "onnxruntime",
    "tokenizers",
    "faiss",
    "torch",
    "pathspec",  # no ignore files, no --exclude
    "yaml",  # the loaded policy is cached
    "multiprocessing",  # a few files are analyzed in this process
    "codeguard.ml.cli",  # `train` and `eval` are imported when named
    "codeguard.evaluate",
]


def test_a_pre_commit_scan_loads_only_what_it_needs(
    tmp_path: Path, add_json: Any, reference_corpus: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import LEVENSHTEIN, git, init_repo

    index = tmp_path / "index"
    add_json(reference_corpus.root, index, "--license", "GPL-3.0-only", "--no-ml")
    repo = init_repo(tmp_path / "repo")
    (repo / "LICENSE").write_text(
        (Path(__file__).resolve().parents[1] / "examples" / "demo-project" / "LICENSE").read_text()
    )
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "initial")
    # A header as most files of a project have one: detected once, then cached.
    (repo / "dist.py").write_text("# SPDX-License-Identifier: MIT\n# Copyright (c) 2026 Ada\n" + LEVENSHTEIN)
    git(repo, "add", ".")
    code = (
        "import runpy, sys\n"
        "sys.argv = ['codeguard', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('codeguard', run_name='__main__')\n"
        "except SystemExit as exc:\n    print('exit', exc.code, file=sys.stderr)\n"
        "from threadpoolctl import threadpool_info\n"
        "blas = [i['num_threads'] for i in threadpool_info() if 'numpy' in i['filepath']]\n"
        f"print('MODULES', [m for m in {NOT_AT_STARTUP!r} if m in sys.modules], blas, file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    args = [
        sys.executable,
        "-c",
        code,
        "scan",
        "--staged",
        "--index",
        str(index),
        "--no-ml",
        "--format",
        "json",
    ]
    runs = [subprocess.run(args, cwd=repo, capture_output=True, text=True, env=env) for _ in range(2)]
    first, again = (json.loads(r.stdout) for r in runs)
    assert [f["chunk"]["name"] for f in again["findings"]] == ["levenshtein"]
    assert again["findings"] == first["findings"] and again["project"] == first["project"]
    assert again["project"]["license"] == "MIT" and "exit 1" in runs[1].stderr
    assert "MODULES [] [1]" in runs[1].stderr, runs[1].stderr
    # A thread count the user chose is theirs.
    chosen = subprocess.run(
        args, cwd=repo, capture_output=True, text=True, env=env | {"OPENBLAS_NUM_THREADS": "2"}
    )
    assert "MODULES [] [2]" in chosen.stderr, chosen.stderr


def test_the_optional_commands_are_listed_and_load_when_named(run_cli: Any) -> None:
    code, out, _ = run_cli("--help")
    assert code == 0 and "train" in out and "eval" in out
    code, out, _ = run_cli("eval", "--help")
    assert code == 0 and "clone benchmarks" in out
    code, out, _ = run_cli("train", "--help")
    assert code == 0 and "--base" in out
