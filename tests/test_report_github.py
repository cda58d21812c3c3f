"""--format github through the real CLI: workflow-command annotations per policy level, escaped as
the Actions runner requires, and a markdown job summary appended to $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import with_allow_comments

from codeguard.report.github import escape_data, escape_property, md, workflow_command


def unescape(text: str) -> str:
    return (
        text.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
    )


def parse_command(line: str) -> tuple[str, dict[str, str], str]:
    """Split ``::cmd k=v,k=v::message`` the way the runner does (on the unescaped separators)."""
    assert line.startswith("::")
    head, message = line[2:].split("::", 1)
    command, _, props = head.partition(" ")
    fields = dict(p.split("=", 1) for p in props.split(",")) if props else {}
    return command, {k: unescape(v) for k, v in fields.items()}, unescape(message)


def test_escaping_follows_the_runner_rules() -> None:
    assert escape_data("100% done\r\nnext: a, b") == "100%25 done%0D%0Anext: a, b"
    assert escape_property("100% done\r\nnext: a, b") == "100%25 done%0D%0Anext%3A a%2C b"
    # % first, so an existing escape is not decoded by the runner
    assert escape_property("%3A") == "%253A"
    line = workflow_command("warning", {"file": "a,b:c.py", "line": 3, "title": "x: y, z"}, "one\ntwo %")
    assert line == "::warning file=a%2Cb%3Ac.py,line=3,title=x%3A y%2C z::one%0Atwo %25"
    assert parse_command(line) == (
        "warning",
        {"file": "a,b:c.py", "line": "3", "title": "x: y, z"},
        "one\ntwo %",
    )


def test_markdown_cells_are_plain_text() -> None:
    assert md("a|b <script>x</script> *bold* & `tick`\nnext") == (
        "a\\|b \\<script\\>x\\</script\\> \\*bold\\* &amp; \\`tick\\` next"
    )


def test_annotations_per_level_and_job_summary(
    scenario: tuple[Path, Path], tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    project, index = scenario
    summary = tmp_path / "step_summary.md"
    summary.write_text("output of an earlier step\n")
    code, out, err = run_cli(
        "scan", project, "--index", index, "--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary)}
    )
    assert code == 1, err
    commands = [parse_command(line) for line in out.splitlines() if line.startswith("::")]
    got = {(props["file"], props["line"], props["endLine"]): cmd for cmd, props, _ in commands}
    assert got == {
        ("src/app/core.py", "11", "26"): "error",  # GPL-3.0-only into MIT
        ("src/app/vendored.py", "1", "1"): "error",  # the file's own GPL notice
        ("src/app/text.py", "4", "17"): "warning",  # LGPL-2.1-only
        ("src/app/graph.py", "4", "22"): "notice",  # MIT: attribution owed
    }  # the allow-listed copy (batches.py) is no annotation
    assert [c for c, _, _ in commands] == ["error", "error", "warning", "notice"]  # most severe first
    _, props, message = next(c for c in commands if c[1]["file"] == "src/app/core.py")
    assert props["title"] == "CG-LIC-001: exact copy of gpl-lib:intervals.py (GPL-3.0-only)"
    assert message.startswith(
        "Function merge_intervals (lines 11-26) is an exact copy of gpl-lib:intervals.py:4-19"
    )
    assert "\nDistributing this project would require" in message  # help on its own line
    raw = next(line for line in out.splitlines() if "core.py" in line)
    assert "title=CG-LIC-001%3A exact copy of gpl-lib%3Aintervals.py (GPL-3.0-only)::" in raw
    assert "\r" not in out and all(
        line.count("::") >= 2 for line in out.splitlines() if line.startswith("::")
    )
    assert "codeguard: 4 finding(s) (1 error, 1 warning, 1 note, 1 none)" in out

    text = summary.read_text()
    assert text.startswith("output of an earlier step\n## codeguard: 4 finding(s)")  # appended
    rows = [line for line in text.splitlines() if line.startswith("| ") and "src/app/" in line]
    assert len(rows) == 5
    cells = {r.split(" | ")[1]: r.strip("| ").split(" | ") for r in rows}
    core = cells["src/app/core.py:11-26"]
    assert core[0] == "error" and core[3] == "exact" and core[6] == "GPL-3.0-only" and core[7] == "CG-LIC-001"
    assert core[5] == "gpl-lib:intervals.py:4-19 (function merge\\_intervals)"
    allowed = cells["src/app/batches.py:4-17"]
    assert (allowed[0], allowed[7]) == ("none", "CG-COPY")
    assert cells["src/app/text.py:4-17"][3] == "renamed"
    assert "### Conflicting license notices" in text and "src/app/vendored.py:1-1" in text
    assert "Project license **MIT**" in text


def test_unwritable_summary_is_a_usage_error(
    scenario: tuple[Path, Path], tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    project, index = scenario
    code, _, err = run_cli(
        "scan", project, "--index", index, "--format", "github", env={"GITHUB_STEP_SUMMARY": str(tmp_path)}
    )
    assert code == 2
    assert f"Cannot write the job summary to {tmp_path} (GITHUB_STEP_SUMMARY)" in err
    assert "Traceback" not in err


def test_suppressed_copies_are_counted_and_reasonless_allows_annotated(
    scenario: tuple[Path, Path], tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    project, index = scenario
    summary = tmp_path / "summary.md"
    moved = with_allow_comments(project, tmp_path / "allowed")
    _, out, _ = run_cli(
        "scan", moved, "--index", index, "--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary)}
    )
    commands = [parse_command(line) for line in out.splitlines() if line.startswith("::")]
    files = [(cmd, props["file"], props.get("line")) for cmd, props, _ in commands]
    assert ("warning", "src/app/text.py", "5") not in files  # suppressed with a reason
    assert ("warning", "src/app/graph.py", "4") in files  # the allow comment without a reason
    assert (
        "## codeguard: 3 finding(s) (1 error, 1 note, 1 none), 1 conflicting license notice(s), 1 suppressed"
        in (summary.read_text())
    )


@pytest.fixture(scope="session")
def scenario(report_scenario: tuple[Path, Path]) -> tuple[Path, Path]:
    return report_scenario
