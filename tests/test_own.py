"""A tree indexed as a corpus and scanned: a file's own indexed copy is never its origin, the
copies between its files are still found (whole-file, fingerprint and semantic paths). Real
files, a real index, the real CLI."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import LEVENSHTEIN, MERGE_INTERVALS, TOPO_SORT

UNRELATED = '''
def parse_header(line):
    """Split an HTTP header line into a lower-cased name and its stripped value."""
    name, sep, value = line.partition(":")
    if not sep:
        raise ValueError(f"not a header: {line!r}")
    return name.strip().lower(), value.strip()
'''


def _monorepo(root: Path) -> Path:
    files = {
        "alpha/intervals.py": f'"""Interval helpers of the alpha service."""\n{MERGE_INTERVALS}',
        # beta copied alpha's function into a module of its own, next to other code
        "beta/merge.py": f'"""Beta."""\nimport sys\n\n{MERGE_INTERVALS}\n{TOPO_SORT}',
        # gamma holds a byte-identical copy of a whole file
        "gamma/vendored_intervals.py": f'"""Interval helpers of the alpha service."""\n{MERGE_INTERVALS}',
        "delta/distance.py": f'"""Edit distance."""\n{LEVENSHTEIN}',
        "delta/headers.py": f'"""Headers."""\n{UNRELATED}',
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def _origins(f: dict[str, Any]) -> list[str]:
    return [o["path"] for o in [f["origin"], *f.get("also_in", [])]]


@pytest.fixture
def mono(tmp_path: Path) -> Path:
    return _monorepo(tmp_path / "mono")


def _check_internal_copies(report: dict[str, Any]) -> None:
    findings = report["findings"]
    for f in findings:
        assert f["path"] not in _origins(f), f"{f['path']} reported as a copy of itself"
    by_path: dict[str, list[dict[str, Any]]] = {}
    for f in findings:
        by_path.setdefault(f["path"], []).append(f)
    # the whole-file copy and its original name each other
    assert [f["origin"]["path"] for f in by_path["gamma/vendored_intervals.py"]] == ["alpha/intervals.py"]
    assert [f["origin"]["path"] for f in by_path["alpha/intervals.py"]] == ["gamma/vendored_intervals.py"]
    # the function copied into beta is found in its other homes (two identical files of one
    # corpus are one origin)
    beta = [f for f in by_path["beta/merge.py"] if f["chunk"]["name"] == "merge_intervals"]
    assert len(beta) == 1
    assert set(_origins(beta[0])) <= {"alpha/intervals.py", "gamma/vendored_intervals.py"}
    # files that hold no code of another file have no finding
    assert "delta/headers.py" not in by_path and "delta/distance.py" not in by_path


def test_a_tree_indexed_from_its_own_directory_finds_its_internal_copies_not_itself(
    mono: Path, index_dir: Path, add_json: Any, scan_json: Any
) -> None:
    add_json(mono, index_dir, "--name", "mono", "--license", "MIT", "--no-ml")
    _, report, _ = scan_json(mono, index_dir, "--no-ml", "--no-baseline")
    _check_internal_copies(report)
    assert report["stats"]["own_copies_set_aside"] == 5


def test_own_copies_are_set_aside_by_the_semantic_layer_too(
    mono: Path, index_dir: Path, add_json: Any, scan_json: Any
) -> None:
    add_json(mono, index_dir, "--name", "mono", "--license", "MIT")
    _, report, _ = scan_json(mono, index_dir, "--no-baseline", "--min-probability", "0.05")
    assert report["stats"]["semantic"]["chunks_considered"] > 0
    for f in report["findings"]:
        assert f["path"] not in _origins(f), f"{f['path']} reported as a copy of itself"


def test_another_checkout_is_named_with_own_corpus_or_the_config(
    mono: Path, tmp_path: Path, index_dir: Path, add_json: Any, scan_json: Any
) -> None:
    elsewhere = tmp_path / "ci-checkout"
    shutil.copytree(mono, elsewhere)
    add_json(elsewhere, index_dir, "--name", "mono-ci", "--license", "MIT", "--no-ml")
    _, plain, _ = scan_json(mono, index_dir, "--no-ml", "--no-baseline")
    # Without the setting each file's best origin is its twin in the other checkout.
    assert plain["stats"]["own_copies_set_aside"] == 0
    assert any(f["path"] == f["origin"]["path"] for f in plain["findings"])
    _, named, _ = scan_json(mono, index_dir, "--no-ml", "--no-baseline", "--own-corpus", "mono-ci")
    _check_internal_copies(named)
    (mono / ".codeguard.toml").write_text('own-corpus = ["mono-ci"]\n', encoding="utf-8")
    _, configured, _ = scan_json(mono, index_dir, "--no-ml", "--no-baseline")
    assert configured["findings"] == named["findings"]


def test_an_unknown_own_corpus_is_a_usage_error_naming_the_corpora(
    mono: Path, index_dir: Path, add_json: Any, run_cli: Any
) -> None:
    add_json(mono, index_dir, "--name", "mono", "--license", "MIT", "--no-ml")
    code, _, err = run_cli("scan", mono, "--index", index_dir, "--no-ml", "--own-corpus", "nope")
    assert code == 2
    assert "no corpus nope" in err and "mono" in err


def test_a_scanned_subdirectory_still_knows_its_own_copies(
    mono: Path, index_dir: Path, add_json: Any, scan_json: Any
) -> None:
    add_json(mono, index_dir, "--name", "mono", "--license", "MIT", "--no-ml")
    _, report, _ = scan_json(mono / "gamma", index_dir, "--no-ml", "--no-baseline")
    assert [(f["path"], f["origin"]["path"]) for f in report["findings"]] == [
        ("vendored_intervals.py", "alpha/intervals.py")
    ]
