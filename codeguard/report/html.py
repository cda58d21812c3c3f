"""Self-contained HTML report: a summary, then every finding with both sides side by side.

One file with inline CSS and no script or external resource, so it can be attached to a CI run
or mailed to a compliance team. The scanned side is read from the scan root; the origin side
from the reference index (which stores every indexed file's content), opened read-only after
the scan. Without the index the origin side is replaced by a note. Every text is escaped.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

from codeguard import __version__
from codeguard.model import Finding, ScanResult
from codeguard.report.sarif import ACCEPTED_CHANGES, resembles_text

# Lines of context shown around a chunk on each side.
CONTEXT_LINES = 3
# Fragment i is drawn in colour i % N_COLOURS on both sides (see the CSS classes f0..f5).
N_COLOURS = 6
LEVEL_ORDER = ("error", "warning", "note", "none")
_LEVEL_LABEL = {"error": "error", "warning": "warning", "note": "note", "none": "allowed"}
_MATCH_LABEL = {
    "exact": "exact copy",
    "renamed": "renamed identifiers",
    "modified": "modified copy",
    "semantic": "same meaning",
}


def e(value: object) -> str:
    """HTML-escape any value (quotes included, for attributes)."""
    return html.escape(str(value), quote=True)


class HtmlReport:
    """``--format html``: one self-contained page."""

    def write(self, result: ScanResult, out: TextIO, color: bool) -> None:
        origins = OriginReader(result.read_origin)
        try:
            out.write(render(result, origins))
        finally:
            origins.close()


# -- reading both sides --------------------------------------------------------------------------
class OriginReader:
    """Origin file contents (through the scan result's reader), cached by (source, path)."""

    def __init__(self, read: Callable[[str, str], bytes | None] | None):
        self.read = read
        self.problem = "" if read else "the scan used no reference index"
        self._cache: dict[tuple[str, str], list[str] | None] = {}

    def lines(self, source: str, path: str) -> list[str] | None:
        """The origin file's lines, or None (``self.problem`` or a per-file reason says why)."""
        key = (source, path)
        if key not in self._cache:
            content = None
            if self.read is not None:
                try:
                    content = self.read(source, path)
                except Exception:  # noqa: BLE001 - a report must not fail on one file
                    content = None
            self._cache[key] = (
                content.decode("utf-8", "replace").splitlines() if content is not None else None
            )
        return self._cache[key]

    def close(self) -> None:
        pass


def scanned_lines(result: ScanResult, path: str, cache: dict[str, list[str] | None]) -> list[str] | None:
    """A scanned file's lines as they are on disk now (None when it cannot be read)."""
    if path not in cache and result.read_scanned is not None:
        content = result.read_scanned(path)
        if content is not None:
            cache[path] = content.decode("utf-8", "replace").splitlines()
    if path not in cache:
        root = Path(result.base or result.root)
        file = root if root.is_file() else root / path
        try:
            cache[path] = file.read_bytes().decode("utf-8", "replace").splitlines()
        except OSError:
            cache[path] = None
    return cache[path]


# -- rendering -----------------------------------------------------------------------------------
def render(result: ScanResult, origins: OriginReader) -> str:
    """The whole page."""
    findings = sorted(
        result.findings,
        key=lambda f: (LEVEL_ORDER.index(f.level) if f.level in LEVEL_ORDER else 9, f.path, f.start_line),
    )
    cache: dict[str, list[str] | None] = {}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>codeguard report: {e(report_name(result))}</title>",
        f"<style>{CSS}</style></head><body>",
        _header(result),
        _summary(result),
    ]
    if findings:
        parts.append(_toc(findings))
        for i, f in enumerate(findings, 1):
            parts.append(_finding(result, f, i, origins, cache))
    else:
        parts.append('<p class="empty">No copied code found.</p>')
    if result.license_findings:
        parts.append(_license_findings(result))
    parts.append(_accepted_changes(result))
    parts.append(_skipped(result))
    parts.append("</body></html>\n")
    return "\n".join(p for p in parts if p)


