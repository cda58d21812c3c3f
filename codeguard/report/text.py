"""Human-readable terminal report (rich; plain text when piped)."""

from __future__ import annotations

from collections import Counter
from typing import TextIO

from rich.console import Console
from rich.markup import escape

from codeguard.model import Finding, ScanResult, Skip
from codeguard.report.sarif import accepted_change, resembles_text

_LEVEL_STYLE = {"error": "bold red", "warning": "yellow", "note": "cyan", "none": "green"}
_TYPE_STYLE = {"exact": "bold red", "renamed": "red", "modified": "yellow", "semantic": "magenta"}


def _origin(f: Finding) -> str:
    o = f.origin
    parts = [f"{o.source}:{o.path}:{o.start_line}-{o.end_line}"]
    if o.chunk_name:
        parts.append(f"({o.chunk_kind} {o.chunk_name})")
    if o.commit:
        parts.append(f"@ {o.commit[:12]}")
    parts.append(f"license {o.license or 'unknown'}")
    if o.license_note:
        parts.append(f"({o.license_note})")
    if o.vendored:
        parts.append(f"[the origin is itself a vendored copy: {o.vendored}]")
    return " ".join(parts)


class TextReport:
    def write(self, result: ScanResult, out: TextIO, color: bool) -> None:
        con = Console(
            file=out,
            force_terminal=color,
            no_color=not color,
            highlight=False,
            width=120 if not color else None,
            soft_wrap=True,
        )
        for f in result.findings:
            style = _TYPE_STYLE.get(f.match_type, "")
            lstyle = _LEVEL_STYLE.get(f.level, "")
            con.print(
                f"[bold]{escape(f.path)}:{f.start_line}-{f.end_line}[/bold] "
                f"{f.chunk_kind} {escape(f.chunk_name)}  [{style}]{f.match_type.upper()}[/{style}] "
                + (f"P(copy) {f.probability:.2f}" if f.probability is not None else f"score {f.score:.2f}")
            )
            con.print(f"  copied from {escape(_origin(f))}")
            if f.match_type == "semantic":
                con.print(
                    "    same meaning as the origin (the model's verdict; no identical token run): "
                    f"lines {f.start_line}-{f.end_line} <- {f.origin.start_line}-{f.origin.end_line}"
                )
            for fr in f.fragments if f.match_type != "semantic" else ():
                kind = "identical" if fr.exact else "normalized match"
                con.print(
                    f"    lines {fr.start_line}-{fr.end_line} <- {fr.origin_start_line}-{fr.origin_end_line}"
                    f"  ({fr.tokens} tokens, {kind})"
                )
            if f.also_in:
                more = ", ".join(f"{p.source}:{p.path}:{p.start_line}" for p in f.also_in)
                con.print(f"  also in: {escape(more)}")
            verdict = f"{f.rule_id} " if f.rule_id else ""
            con.print(f"  [{lstyle}]{f.level}[/{lstyle}] {verdict}{escape(f.reason)}")
            if f.resembles:
                con.print(f"  [cyan]{escape(resembles_text(f))}[/cyan]")
        for lf in result.license_findings:
            lstyle = _LEVEL_STYLE.get(lf.level, "")
            con.print(
                f"[bold]{escape(lf.path)}:{lf.start_line}-{lf.end_line}[/bold] "
                f"license notice {escape(lf.license)}\n"
                f"  [{lstyle}]{lf.level}[/{lstyle}] {lf.rule_id} {escape(lf.reason)}"
            )
        s = result.stats
        files = len({f.path for f in result.findings})
        against = f" against {result.index['files']:,} reference files" if result.index else " (no index)"
        con.print(
            f"\n{len(result.findings)} finding(s) in {files} file(s); scanned {s['files_scanned']} file(s), "
            f"{s['lines']:,} lines in {s['seconds']:.2f}s{against}."
        )
        if result.license_findings:
            con.print(f"{len(result.license_findings)} file(s) with a conflicting license notice.")
        n_suppressed = len(result.suppressed) + len(result.suppressed_license)
        if n_suppressed:
            con.print(
                f"{n_suppressed} finding(s) suppressed (baseline or inline allow; --format json lists them)."
            )
        for f in result.suppressed:
            change = accepted_change(f)
            if change:
                con.print(
                    f"[cyan]{escape(f.path)}:{f.start_line}-{f.end_line} "
                    f"{f.chunk_kind} {escape(f.chunk_name)}: {escape(change.split(' (')[0])} (copied from "
                    f"{escape(f.origin.source)}:{escape(f.origin.path)}; accepted at "
                    f"{escape(f.accepted_at)}); `codeguard baseline update` records the change[/cyan]"
                )
        base = s.get("baseline")
        if base:
            moved = f", {base['moved']} moved since accepted" if base.get("moved") else ""
            con.print(
                f"Baseline: {escape(str(base['path']))} ({base['entries']} accepted finding(s); "
                f"{base['accepted']} matched, {base['changed']} changed since accepted{moved})."
            )
        for u in s.get("suppressions_without_reason", []):
            con.print(
                f'[yellow]{escape(u["path"])}:{u["line"]}: codeguard: allow without reason="..." is ignored; '
                "say why the copy is acceptable[/yellow]"
            )
        if result.project:
            con.print(
                f"Project license: {escape(result.project.get('license') or 'unknown')} "
                f"({escape(_evidence(result.project))})."
            )
        sem = s.get("semantic") or {}
        if result.index and sem.get("status") == "on":
            con.print(
                f"Semantic layer: model {escape(str(sem.get('model')))}, {sem.get('vectors', 0):,} reference "
                f"vectors ({sem.get('method')}), {sem.get('chunks_considered', 0)} chunk(s) checked, "
                f"P(copy) threshold {sem.get('threshold') or 0:.2f}."
            )
        elif result.index and sem.get("status"):
            con.print(f"Semantic layer {escape(str(sem['status']))}.")
        dirs = [sk for sk in result.skipped if _skipped_by_default(sk)]
        other = [sk for sk in result.skipped if not _skipped_by_default(sk)]
        if dirs:
            con.print(
                f"Skipped {len(dirs)} director{'y' if len(dirs) == 1 else 'ies'} by default: "
                f"{escape(_reason_counts(dirs))} (--include-skipped-dirs walks them)."
            )
        if other:
            summary = escape(_reason_counts(other))
            con.print(f"Skipped {len(other)} file(s): {summary} (details: --format json).")


def _skipped_by_default(sk: Skip) -> bool:
    """A directory left out by default (a virtual environment, build output, tool cache...)."""
    return sk.path.endswith("/") and "skipped by default" in sk.reason


def _reason_counts(skips: list[Skip]) -> str:
    reasons = Counter(_reason_class(sk.reason) for sk in skips)
    return ", ".join(f"{n} {r}" for r, n in reasons.most_common())


def _evidence(project: dict) -> str:  # type: ignore[type-arg]
    ev = project.get("evidence") or []
    found = [f"{e.get('file', e.get('kind'))}" for e in ev if e.get("license")]
    return "from " + ", ".join(found) if found else "not declared"


def _reason_class(reason: str) -> str:
    return reason.split(" (")[0].split(":")[0]
