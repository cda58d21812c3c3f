"""GitHub Actions report: workflow-command annotations, plus a job summary when run in Actions.

Annotations (``::error file=...,line=...::message``) go to the output stream, where the runner
picks them up from the step's log; with ``-o FILE`` they land in the file instead. When
``GITHUB_STEP_SUMMARY`` is set, a markdown table of every finding is appended to that file, then
the conflicting license notices and the accepted copies that changed or moved since accepted.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from typing import TextIO

from codeguard.errors import UsageError
from codeguard.model import Finding, LicenseFinding, ScanResult
from codeguard.report.sarif import (
    ACCEPTED_CHANGES,
    COPY_RULE,
    NOTICE_RULE,
    artifact_base,
    finding_message,
    origin_text,
)

# Policy level -> workflow command. Copies the policy accepts ("none") get no annotation: the
# runner shows only a few annotations of each kind per step, and those belong to problems.
COMMAND = {"error": "error", "warning": "warning", "note": "notice"}
SEVERITY = {"error": 3, "warning": 2, "note": 1, "none": 0}
# A job summary is limited to 1 MiB per step: the table stops after this many rows.
MAX_SUMMARY_ROWS = 500


def escape_data(text: str) -> str:
    """Escape a workflow command's message (``%``, CR and LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value (the message escapes plus ``:`` and ``,``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(command: str, properties: dict[str, object], message: str) -> str:
    """One ``::command key=value,...::message`` line, escaped."""
    props = ",".join(f"{k}={escape_property(str(v))}" for k, v in properties.items())
    return f"::{command} {props}::{escape_data(message)}" if props else f"::{command}::{escape_data(message)}"


class GithubReport:
    """``--format github``: annotations on the output, a job summary in ``$GITHUB_STEP_SUMMARY``."""

    def write(self, result: ScanResult, out: TextIO, color: bool) -> None:
        _, prefix = artifact_base(result)
        for line in annotation_lines(result, prefix):
            out.write(line + "\n")
        out.write(_totals_line(result) + "\n")
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            try:
                with open(summary, "a", encoding="utf-8") as fh:
                    fh.write(job_summary(result, prefix))
            except OSError as exc:
                raise UsageError(
                    f"Cannot write the job summary to {summary} (GITHUB_STEP_SUMMARY): {exc.strerror or exc}"
                ) from None


def annotation_lines(result: ScanResult, prefix: str = "") -> list[str]:
    """Workflow commands for the findings at level note or above (errors first), notices for
    accepted copies that changed or moved since accepted (they block nothing), then for allow
    comments that suppress nothing because they give no reason."""
    lines: list[tuple[int, str, int, str]] = []
    for f in result.findings:
        if f.level in COMMAND:
            lines.append((-SEVERITY[f.level], f.path, f.start_line, _finding_command(f, prefix)))
    for lf in result.license_findings:
        if lf.level in COMMAND:
            lines.append((-SEVERITY[lf.level], lf.path, lf.start_line, _notice_command(lf, prefix, result)))
    for f in _changed_since_accepted(result):
        lines.append((0, f.path, f.start_line, _accepted_command(f, prefix)))
    out = [cmd for *_, cmd in sorted(lines)]
    for u in result.stats.get("suppressions_without_reason") or []:
        props = {
            "file": f"{prefix}{u.get('path')}",
            "line": u.get("line"),
            "title": "codeguard: allow without reason",
        }
        message = 'codeguard: allow without reason="..." is ignored; say why the copy is acceptable.'
        out.append(workflow_command("warning", props, message))
    return out


def _finding_command(f: Finding, prefix: str) -> str:
    o = f.origin
    lic = o.license or "unknown license"
    title = f"{f.rule_id or COPY_RULE}: {f.match_type} copy of {o.source}:{o.path} ({lic})"
    message = finding_message(f)
    if f.help:
        message += f"\n{f.help}"
    props = {"file": prefix + f.path, "line": f.start_line, "endLine": f.end_line, "title": title}
    return workflow_command(COMMAND[f.level], props, message)


def _changed_since_accepted(result: ScanResult) -> list[Finding]:
    return [f for f in result.suppressed if f.baseline in ACCEPTED_CHANGES]


def _accepted_command(f: Finding, prefix: str) -> str:
    o = f.origin
    title = f"{f.rule_id or COPY_RULE}: accepted copy of {o.source}:{o.path}, {f.baseline} since accepted"
    message = (
        f"This copy was accepted in the baseline at {f.accepted_at} and has {f.baseline} since: not a "
        f"new violation, it blocks nothing. `codeguard baseline update` records the change.\n"
        f"{finding_message(f)}"
    )
    props = {"file": prefix + f.path, "line": f.start_line, "endLine": f.end_line, "title": title}
    return workflow_command("notice", props, message)


def _notice_command(lf: LicenseFinding, prefix: str, result: ScanResult) -> str:
    title = f"{lf.rule_id or NOTICE_RULE}: license notice {lf.license}"
    message = (
        f"This file's license notice says {lf.license}, which conflicts with the project's license "
        f"{result.project.get('license') or 'unknown'}: {lf.reason}."
    )
    if lf.help:
        message += f"\n{lf.help}"
    props = {"file": prefix + lf.path, "line": lf.start_line, "endLine": lf.end_line, "title": title}
    return workflow_command(COMMAND[lf.level], props, message)