def report_name(result: ScanResult) -> str:
    """The project's name for titles: the repository's (or project root's) directory name."""
    return Path(result.base or result.root).resolve().name or str(result.root)


def _header(result: ScanResult) -> str:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<header class="top"><h1>codeguard report</h1>'
        f'<div class="sub"><span class="mono">{e(result.root)}</span> · generated {e(now)} '
        f"by codeguard {e(__version__)}</div></header>"
    )


def _summary(result: ScanResult) -> str:
    counts = Counter(f.level for f in result.findings)
    cards = "".join(
        f'<div class="card lvl-{lv}"><div class="num">{counts.get(lv, 0)}</div>'
        f'<div class="lbl">{e(_LEVEL_LABEL[lv])}</div></div>'
        for lv in LEVEL_ORDER
    )
    if result.license_findings:
        cards += (
            f'<div class="card lvl-notice"><div class="num">{len(result.license_findings)}</div>'
            '<div class="lbl">license notices</div></div>'
        )
    if result.suppressed or result.suppressed_license:
        n_suppressed = len(result.suppressed) + len(result.suppressed_license)
        cards += (
            f'<div class="card lvl-suppressed"><div class="num">{n_suppressed}</div>'
            '<div class="lbl">suppressed</div></div>'
        )
    changes = Counter(f.baseline for f in result.suppressed if f.baseline in ACCEPTED_CHANGES)
    cards += "".join(
        f'<div class="card lvl-accepted"><div class="num">{changes[state]}</div>'
        f'<div class="lbl">{e(state)} since accepted</div></div>'
        for state in ACCEPTED_CHANGES
        if changes[state]
    )
    p = result.project or {}
    evidence = [str(x.get("file") or x.get("kind")) for x in p.get("evidence") or [] if x.get("license")]
    lic = e(p.get("license") or "unknown") + (
        f' <span class="dim">from {e(", ".join(evidence))}</span>'
        if evidence
        else ' <span class="dim">not declared</span>'
    )
    facts = [("Project license", lic)]
    if p.get("policy"):
        facts.append(("Policy", f'<span class="mono">{e(p["policy"])}</span>'))
    ix = result.index or {}
    if ix:
        facts.append(
            (
                "Index",
                f'<span class="mono">{e(ix.get("path", ""))}</span> '
                f'<span class="dim">· {ix.get("sources", 0):,} '
                f"source(s), {ix.get('files', 0):,} files, {ix.get('chunks', 0):,} chunks</span>",
            )
        )
    else:
        facts.append(("Index", '<span class="dim">none (license notices only)</span>'))
    base = (result.stats or {}).get("baseline")
    if base:
        facts.append(
            (
                "Baseline",
                f'<span class="mono">{e(base.get("path"))}</span> <span class="dim">· '
                f"{int(base.get('entries', 0)):,} accepted finding(s); {int(base.get('accepted', 0)):,} "
                f"matched, {int(base.get('changed', 0)):,} changed and {int(base.get('moved', 0)):,} "
                "moved since accepted</span>",
            )
        )
    s = result.stats or {}
    scan = (
        f"{s.get('files_scanned', 0):,} files, {s.get('lines', 0):,} lines "
        f"in {float(s.get('seconds', 0)):.2f} s"
    )
    if result.skipped:
        scan += f' <span class="dim">· {len(result.skipped)} skipped</span>'
    facts.append(("Scanned", scan))
    dl = "".join(f"<dt>{e(k)}</dt><dd>{v}</dd>" for k, v in facts)
    return f'<section class="summary"><div class="cards">{cards}</div><dl class="facts">{dl}</dl></section>'


def _level_badge(level: str) -> str:
    return f'<span class="badge lvl-{e(level)}">{e(_LEVEL_LABEL.get(level, level))}</span>'


def _match_badge(match_type: str) -> str:
    label = _MATCH_LABEL.get(match_type, match_type)
    return f'<span class="badge match match-{e(match_type)}">{e(label)}</span>'


