"""Inline allow comments: ``codeguard: allow RULE reason="why"`` on the flagged chunk's first
line or on the line before it (above its decorators, if any); for a file's license notice, on
any line of the notice or the line before it; for a whole-file finding (a file identical to an
indexed one, also one that is hashed but not chunked: generated, minified, oversize), on one of
the file's first ``FILE_HEAD_LINES`` lines. RULE is a policy rule id, a
comma-separated list of them, or ``*``. A comment without a reason suppresses nothing and is
reported, so that every suppression carries its justification."""

from __future__ import annotations

import re
from dataclasses import dataclass

ALLOW_RE = re.compile(
    r"codeguard:\s*allow\s+(?P<rules>[\w*.-]+(?:\s*,\s*[\w*.-]+)*)"
    r"(?:\s+reason\s*=\s*(?:\"(?P<q>[^\"]*)\"|'(?P<s>[^']*)'|(?P<bare>\S+)))?",
)


# Lines at the top of a file where an allow comment for the whole file may stand (below a
# shebang, an encoding line or a generated-file header that must come first).
FILE_HEAD_LINES = 10


@dataclass(frozen=True)
class Allow:
    """One allow comment."""

    line: int
    rules: tuple[str, ...]
    reason: str

    def covers(self, rule_id: str) -> bool:
        return "*" in self.rules or (rule_id or "CG-COPY") in self.rules


def _parse(line_no: int, text: str) -> Allow | None:
    m = ALLOW_RE.search(text)
    if not m:
        return None
    rules = tuple(r.strip() for r in m.group("rules").split(","))
    reason = (m.group("q") or m.group("s") or m.group("bare") or "").strip()
    return Allow(line_no, rules, reason)


def allow_for(lines: list[str], start_line: int) -> Allow | None:
    """The allow comment that applies to a chunk starting at ``start_line`` (1-based)."""
    candidates = [start_line]
    i = start_line - 1
    while i >= 1 and lines[i - 1].lstrip().startswith("@"):  # decorators belong to the chunk
        i -= 1
    candidates.append(i)
    for n in candidates:
        if 1 <= n <= len(lines):
            found = _parse(n, lines[n - 1])
            if found:
                return found
    return None


def allow_in(lines: list[str], start_line: int, end_line: int) -> Allow | None:
    """The allow comment on a line of ``start_line..end_line`` (1-based) or the line before."""
    for n in range(max(start_line - 1, 1), min(end_line, len(lines)) + 1):
        found = _parse(n, lines[n - 1])
        if found:
            return found
    return None


def allow_for_file(lines: list[str]) -> Allow | None:
    """The allow comment that applies to a whole-file finding: on one of the first lines."""
    return allow_in(lines, 1, FILE_HEAD_LINES)


def hint(rule_id: str) -> str:
    """The allow comment a user writes to accept a finding of ``rule_id`` (without the comment
    marker of the file's language)."""
    return f'codeguard: allow {rule_id or "CG-COPY"} reason="why this copy is acceptable"'