def _totals_line(result: ScanResult) -> str:
    return f"codeguard: {_counts(result)}"


def _counts(result: ScanResult) -> str:
    levels = Counter(f.level for f in result.findings)
    n = len(result.findings)
    text = f"{n} finding(s)"
    if n:
        text += " (" + ", ".join(f"{levels[lv]} {lv}" for lv in SEVERITY if levels[lv]) + ")"
    if result.license_findings:
        text += f", {len(result.license_findings)} conflicting license notice(s)"
    if result.suppressed or result.suppressed_license:
        text += f", {len(result.suppressed) + len(result.suppressed_license)} suppressed"
        changes = Counter(f.baseline for f in _changed_since_accepted(result))
        if changes:
            said = [f"{changes[b]} {b} since accepted" for b in ACCEPTED_CHANGES if changes[b]]
            text += " (" + ", ".join(said) + ")"
    return text


# -- job summary ---------------------------------------------------------------------------------
_MD_SPECIAL = "\\`*_[]<>|~#"


def md(text: str) -> str:
    """Plain text made safe for a markdown table cell (no markup, no HTML, one line)."""
    text = text.replace("&", "&amp;")
    for ch in _MD_SPECIAL:
        text = text.replace(ch, "\\" + ch)
    return " ".join(text.split())


def _table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def job_summary(result: ScanResult, prefix: str = "") -> str:
    """The markdown job summary: totals, one table row per finding (most severe first), then the
    conflicting license notices and the accepted copies changed or moved since accepted."""
    out = [f"## codeguard: {_counts(result)}", ""]
    s = result.stats
    facts = [f"Project license **{md(result.project.get('license') or 'unknown')}**"]
    if s:
        facts.append(f"scanned {s.get('files_scanned', 0):,} file(s), {s.get('lines', 0):,} lines")
    if result.index:
        facts.append(f"against {result.index.get('files', 0):,} reference file(s)")
    if result.skipped:
        facts.append(f"{len(result.skipped)} file(s) skipped")
    base = s.get("baseline") if s else None
    if base:
        facts.append(
            f"baseline {md(str(base.get('path')))} ({base.get('entries', 0):,} accepted finding(s), "
            f"{base.get('accepted', 0):,} matched)"
        )
    out += [", ".join(facts) + ".", ""]
    findings = sorted(result.findings, key=lambda f: (-SEVERITY.get(f.level, 0), f.path, f.start_line))
    if findings:
        rows = [
            [
                md(f.level),
                md(f"{prefix}{f.path}:{f.start_line}-{f.end_line}"),
                md(f"{f.chunk_kind} {f.chunk_name}" if f.chunk_kind != "window" else "top-level code"),
                md(f.match_type),
                f"{f.score:.2f}",
                md(origin_text(f) + (f" @ {f.origin.commit[:12]}" if f.origin.commit else "")),
                md(f.origin.license or "unknown"),
                md(f.rule_id or COPY_RULE),
                md(f.reason),
            ]
            for f in findings[:MAX_SUMMARY_ROWS]
        ]
        header = ["Level", "File:lines", "Code", "Match", "Score", "Origin", "License", "Rule", "Policy"]
        out += _table(header, rows)
        if len(findings) > MAX_SUMMARY_ROWS:
            out += ["", f"{len(findings) - MAX_SUMMARY_ROWS} more finding(s) not shown: see the full report."]
        out.append("")
    if result.license_findings:
        out += ["### Conflicting license notices", ""]
        rows = [
            [
                md(lf.level),
                md(f"{prefix}{lf.path}:{lf.start_line}-{lf.end_line}"),
                md(lf.license),
                md(lf.rule_id or NOTICE_RULE),
                md(lf.reason),
            ]
            for lf in result.license_findings
        ]
        out += _table(["Level", "File:lines", "License", "Rule", "Policy"], rows)
        out.append("")
    changed = sorted(_changed_since_accepted(result), key=lambda f: (f.path, f.start_line))
    if changed:
        # Not violations (they block nothing), but a reviewer should see what moved or was edited
        # under an acceptance before `baseline update` records it.
        out += ["### Accepted copies changed or moved since accepted", ""]
        rows = [
            [
                md(f"{f.baseline} since accepted"),
                md(f"{prefix}{f.path}:{f.start_line}-{f.end_line}"),
                md(f"{f.chunk_kind} {f.chunk_name}" if f.chunk_kind != "window" else "top-level code"),
                md(origin_text(f)),
                md(f.origin.license or "unknown"),
                md(f"{prefix}{f.accepted_at}"),
                md(f.suppressed.removeprefix("baseline: ")),
            ]
            for f in changed[:MAX_SUMMARY_ROWS]
        ]
        header = ["State", "File:lines", "Code", "Origin", "License", "Accepted at", "Baseline"]
        out += _table(header, rows)
        if len(changed) > MAX_SUMMARY_ROWS:
            out += ["", f"{len(changed) - MAX_SUMMARY_ROWS} more not shown: see the full report."]
        out += ["", "`codeguard baseline update` records them.", ""]
    return "\n".join(out) + "\n"