def _toc(findings: list[Finding]) -> str:
    rows = "".join(
        f"<tr><td>{_level_badge(f.level)}</td>"
        f'<td><a href="#f{i}" class="mono">{e(f.path)}:{f.start_line}-{f.end_line}</a></td>'
        f'<td>{e(_code_name(f))}</td><td>{_match_badge(f.match_type)}</td><td class="num">{f.score:.2f}</td>'
        f'<td class="mono">{e(f.origin.source)}:{e(f.origin.path)}</td>'
        f"<td>{e(f.origin.license or 'unknown')}</td>"
        f'<td class="mono">{e(f.rule_id or "—")}</td></tr>'
        for i, f in enumerate(findings, 1)
    )
    return (
        '<nav class="toc"><h2>Findings</h2><table><thead><tr>'
        "<th>Level</th><th>Scanned code</th><th>Chunk</th>"
        "<th>Match</th><th>Score</th><th>Origin</th><th>License</th><th>Rule</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></nav>"
    )


def origin_label(f: Finding) -> str:
    """``source:path:start-end`` of a finding's origin."""
    return f"{f.origin.source}:{f.origin.path}:{f.origin.start_line}-{f.origin.end_line}"


def _code_name(f: Finding) -> str:
    return "top-level code" if f.chunk_kind == "window" else f"{f.chunk_kind} {f.chunk_name}".strip()


def _finding(
    result: ScanResult, f: Finding, i: int, origins: OriginReader, cache: dict[str, list[str] | None]
) -> str:
    o = f.origin
    where = f'<b>{e(o.source)}</b> <span class="mono">{e(o.path)}</span> lines {o.start_line}–{o.end_line}'
    if o.chunk_name and o.chunk_kind != "window":
        where += f' <span class="dim">({e(o.chunk_kind)} <span class="mono">{e(o.chunk_name)}</span>)</span>'
    facts = [("Copied from", where), ("License", f"<b>{e(o.license or 'unknown')}</b>")]
    facts.append(
        (
            "Commit",
            f'<span class="mono">{e(o.commit)}</span>'
            if o.commit
            else '<span class="dim">none recorded</span>',
        )
    )
    if o.origin:
        facts.append(("Source", f'<span class="mono">{e(o.origin)}</span>'))
    if f.also_in:
        also = ", ".join(
            f'<span class="mono">{e(p.source)}:{e(p.path)}:{p.start_line}</span>' for p in f.also_in
        )
        facts.append(("Also in", also))
    prov = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    rule = f'<span class="mono">{e(f.rule_id)}</span> ' if f.rule_id else ""
    verdict = (
        f'<div class="verdict lvl-{e(f.level)}">{_level_badge(f.level)} '
        f"{rule}{e(f.reason or 'no license conflict')}"
        + (f'<div class="help">{e(f.help)}</div>' if f.help else "")
        + (f'<div class="help">{e(resembles_text(f))}.</div>' if f.resembles else "")
        + "</div>"
    )
    legend = "".join(
        f'<li><span class="sw f{k % N_COLOURS}"></span>lines {fr.start_line}–{fr.end_line} ↔ '
        f'{fr.origin_start_line}–{fr.origin_end_line} <span class="dim">· {fr.tokens} tokens · '
        f"{'identical' if fr.exact else 'normalized match'}</span></li>"
        for k, fr in enumerate(f.fragments)
    )
    left = _side(
        "Scanned",
        e(f.path),
        scanned_lines(result, f.path, cache),
        f.start_line,
        f.end_line,
        [(fr.start_line, fr.end_line) for fr in f.fragments],
        "the file could not be read from the scan root",
    )
    right_lines = origins.lines(o.source, o.path)
    why = origins.problem or "the index no longer holds this file"
    right = _side(
        "Origin",
        f"{e(o.source)}:{e(o.path)}",
        right_lines,
        o.start_line,
        o.end_line,
        [(fr.origin_start_line, fr.origin_end_line) for fr in f.fragments],
        f"origin code not shown: {why}",
    )
    return (
        f'<section class="finding lvl-{e(f.level)}" id="f{i}">'
        f'<div class="fhead"><span class="idx">#{i}</span>{_level_badge(f.level)}{_match_badge(f.match_type)}'
        f'<h3 class="mono">{e(f.path)}:{f.start_line}–{f.end_line}</h3>'
        f'<span class="chunk">{e(_code_name(f))}</span>'
        f'<span class="score">score {f.score:.2f} · coverage {f.coverage:.0%}</span></div>'
        f'<div class="meta"><dl class="prov">{prov}</dl>{verdict}</div>'
        f'<ol class="legend">{legend}</ol>'
        f'<div class="sides">{left}{right}</div></section>'
    )


