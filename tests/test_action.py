"""The GitHub Action's scan step, run as GitHub would run it (bash, GITHUB_OUTPUT and
GITHUB_STEP_SUMMARY files) on a real pull-request-like repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from conftest import LEVENSHTEIN, git, init_repo, write_corpus

ROOT = Path(__file__).resolve().parents[1]
MIT = (ROOT / "examples" / "demo-project" / "LICENSE").read_text()


def _step_script(step_id: str, inputs: dict[str, str]) -> str:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    [step] = [s for s in action["runs"]["steps"] if s.get("id") == step_id]
    script: str = step["run"]
    for name, value in inputs.items():
        script = script.replace("${{ inputs." + name + " }}", value)
    assert "${{" not in script, script
    return script


def test_scan_step_annotates_summarizes_writes_sarif_and_reports_the_exit_code(
    tmp_path: Path, add_json: Any
) -> None:
    corpus = write_corpus(tmp_path / "gplcorpus")
    index = tmp_path / "index"
    add_json(corpus.root, index, "--license", "GPL-3.0-only")
    repo = init_repo(tmp_path / "repo")
    (repo / "LICENSE").write_text(MIT)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-qb", "feature")
    (repo / "lib.py").write_text("import os\n\n\n" + LEVENSHTEIN)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "copy")

    script = _step_script("scan", {"sarif": "codeguard.sarif", "fail-on": "warning", "args": ""})
    output, summary = tmp_path / "github_output", tmp_path / "summary.md"
    env = dict(
        os.environ,
        CODEGUARD_INDEX=str(index),
        BASE="main",
        GITHUB_OUTPUT=str(output),
        GITHUB_STEP_SUMMARY=str(summary),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )
    run = subprocess.run(["bash", "-e", "-c", script], cwd=repo, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr  # the step itself succeeds: the gate step fails later
    assert output.read_text().strip() == "exit-code=1"
    assert "::error file=lib.py,line=4" in run.stdout
    assert "CG-LIC-001" in summary.read_text()
    sarif = json.loads((repo / "codeguard.sarif").read_text())
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["CG-LIC-001"]
