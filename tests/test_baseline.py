"""Baselines (accepted findings keyed by content) and inline allow comments."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import LEVENSHTEIN, SIMILARITY, TOPO_SORT, git, init_repo, write_corpus


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


# -- daily use in a git repository: the default baseline, repository paths, the hook ----------
MIT = (Path(__file__).resolve().parents[1] / "examples" / "demo-project" / "LICENSE").read_text()
GPL_HEADER = "# SPDX-License-Identifier: GPL-3.0-only\nimport os\n\n\n"


@pytest.fixture
def repo(tmp_path: Path, add_json: Any) -> tuple[Path, Path]:
    """(repository, index): an MIT repository holding a GPL copy in src/toy/tokens.py."""
    corpus = write_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    add_json(corpus.root, index, "--license", "GPL-3.0-only")
    root = init_repo(tmp_path / "project")
    (root / "LICENSE").write_text(MIT)
    (root / "src" / "toy").mkdir(parents=True)
    (root / "src" / "toy" / "tokens.py").write_text("import os\n\n\n" + LEVENSHTEIN)
    (root / "src" / "toy" / "clean.py").write_text("def clean():\n    return 42\n")
    git(root, "add", ".")
    git(root, "commit", "-qm", "initial")
    return root, index


def _identity_env(index: Path) -> dict[str, str]:
    return dict(
        os.environ,
        CODEGUARD_INDEX=str(index),
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.org",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.org",
    )


def test_default_baseline_is_used_by_scan_and_by_the_git_hook(repo: tuple[Path, Path], run_cli: Any) -> None:
    root, index = repo
    code, _ = _scan(run_cli, root, index)
    assert code == 1
    code, out, err = run_cli("baseline", "create", root / "src", "--index", index)
    assert code == 0, err
    base = root / ".codeguard-baseline.json"  # at the repository root, whatever was scanned
    assert f"1 finding(s) accepted in {base}" in out
    # scan finds it without --baseline and says so, in JSON and in text
    code, report = _scan(run_cli, root, index)
    assert code == 0 and report["findings"] == []
    assert report["stats"]["baseline"] == {
        "path": ".codeguard-baseline.json",
        "entries": 1,
        "accepted": 1,
        "changed": 0,
        "moved": 0,
    }
    code, out, _ = run_cli("scan", root, "--index", index)
    assert code == 0 and "Baseline: .codeguard-baseline.json (1 accepted finding(s); 1 matched" in out
    # --no-baseline opts out; with --baseline it is a usage error
    code, report = _scan(run_cli, root, index, "--no-baseline")
    assert code == 1 and report["stats"]["baseline"] is None
    code, _, err = run_cli("scan", root, "--index", index, "--no-baseline", "--baseline", base)
    assert code == 2 and "exclude each other" in err
    # the installed git hook uses it too: a commit touching the accepted copy passes, silently
    assert run_cli("hook", "install", root)[0] == 0
    env = _identity_env(index)
    (root / "src" / "toy" / "tokens.py").write_text("import os\nimport sys\n\n\n" + LEVENSHTEIN)
    git(root, "add", "src", ".codeguard-baseline.json")
    commit = subprocess.run(
        ["git", "commit", "-qm", "accept"], cwd=root, env=env, capture_output=True, text=True
    )
    assert commit.returncode == 0, commit.stdout + commit.stderr
    assert commit.stdout + commit.stderr == ""  # clean + --quiet: nothing printed
    # a new copy is blocked, and the user is told what to do next
    (root / "src" / "graph.py").write_text(TOPO_SORT)
    git(root, "add", "src/graph.py")
    commit = subprocess.run(
        ["git", "commit", "-qm", "copy"], cwd=root, env=env, capture_output=True, text=True
    )
    assert commit.returncode != 0
    said = commit.stdout + commit.stderr
    assert "src/graph.py:1-" in said and "CG-LIC-001" in said
    assert f"`codeguard baseline update {root}`" in said or "`codeguard baseline update`" in said
    assert 'codeguard: allow CG-LIC-001 reason="why this copy is acceptable"' in said
    assert "(on the line before src/graph.py:1)" in said and "fix the code" in said


def test_paths_are_relative_to_the_repository_in_every_format(
    repo: tuple[Path, Path], run_cli: Any, tmp_path: Path
) -> None:
    root, index = repo
    sub = root / "src" / "toy"
    outputs = {}
    for fmt in ("text", "json", "sarif", "github", "html"):
        code, outputs[fmt], err = run_cli("scan", sub, "--index", index, "--format", fmt, "--no-baseline")
        assert code == 1, err
    assert "src/toy/tokens.py:4-17 function levenshtein" in outputs["text"]
    assert [f["path"] for f in json.loads(outputs["json"])["findings"]] == ["src/toy/tokens.py"]
    sarif = json.loads(outputs["sarif"])["runs"][0]
    assert [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["results"]] == [
        "src/toy/tokens.py"
    ]
    assert sarif["originalUriBaseIds"]["%SRCROOT%"]["uri"] == root.resolve().as_uri() + "/"
    assert sarif["properties"]["scan_root"] == "src/toy"
    assert "file=src/toy/tokens.py,line=4" in outputs["github"]
    assert "src/toy/tokens.py:4-17" in outputs["html"]
    assert "<title>codeguard report: project</title>" in outputs["html"]
    # a baseline made from the root accepts the same findings in a scan of the subfolder
    assert run_cli("baseline", "create", root, "--index", index)[0] == 0
    code, report = _scan(run_cli, sub, index)
    assert code == 0 and [f["path"] for f in report["suppressed"]] == ["src/toy/tokens.py"]
    # a directory git ignores (build or benchmark output) is no part of the repository
    (root / ".gitignore").write_text("build/\n")
    (root / "build").mkdir()
    (root / "build" / "gen.py").write_text(LEVENSHTEIN)
    code, report = _scan(run_cli, root / "build", index, "--no-baseline")
    assert [f["path"] for f in report["findings"]] == ["gen.py"]
    # outside git the project root (its LICENSE) is the base
    plain = tmp_path / "plain"
    (plain / "lib").mkdir(parents=True)
    (plain / "LICENSE").write_text(MIT)
    (plain / "lib" / "a.py").write_text(LEVENSHTEIN)
    code, report = _scan(run_cli, plain / "lib", index)
    assert code == 1 and [f["path"] for f in report["findings"]] == ["lib/a.py"]
    assert run_cli("baseline", "create", plain / "lib", "--index", index)[0] == 0
    assert (plain / ".codeguard-baseline.json").is_file()
    assert _scan(run_cli, plain, index)[0] == 0


def test_a_license_notice_finding_is_accepted_by_the_baseline_and_inline(
    setup: tuple[Path, Path], run_cli: Any
) -> None:
    project, index = setup
    vendored = project / "vendor" / "distance.py"
    vendored.parent.mkdir()
    vendored.write_text(GPL_HEADER + LEVENSHTEIN)
    (project / "a.py").unlink()
    code, report = _scan(run_cli, project, index)
    assert code == 1 and [lf["path"] for lf in report["license_findings"]] == ["vendor/distance.py"]
    notice_rule = report["license_findings"][0]["policy"]["rule_id"]
    copy_rule = report["findings"][0]["policy"]["rule_id"]
    # the baseline accepts both the copy and the file's own notice
    code, out, err = run_cli("baseline", "create", project, "--index", index)
    assert code == 0 and "2 finding(s) accepted (1 license notice(s))" in out, err
    code, report = _scan(run_cli, project, index)
    assert code == 0 and report["findings"] == [] and report["license_findings"] == []
    assert report["suppressed_license_findings"][0]["suppressed"] == "baseline: accepted in the baseline"
    assert report["stats"]["baseline"]["accepted"] == 2
    # inline: an allow comment on the notice (or the line before) accepts the notice
    vendored.write_text(
        f'# codeguard: allow {notice_rule} reason="vendored under LEGAL-9"\n'
        + GPL_HEADER.replace(
            "\n\n\n", "\n\n\n" + f'# codeguard: allow {copy_rule} reason="vendored under LEGAL-9"\n'
        )
        + LEVENSHTEIN
    )
    code, report = _scan(run_cli, project, index, "--no-baseline")
    assert code == 0, report["license_findings"] + report["findings"]
    assert report["suppressed_license_findings"][0]["suppressed"] == "inline: vendored under LEGAL-9"
    # without a reason it accepts nothing and is reported
    vendored.write_text(f"# codeguard: allow {notice_rule}\n" + GPL_HEADER + LEVENSHTEIN)
    code, report = _scan(run_cli, project, index, "--no-baseline")
    assert code == 1 and len(report["license_findings"]) == 1
    assert {"path": "vendor/distance.py", "line": 1, "rules": [notice_rule]} in report["stats"][
        "suppressions_without_reason"
    ]


def _justified_baseline(run_cli: Any, root: Path, index: Path, why: str) -> tuple[Path, dict[str, Any]]:
    """The default baseline of ``root``, created, its first entry justified by hand with ``why``."""
    assert run_cli("baseline", "create", root, "--index", index)[0] == 0
    base = root / ".codeguard-baseline.json"
    data = json.loads(base.read_text())
    data["findings"][0]["justification"] = why
    base.write_text(json.dumps(data))
    return base, data


def test_an_edited_accepted_copy_is_changed_since_accepted_not_new(
    setup: tuple[Path, Path], run_cli: Any
) -> None:
    project, index = setup
    base, data = _justified_baseline(run_cli, project, index, "LEGAL-42")
    accepted_fp = data["findings"][0]["fingerprint"]
    edited = LEVENSHTEIN.replace("delete = previous[j] + 1", "delete = previous[j] - 1")
    assert edited != LEVENSHTEIN
    (project / "a.py").write_text("import os\n\n\n" + edited)
    code, report = _scan(run_cli, project, index)
    assert code == 0 and report["findings"] == []
    [f] = report["suppressed"]
    assert f["fingerprint"] != accepted_fp  # not the accepted content: matched by its evidence
    assert f["baseline"] == "changed"
    assert f["suppressed"] == "baseline: LEGAL-42 (changed since accepted at lines 4-17)"
    assert report["stats"]["baseline"]["changed"] == 1
    code, out, _ = run_cli("scan", project, "--index", index)
    assert "a.py:4-17 function levenshtein: changed since accepted in the baseline" in out
    # a quiet clean scan says it in one line
    code, out, err = run_cli("scan", project, "--index", index, "--quiet")
    assert code == 0 and out.strip().splitlines() == [
        "codeguard: 1 accepted finding(s) changed since accepted (`codeguard baseline update` records them)."
    ]
    # another copy from the same origin file is still new
    (project / "a.py").write_text("import os\n\n\n" + edited + "\n\n" + SIMILARITY)
    code, report = _scan(run_cli, project, index)
    assert code == 1 and [f["chunk"]["name"] for f in report["findings"]] == ["similarity"]
    # update records the edit and keeps the justification
    (project / "a.py").write_text("import os\n\n\n" + edited)
    assert run_cli("baseline", "update", project, "--index", index)[0] == 0
    [entry] = json.loads(base.read_text())["findings"]
    assert entry["fingerprint"] == f["fingerprint"] and entry["justification"] == "LEGAL-42"
    code, report = _scan(run_cli, project, index)
    assert report["suppressed"][0]["baseline"] == "same"


def test_the_baseline_stores_no_absolute_paths(setup: tuple[Path, Path], run_cli: Any) -> None:
    project, index = setup
    assert run_cli("baseline", "create", project, "--index", index)[0] == 0
    text = (project / ".codeguard-baseline.json").read_text()
    data = json.loads(text)
    assert str(project.parent) not in text and str(index) not in text
    assert data["index"]["path"] is None and data["settings"]["policy"] is None
    # an index inside the project is stored relative to the baseline
    inner = project / ".codeguard" / "index"
    shutil.copytree(index, inner)
    assert run_cli("baseline", "update", project, "--index", inner)[0] == 0
    assert (
        json.loads((project / ".codeguard-baseline.json").read_text())["index"]["path"] == ".codeguard/index"
    )
    code, out, _ = run_cli("baseline", "create", "--help")
    assert "License policy file" in out and "The project's license" in out


def test_a_version_1_baseline_is_upgraded(setup: tuple[Path, Path], run_cli: Any) -> None:
    project, index = setup
    assert run_cli("baseline", "create", project, "--index", index)[0] == 0
    base = project / ".codeguard-baseline.json"
    data = json.loads(base.read_text())
    data["version"] = 1
    data["index"]["path"] = str(index)
    for e in data["findings"]:
        del e["kind"], e["sketch"]
    base.write_text(json.dumps(data))
    code, report = _scan(run_cli, project, index)
    assert code == 0 and report["suppressed"][0]["baseline"] == "same"


def test_an_accepted_identical_file_edited_in_one_line_stays_accepted(
    setup: tuple[Path, Path], run_cli: Any
) -> None:
    """An identical file is one whole-file finding; once one line of it changes it is one finding
    per copied function. Those are the accepted copy, changed since accepted, not new ones."""
    project, index = setup
    (project / "a.py").unlink()
    (project / "distance.py").write_text(LEVENSHTEIN + "\n\n" + SIMILARITY)
    code, report = _scan(run_cli, project, index, "--no-baseline")
    [whole] = report["findings"]
    assert code == 1 and whole["chunk"]["name"] == "identical file"
    assert run_cli("baseline", "create", project, "--index", index)[0] == 0
    edited = LEVENSHTEIN.replace("delete = previous[j] + 1", "delete = previous[j] - 1")
    (project / "distance.py").write_text(edited + "\n\n" + SIMILARITY)
    code, report = _scan(run_cli, project, index)
    assert code == 0 and report["findings"] == []
    assert {f["chunk"]["name"] for f in report["suppressed"]} >= {"levenshtein", "similarity"}
    assert {f["baseline"] for f in report["suppressed"]} == {"changed"}
    # A copy from another origin file in the same project file is still new.
    (project / "distance.py").write_text(edited + "\n\n" + SIMILARITY + "\n\n" + TOPO_SORT)
    code, report = _scan(run_cli, project, index)
    assert code == 1 and [f["chunk"]["name"] for f in report["findings"]] == ["topo_sort"]


# -- accepted copies that changed or moved since, in every format and through the hook ---------
def test_a_changed_accepted_copy_is_a_notice_in_github_and_updated_in_sarif(
    repo: tuple[Path, Path], run_cli: Any
) -> None:
    """An accepted copy edited since is reported as accepted and changed (a GitHub notice, a
    SARIF result with baselineState "updated", suppressed by the baseline), never as a new
    violation; a new copy next to it is "new"."""
    from test_report_sarif import schema_errors

    root, index = repo
    assert run_cli("baseline", "create", root, "--index", index)[0] == 0
    tokens = root / "src" / "toy" / "tokens.py"
    edited = LEVENSHTEIN.replace("delete = previous[j] + 1", "delete = previous[j] - 1")
    tokens.write_text("import os\n\n\n" + edited)
    code, out, err = run_cli("scan", root, "--index", index, "--format", "github")
    assert code == 0, err
    [notice] = [ln for ln in out.splitlines() if ln.startswith("::")]
    assert notice.startswith("::notice file=src/toy/tokens.py,line=4,endLine=17,")
    assert "changed since accepted" in notice and "not a new violation" in notice
    assert "accepted in the baseline at src/toy/tokens.py:4-17" in notice
    assert out.splitlines()[-1] == "codeguard: 0 finding(s), 1 suppressed (1 changed since accepted)"
    (root / "src" / "graph.py").write_text(TOPO_SORT)
    code, out, _ = run_cli("scan", root, "--index", index, "--format", "sarif")
    assert code == 1
    log = json.loads(out)
    results = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r for r in log["runs"][0]["results"]
    }
    changed, new = results["src/toy/tokens.py"], results["src/graph.py"]
    assert changed["baselineState"] == "updated" and changed["level"] == "note"
    assert changed["suppressions"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "accepted in the baseline (changed since accepted at lines 4-17)",
        }
    ]
    assert changed["message"]["text"].startswith("Accepted copy, changed since accepted in the baseline")
    assert changed["properties"]["baseline"] == {"state": "changed", "accepted_at": "src/toy/tokens.py:4-17"}
    assert new["baselineState"] == "new" and new["level"] == "error" and "suppressions" not in new
    assert not schema_errors(log)
    # without a baseline nothing is compared: no baselineState at all
    code, out, _ = run_cli("scan", root, "--index", index, "--format", "sarif", "--no-baseline")
    assert all("baselineState" not in r for r in json.loads(out)["runs"][0]["results"])


def test_a_staged_copy_is_new_while_the_git_index_still_holds_the_accepted_file(
    repo: tuple[Path, Path], run_cli: Any
) -> None:
    """Deleting the accepted file from the work tree without staging the deletion does not make
    a staged copy of it "moved": the commit would hold both. Staging the deletion does."""
    root, index = repo
    _justified_baseline(run_cli, root, index, "LEGAL-7")
    git(root, "add", ".codeguard-baseline.json")
    git(root, "commit", "-qm", "baseline")
    (root / "lib").mkdir()
    shutil.copy(root / "src" / "toy" / "tokens.py", root / "lib" / "tokens.py")
    git(root, "add", "lib/tokens.py")
    (root / "src" / "toy" / "tokens.py").unlink()  # gone from the work tree, still in the index
    code, report = _scan(run_cli, root, index, "--staged")
    assert code == 1 and [f["path"] for f in report["findings"]] == ["lib/tokens.py"]
    git(root, "rm", "-q", "--cached", "src/toy/tokens.py")
    code, report = _scan(run_cli, root, index, "--staged")
    assert code == 0 and [f["baseline"] for f in report["suppressed"]] == ["moved"]


def test_a_git_mv_of_an_accepted_file_stays_accepted_through_the_hook(
    repo: tuple[Path, Path], run_cli: Any
) -> None:
    """A renamed accepted file (its accepted path gone) is the accepted copy moved since, in
    the git hook, in `scan --staged FILES` (what pre-commit runs) and in a full scan; a copy of
    it (the original still there) is new; `baseline update` records the new path."""
    root, index = repo
    base, _ = _justified_baseline(run_cli, root, index, "LEGAL-7")
    git(root, "add", ".codeguard-baseline.json")
    git(root, "commit", "-qm", "baseline")
    assert run_cli("hook", "install", root)[0] == 0
    (root / "lib").mkdir()
    git(root, "mv", "src/toy/tokens.py", "lib/tokens.py")
    code, report = _scan(run_cli, root, index, "--staged", root / "lib" / "tokens.py")
    assert code == 0 and report["findings"] == []
    [f] = report["suppressed"]
    assert f["baseline"] == "moved" and f["accepted_at"] == "src/toy/tokens.py:4-17"
    assert f["suppressed"] == "baseline: LEGAL-7 (moved since accepted at src/toy/tokens.py:4-17)"
    assert report["stats"]["baseline"]["moved"] == 1
    commit = subprocess.run(
        ["git", "commit", "-qm", "move"], cwd=root, env=_identity_env(index), capture_output=True, text=True
    )
    assert commit.returncode == 0, commit.stdout + commit.stderr
    code, out, _ = run_cli("scan", root, "--index", index)
    assert code == 0
    assert "lib/tokens.py:4-17 function levenshtein: moved since accepted in the baseline" in out
    assert "accepted at src/toy/tokens.py:4-17" in out and "1 moved since accepted" in out
    code, out, _ = run_cli("scan", root, "--index", index, "--format", "github")
    assert code == 0 and out.startswith("::notice file=lib/tokens.py,line=4,") and "has moved since" in out
    # a copy, its original still there, is a new finding
    shutil.copy(root / "lib" / "tokens.py", root / "src" / "again.py")
    code, report = _scan(run_cli, root, index)
    assert code == 1 and [f["path"] for f in report["findings"]] == ["src/again.py"]
    (root / "src" / "again.py").unlink()
    # update records the new path and keeps the justification
    assert run_cli("baseline", "update", root, "--index", index)[0] == 0
    [entry] = json.loads(base.read_text())["findings"]
    assert entry["path"] == "lib/tokens.py" and entry["justification"] == "LEGAL-7"
    code, report = _scan(run_cli, root, index)
    assert code == 0 and report["suppressed"][0]["baseline"] == "same"


def test_an_inline_allow_accepts_a_file_that_is_only_hashed(
    tmp_path: Path, add_json: Any, run_cli: Any
) -> None:
    """Generated and oversize files are hashed, not chunked: their copy is one whole-file
    finding, which an allow comment with a reason on one of the file's first lines accepts
    (below the generated-file header); one without a reason is reported and accepts nothing."""
    rows = "\n".join(f"    (0x{i * 7 + 3:X}, 'M', 'x{i}y{i * i % 97}')," for i in range(80))
    header = "# Code generated by mktables.py. DO NOT EDIT.\n"
    body = "\n\ndef table():\n    return [\n" + rows + "\n    ]\n"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "tables.py").write_text(header + body)
    (corpus / "big.py").write_text(body.replace("table", "big_table"))
    index = tmp_path / "index"
    add_json(corpus, index, "--license", "GPL-3.0-only", "--no-ml")
    project = tmp_path / "project"
    project.mkdir()
    (project / "tables.py").write_text(header + '# codeguard: allow * reason="vendored, see NOTICE"\n' + body)
    (project / "big.py").write_text(
        '# codeguard: allow CG-LIC-006 reason="ours too"\n' + body.replace("table", "big_table")
    )
    small = ("--no-ml", "--max-file-size", "1000")  # big.py is over it: hashed only
    code, out, err = run_cli("scan", project, "--index", index, "--format", "json", *small)
    assert code == 0, err
    report = json.loads(out)
    assert report["findings"] == []
    assert {f["path"]: f["suppressed"] for f in report["suppressed"]} == {
        "tables.py": "inline: vendored, see NOTICE",
        "big.py": "inline: ours too",
    }
    assert {f["chunk"]["kind"] for f in report["suppressed"]} == {"file"}
    assert {s["path"] for s in report["skipped"]} == {"tables.py", "big.py"}  # neither was chunked
    # without a reason: reported, and the finding stands, with a hint where the comment goes
    (project / "tables.py").write_text(header + "# codeguard: allow *\n" + body)
    code, out, err = run_cli("scan", project, "--index", index, *small)
    assert code == 1
    assert "tables.py:2: codeguard: allow without reason" in out
    assert "(on one of the first 10 lines of tables.py)" in err


def test_changed_and_moved_accepted_copies_are_listed_in_the_job_summary_and_the_html_report(
    repo: tuple[Path, Path], run_cli: Any, tmp_path: Path
) -> None:
    """The job summary and the HTML report list accepted copies changed or moved since accepted
    on their own (state, where, where accepted), not as findings and not hidden among the other
    suppressed ones."""
    root, index = repo
    (root / "src" / "graph.py").write_text(TOPO_SORT)
    git(root, "add", ".")
    git(root, "commit", "-qm", "graph")
    assert run_cli("baseline", "create", root, "--index", index)[0] == 0
    tokens = root / "src" / "toy" / "tokens.py"
    tokens.write_text(
        "import os\n\n\n" + LEVENSHTEIN.replace("delete = previous[j] + 1", "delete = previous[j] - 1")
    )
    (root / "lib").mkdir()
    git(root, "mv", "src/graph.py", "lib/graph.py")
    summary = tmp_path / "summary.md"
    code, out, err = run_cli(
        "scan", root, "--index", index, "--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary)}
    )
    assert code == 0, err
    text = summary.read_text()
    assert text.startswith(
        "## codeguard: 0 finding(s), 2 suppressed (1 changed since accepted, 1 moved since accepted)"
    )
    assert "baseline .codeguard-baseline.json (2 accepted finding(s), 2 matched)." in text
    section = text.split("### Accepted copies changed or moved since accepted\n", 1)[1]
    rows = [r.strip("| ").split(" | ") for r in section.splitlines() if r.startswith("| ") and "since" in r]
    assert [(r[0], r[1].split(":")[0], r[5]) for r in rows] == [
        ("moved since accepted", "lib/graph.py", "src/graph.py:1-18"),
        ("changed since accepted", "src/toy/tokens.py", "src/toy/tokens.py:4-17"),
    ]
    assert "`codeguard baseline update` records them." in section
    page = tmp_path / "report.html"
    code, _, err = run_cli("scan", root, "--index", index, "--format", "html", "-o", page)
    assert code == 0, err
    html = page.read_text(encoding="utf-8")
    section = html.split('<section class="accepted">', 1)[1].split("</section>", 1)[0]
    assert "Accepted copies changed or moved since accepted (2)" in section
    assert '<td class="nw">moved since accepted</td><td class="mono nw">lib/graph.py:1-' in section
    assert "src/graph.py:1-18" in section and "src/toy/tokens.py:4-17" in section
    assert '<div class="num">1</div><div class="lbl">changed since accepted</div>' in html
    assert '<div class="num">1</div><div class="lbl">moved since accepted</div>' in html
    assert "Baseline</dt>" in html and "1 changed and 1 moved since accepted" in html


def test_a_copy_of_an_accepted_copy_into_another_file_is_new_and_names_the_accepted_one(
    repo: tuple[Path, Path], run_cli: Any
) -> None:
    """Accepted code copied once more, the accepted copy still there, is a new finding (the
    baseline accepts a copy where it is); every format says which accepted copy it resembles.
    A new copy of something else resembles nothing."""
    root, index = repo
    assert run_cli("baseline", "create", root, "--index", index)[0] == 0
    (root / "src" / "again.py").write_text(
        "import sys\n\n\n" + LEVENSHTEIN.replace("delete = previous[j] + 1", "delete = previous[j] - 1")
    )
    (root / "src" / "graph.py").write_text(TOPO_SORT)
    code, report = _scan(run_cli, root, index)
    assert code == 1
    assert {f["path"]: f.get("resembles") for f in report["findings"]} == {
        "src/again.py": "src/toy/tokens.py:4-17",
        "src/graph.py": None,
    }
    assert [f["baseline"] for f in report["suppressed"]] == ["same"]
    said = "It resembles the copy accepted in the baseline at src/toy/tokens.py:4-17, which is still there"
    code, out, _ = run_cli("scan", root, "--index", index)
    assert code == 1 and out.count(said) == 1
    code, out, _ = run_cli("scan", root, "--index", index, "--format", "github")
    [line] = [ln for ln in out.splitlines() if ln.startswith("::error file=src/again.py")]
    assert said in line
    code, out, _ = run_cli("scan", root, "--index", index, "--format", "sarif")
    results = json.loads(out)["runs"][0]["results"]
    again = next(
        r
        for r in results
        if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "src/again.py"
    )
    assert again["baselineState"] == "new" and said in again["message"]["text"]
    assert again["properties"]["resembles_accepted"] == "src/toy/tokens.py:4-17"
    code, out, _ = run_cli("scan", root, "--index", index, "--format", "html")
    assert code == 1 and out.count(said) == 1
    # without a baseline there is nothing to resemble
    code, report = _scan(run_cli, root, index, "--no-baseline")
    assert all("resembles" not in f for f in report["findings"])