def _side(
    label: str,
    title: str,
    lines: list[str] | None,
    start: int,
    end: int,
    fragments: list[tuple[int, int]],
    missing: str,
) -> str:
    head = (
        f'<div class="side-h"><span class="side-l">{e(label)}</span> <span class="mono">{title}</span></div>'
    )
    if lines is None or start > len(lines):
        why = (
            missing if lines is None else f"{missing.split(':')[0]}: the file has only {len(lines)} lines now"
        )
        return f'<div class="side">{head}<div class="missing">{e(why)}</div></div>'
    lo = max(1, start - CONTEXT_LINES)
    hi = min(len(lines), end + CONTEXT_LINES)
    rows = []
    for n in range(lo, hi + 1):
        classes = ["ln"]
        if n < start or n > end:
            classes.append("ctx")
        frag = next((k for k, (a, b) in enumerate(fragments) if a <= n <= b), None)
        if frag is not None:
            classes.append(f"hl f{frag % N_COLOURS}")
        rows.append(
            f'<div class="{" ".join(classes)}"><span class="no">{n}</span>'
            f'<span class="tx">{e(lines[n - 1])}</span></div>'
        )
    return f'<div class="side">{head}<div class="code">{"".join(rows)}</div></div>'


def _license_findings(result: ScanResult) -> str:
    rows = "".join(
        f"<tr><td>{_level_badge(lf.level)}</td>"
        f'<td class="mono nw">{e(lf.path)}:{lf.start_line}-{lf.end_line}</td>'
        f'<td class="nw">{e(lf.license)}</td><td class="mono nw">{e(lf.rule_id)}</td><td>{e(lf.reason)}'
        + (f'<div class="help">{e(lf.help)}</div>' if lf.help else "")
        + "</td></tr>"
        for lf in result.license_findings
    )
    return (
        '<section class="notices"><h2>Conflicting license notices</h2><table><thead><tr><th>Level</th>'
        "<th>File</th><th>Notice</th><th>Rule</th><th>Policy</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


def _accepted_changes(result: ScanResult) -> str:
    """Accepted copies that changed or moved since accepted: shown open (not with the other
    suppressed findings), since a reviewer should see them before `baseline update` records them."""
    changed = sorted(
        (f for f in result.suppressed if f.baseline in ACCEPTED_CHANGES), key=lambda f: (f.path, f.start_line)
    )
    if not changed:
        return ""
    rows = "".join(
        f'<tr><td class="nw">{e(f.baseline)} since accepted</td>'
        f'<td class="mono nw">{e(f.path)}:{f.start_line}-{f.end_line}</td>'
        f'<td>{e(_code_name(f))}</td><td class="mono">{e(origin_label(f))}</td>'
        f'<td class="nw">{e(f.origin.license or "unknown")}</td>'
        f'<td class="mono nw">{e(f.accepted_at)}</td>'
        f"<td>{e(f.suppressed.removeprefix('baseline: '))}</td></tr>"
        for f in changed
    )
    return (
        f'<section class="accepted"><h2>Accepted copies changed or moved since accepted ({len(changed)})</h2>'
        '<p class="dim">Not new violations: they block nothing. <span class="mono">codeguard baseline '
        "update</span> records them.</p><table><thead><tr><th>State</th><th>Scanned code</th><th>Chunk</th>"
        "<th>Origin</th><th>License</th><th>Accepted at</th><th>Baseline</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


def _skipped(result: ScanResult) -> str:
    """Collapsed lists: suppressed findings (for audit), skipped files, notes."""
    stats = result.stats or {}
    notes = [(str(n.get("path", "")), str(n.get("note", ""))) for n in stats.get("notes") or []]
    notes += [
        (f"{u.get('path')}:{u.get('line')}", 'codeguard: allow without reason="..." is ignored')
        for u in stats.get("suppressions_without_reason") or []
    ]
    if not result.skipped and not notes and not result.suppressed:
        return ""
    parts = ['<section class="skipped">']
    if result.suppressed:
        rows = "".join(
            f"<tr><td>{_level_badge(f.level)}</td>"
            f'<td class="mono nw">{e(f.path)}:{f.start_line}-{f.end_line}</td>'
            f'<td>{e(_code_name(f))}</td><td class="mono">{e(origin_label(f))}</td>'
            f'<td class="nw">{e(f.origin.license or "unknown")}</td><td>{e(f.suppressed)}</td></tr>'
            for f in result.suppressed
        )
        parts.append(
            f"<details><summary>Suppressed findings ({len(result.suppressed)})</summary><table><thead><tr>"
            "<th>Level</th><th>Scanned code</th><th>Chunk</th><th>Origin</th><th>License</th>"
            "<th>Why accepted</th>"
            f"</tr></thead><tbody>{rows}</tbody></table></details>"
        )
    if result.skipped:
        rows = "".join(
            f'<tr><td class="mono">{e(s.path)}</td><td>{e(s.reason)}</td></tr>' for s in result.skipped
        )
        parts.append(
            f"<details><summary>Skipped files ({len(result.skipped)})</summary>"
            f"<table><tbody>{rows}</tbody></table></details>"
        )
    if notes:
        rows = "".join(f'<tr><td class="mono">{e(p)}</td><td>{e(n)}</td></tr>' for p, n in notes)
        parts.append(
            f"<details><summary>Notes ({len(notes)})</summary><table><tbody>{rows}</tbody></table></details>"
        )
    parts.append("</section>")
    return "".join(parts)


CSS = """
:root{--fg:#1f2328;--dim:#656d76;--line:#d0d7de;--bg:#f6f8fa;--err:#cf222e;--warn:#9a6700;--note:#0969da;
--ok:#1a7f37;--mono:ui-monospace,SFMono-Regular,"DejaVu Sans Mono",Menlo,Consolas,monospace}
*{box-sizing:border-box}
body{margin:0;padding:0 28px 40px;font:14px/1.5 system-ui,-apple-system,"Segoe UI","DejaVu Sans",sans-serif;
color:var(--fg);background:#fff}
.mono{font-family:var(--mono);font-size:12.5px}
.dim{color:var(--dim)}
h1{font-size:22px;margin:0}
h2{font-size:16px;margin:24px 0 8px}
h3{font-size:14px;margin:0}
.top{padding:18px 0 12px;border-bottom:1px solid var(--line)}
.top .sub{color:var(--dim);margin-top:2px}
.summary{display:flex;flex-wrap:wrap;gap:28px;align-items:flex-start;padding:16px 0;
border-bottom:1px solid var(--line)}
.cards{display:flex;gap:10px}
.card{min-width:84px;padding:8px 12px;border:1px solid var(--line);border-radius:8px;
border-top:4px solid var(--dim)}
.card .num{font-size:24px;font-weight:600;line-height:1.2}
.card .lbl{color:var(--dim);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card.lvl-error{border-top-color:var(--err)}.card.lvl-warning{border-top-color:var(--warn)}
.card.lvl-note{border-top-color:var(--note)}.card.lvl-none{border-top-color:var(--ok)}
.card.lvl-notice{border-top-color:#8250df}.card.lvl-accepted{border-top-color:var(--note)}
.facts{display:grid;grid-template-columns:auto 1fr;gap:3px 14px;margin:0}
.facts dt{color:var(--dim)}.facts dd{margin:0}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;color:var(--dim);font-weight:600;background:var(--bg)}
td.num{font-variant-numeric:tabular-nums}
td.nw{white-space:nowrap}
a{color:var(--note);text-decoration:none}a:hover{text-decoration:underline}
.badge{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;font-weight:600;line-height:20px;
white-space:nowrap;border:1px solid transparent}
.badge.lvl-error{background:#ffebe9;color:var(--err);border-color:#ffcecb}
.badge.lvl-warning{background:#fff8c5;color:var(--warn);border-color:#f5e0a0}
.badge.lvl-note{background:#ddf4ff;color:var(--note);border-color:#b6e3ff}
.badge.lvl-none{background:#dafbe1;color:var(--ok);border-color:#aceebb}
.badge.match{background:var(--bg);color:var(--fg);border-color:var(--line);font-weight:500}
.badge.match-exact{background:#fff1e5;border-color:#ffd8b5;color:#bc4c00}
.finding{margin-top:26px;border:1px solid var(--line);border-radius:8px;overflow:hidden;
border-left:5px solid var(--dim)}
.finding.lvl-error{border-left-color:var(--err)}.finding.lvl-warning{border-left-color:#d4a72c}
.finding.lvl-note{border-left-color:var(--note)}.finding.lvl-none{border-left-color:var(--ok)}
.fhead{display:flex;flex-wrap:wrap;gap:8px;align-items:center;padding:10px 14px;background:var(--bg);
border-bottom:1px solid var(--line)}
.fhead .idx{color:var(--dim);font-weight:600}
.fhead .chunk{color:var(--dim)}
.fhead .score{margin-left:auto;color:var(--dim);font-variant-numeric:tabular-nums}
.meta{display:grid;grid-template-columns:1fr 1fr;gap:14px;padding:10px 14px}
.prov{display:grid;grid-template-columns:auto 1fr;gap:2px 12px;margin:0;align-content:start}
.prov dt{color:var(--dim)}.prov dd{margin:0;overflow-wrap:anywhere}
.verdict{padding:8px 10px;border-radius:6px;background:var(--bg);border:1px solid var(--line)}
.verdict.lvl-error{background:#fff5f5;border-color:#ffcecb}
.verdict.lvl-warning{background:#fffbea;border-color:#f5e0a0}
.verdict.lvl-note{background:#f3f9ff;border-color:#b6e3ff}
.verdict.lvl-none{background:#f2fcf4;border-color:#aceebb}
.help{color:var(--dim);margin-top:4px;font-size:13px}
.legend{list-style:none;margin:0;padding:0 14px 8px;display:flex;flex-wrap:wrap;gap:4px 18px;font-size:13px}
.sw{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:6px;vertical-align:-1px}
.sides{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);border-top:1px solid var(--line)}
.side+.side{border-left:1px solid var(--line)}
.side-h{padding:6px 12px;background:var(--bg);border-bottom:1px solid var(--line);white-space:nowrap;
overflow:hidden;text-overflow:ellipsis}
.side-l{font-weight:600;text-transform:uppercase;font-size:11px;letter-spacing:.05em;color:var(--dim)}
.code{font-family:var(--mono);font-size:12px;line-height:18px;overflow:auto;max-height:560px;padding:4px 0}
.ln{display:flex;min-width:max-content;border-left:3px solid transparent}
.ln .no{flex:none;width:48px;padding-right:10px;text-align:right;color:#8c959f;user-select:none}
.ln .tx{white-space:pre;tab-size:4;padding-right:12px}
.ln.ctx{opacity:.5}
.missing{padding:16px;color:var(--dim);font-style:italic}
.f0{background:#fff5b1}.ln.f0{border-left-color:#d4a72c}
.f1{background:#ddf4ff}.ln.f1{border-left-color:#54aeff}
.f2{background:#dafbe1}.ln.f2{border-left-color:#4ac26b}
.f3{background:#ffebe9}.ln.f3{border-left-color:#ff8182}
.f4{background:#fbefff}.ln.f4{border-left-color:#c297ff}
.f5{background:#fff1e5}.ln.f5{border-left-color:#fb8f44}
.notices,.accepted,.skipped{margin-top:26px}
details{margin-top:10px}summary{cursor:pointer;color:var(--dim)}
.empty{padding:24px 0;color:var(--ok);font-weight:600}
@media (max-width:900px){.sides,.meta{grid-template-columns:1fr}
.side+.side{border-left:0;border-top:1px solid var(--line)}}
@media print{.code{max-height:none}.finding{break-inside:avoid}}
"""
