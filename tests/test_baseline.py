"""Baselines (accepted findings keyed by content) and inline allow comments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import LEVENSHTEIN, TOPO_SORT, write_corpus


@pytest.fixture
def setup(tmp_path: Path, add_json: Any) -> tuple[Path, Path]:
    corpus = write_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    add_json(corpus.root, index, "--license", "GPL-3.0-only")
    project = tmp_path / "project"
    project.mkdir()
    (project / "LICENSE").write_text(
        "MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\n"
    )
    (project / "a.py").write_text("import os\n\n\n" + LEVENSHTEIN)
    return project, index


def _scan(run_cli: Any, project: Path, index: Path, *extra: Any) -> tuple[int, dict[str, Any]]:
    code, out, err = run_cli("scan", project, "--index", index, "--format", "json", *extra)
    assert code in (0, 1), err
    return code, json.loads(out)


def test_baseline_accepts_existing_findings_and_survives_moved_lines(
    setup: tuple[Path, Path], run_cli: Any
) -> None:
    project, index = setup
    code, out, err = run_cli("baseline", "create", project, "--index", index)
    assert code == 0, err
    base = project / ".codeguard-baseline.json"
    data = json.loads(base.read_text())
    assert data["version"] == 2 and len(data["findings"]) == 1
    assert data["index"]["manifest"]["k"] and data["settings"]["project_license"]
    # lines move: still accepted
    (project / "a.py").write_text("import os\nimport sys\n\n\n\n" + LEVENSHTEIN)
    code, report = _scan(run_cli, project, index, "--baseline", base)
    assert code == 0 and report["findings"] == []
    assert report["suppressed"][0]["suppressed"] == "baseline: accepted in the baseline"
    # a new copy is not in the baseline: the gate fails on it only
    (project / "b.py").write_text(TOPO_SORT)
    code, report = _scan(run_cli, project, index, "--baseline", base)
    assert code == 1 and [f["path"] for f in report["findings"]] == ["b.py"]


def test_update_keeps_justifications_and_drops_fixed(setup: tuple[Path, Path], run_cli: Any) -> None:
    project, index = setup
    base = project / ".codeguard-baseline.json"
    assert run_cli("baseline", "create", project, "--index", index)[0] == 0
    data = json.loads(base.read_text())
    data["findings"][0]["justification"] = "vendored with permission, see LEGAL-42"
    base.write_text(json.dumps(data))
    (project / "b.py").write_text(TOPO_SORT)
    assert run_cli("baseline", "update", project, "--index", index)[0] == 0
    entries = {e["path"]: e for e in json.loads(base.read_text())["findings"]}
    assert entries["a.py"]["justification"] == "vendored with permission, see LEGAL-42"
    assert set(entries) == {"a.py", "b.py"}
    (project / "b.py").unlink()
    assert run_cli("baseline", "update", project, "--index", index)[0] == 0
    assert [e["path"] for e in json.loads(base.read_text())["findings"]] == ["a.py"]
    _, report = _scan(run_cli, project, index, "--baseline", base)
    assert report["suppressed"][0]["suppressed"] == "baseline: vendored with permission, see LEGAL-42"
    code, _, err = run_cli("baseline", "create", project, "--index", index)
    assert code == 2 and "baseline update" in err


def test_malformed_and_newer_baselines_are_clear_errors(setup: tuple[Path, Path], run_cli: Any) -> None:
    project, index = setup
    bad = project / "bad.json"
    bad.write_text('{"version": 1, "findings": [\n  {"fingerprint": 3}\n]}\n')
    code, _, err = run_cli("scan", project, "--index", index, "--baseline", bad)
    assert code == 2 and "'findings' must be a list" in err and "Traceback" not in err
    bad.write_text("{not json")
    code, _, err = run_cli("scan", project, "--index", index, "--baseline", bad)
    assert code == 2 and f"{bad}:1: the baseline is not valid JSON" in err
    bad.write_text('{"version": 99, "findings": []}')
    code, _, err = run_cli("scan", project, "--index", index, "--baseline", bad)
    assert code == 2 and "newer than this codeguard supports" in err
    code, _, err = run_cli("scan", project, "--index", index, "--baseline", project / "missing.json")
    assert code == 2 and "not found" in err


def test_inline_allow_with_reason_suppresses_and_without_reason_is_reported(
    setup: tuple[Path, Path], run_cli: Any
) -> None:
    project, index = setup
    (project / "a.py").write_text(
        'import os\n\n\n# codeguard: allow CG-LIC-001 reason="relicensed to us by the author, LEGAL-7"\n'
        + LEVENSHTEIN
    )
    code, report = _scan(run_cli, project, index)
    assert code == 0 and report["findings"] == []
    assert report["suppressed"][0]["suppressed"] == "inline: relicensed to us by the author, LEGAL-7"
    (project / "a.py").write_text("import os\n\n\n# codeguard: allow CG-LIC-001\n" + LEVENSHTEIN)
    code, report = _scan(run_cli, project, index)
    assert code == 1 and len(report["findings"]) == 1
    assert report["stats"]["suppressions_without_reason"] == [
        {"path": "a.py", "line": 4, "rules": ["CG-LIC-001"]}
    ]
    code, out, _ = run_cli("scan", project, "--index", index)
    assert "a.py:4: codeguard: allow without reason" in out
    # another rule id does not cover this finding
    (project / "a.py").write_text("# codeguard: allow CG-LIC-999 reason=x\n" + LEVENSHTEIN)
    code, report = _scan(run_cli, project, index)
    assert code == 1
