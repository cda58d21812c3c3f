"""Value types that cross module boundaries: chunks, fragments, provenance, findings."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Chunk:
    """A unit of code in a file: a function, method, class, or a window over top-level code.

    Token positions index the file's normalized token stream; ``end_tok`` is exclusive.
    """

    kind: str
    name: str
    start_tok: int
    end_tok: int
    start_line: int
    end_line: int
    depth: int = 0

    @property
    def n_tokens(self) -> int:
        return self.end_tok - self.start_tok


@dataclass(frozen=True)
class Skip:
    """A file left out of a scan or an index, with the reason a report can list."""

    path: str
    reason: str


@dataclass(frozen=True)
class Provenance:
    """Where a reference chunk comes from."""

    source: str
    path: str
    start_line: int
    end_line: int
    commit: str | None = None
    license: str | None = None
    chunk_kind: str = ""
    chunk_name: str = ""
    origin: str = ""
    # Where the license came from (package root and metadata or license file, a header), a
    # problem with it ("metadata says MIT, LICENSE says GPL-3.0-only"), and, when the origin is
    # itself a vendored copy of another project, the vendored package's folder.
    license_from: str = ""
    license_note: str = ""
    vendored: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "commit": self.commit,
            "license": self.license,
            "license_from": self.license_from,
            "license_note": self.license_note,
            "vendored": self.vendored,
            "chunk": {"kind": self.chunk_kind, "name": self.chunk_name},
            "origin": self.origin,
        }


@dataclass(frozen=True)
class Fragment:
    """One aligned run of identical normalized tokens: lines on the scanned side and the origin."""

    start_line: int
    end_line: int
    origin_start_line: int
    origin_end_line: int
    tokens: int
    exact: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "lines": [self.start_line, self.end_line],
            "origin_lines": [self.origin_start_line, self.origin_end_line],
            "tokens": self.tokens,
            "exact": self.exact,
        }


@dataclass(frozen=True)
class Finding:
    """A chunk of the scanned tree that was copied from a reference chunk."""

    path: str
    start_line: int
    end_line: int
    chunk_kind: str
    chunk_name: str
    match_type: str  # exact | renamed | modified | semantic
    score: float
    coverage: float
    origin_coverage: float
    longest: int
    fragments: tuple[Fragment, ...]
    origin: Provenance
    level: str = "warning"
    also_in: tuple[Provenance, ...] = field(default=())
    rule_id: str = ""
    reason: str = ""
    help: str = ""
    # Identity that survives moved lines: the file, the origin and the copied code's normalized
    # tokens (see engine/scan.py). Baselines and SARIF fingerprints use it.
    fingerprint: str = ""
    suppressed: str = ""  # why it is accepted ("baseline: ..." or "inline: ..."), empty if active
    # Calibrated P(copy) from the verdict classifier (codeguard.verdict), on every finding.
    probability: float | None = None
    # Which evidence matched: identical (raw tokens equal), renamed (normalized tokens equal),
    # edited (several fragments or partial cover), semantic (the model; no token run).
    channel: str = ""
    # How a baseline accepted it: "" (not by the baseline), "same" (its fingerprint), "changed"
    # (an accepted copy edited since: same file and origin, most of the same evidence) or
    # "moved" (its accepted file is gone: renamed since, same origin and evidence).
    baseline: str = ""
    # Where the baseline accepted it ("a.py:4-17"), when it changed or moved since.
    accepted_at: str = ""
    # A new finding only: the accepted copy of another file it resembles ("a.py:4-17"; the same
    # origin and evidence, the accepted file still there), so the report can say why it is new.
    resembles: str = ""
    # A small sample of the copied code's fingerprints (hex, space-separated) that lets a
    # baseline recognise an accepted copy after edits; not part of the reports.
    sketch: str = field(default="", repr=False, compare=False)

    @property
    def key(self) -> tuple[str, int, str, str]:
        return (self.path, self.start_line, self.origin.source, self.origin.path)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "chunk": {"kind": self.chunk_kind, "name": self.chunk_name},
            "match_type": self.match_type,
            "channel": self.channel,
            "probability": None if self.probability is None else round(self.probability, 4),
            "score": round(self.score, 4),
            "coverage": round(self.coverage, 4),
            "origin_coverage": round(self.origin_coverage, 4),
            "longest_fragment_tokens": self.longest,
            "level": self.level,
            "policy": {"rule_id": self.rule_id, "reason": self.reason, "help": self.help},
            "fingerprint": self.fingerprint,
            "suppressed": self.suppressed,
            "baseline": self.baseline,
            **({"accepted_at": self.accepted_at} if self.accepted_at else {}),
            **({"resembles": self.resembles} if self.resembles else {}),
            "fragments": [f.to_json() for f in self.fragments],
            "origin": self.origin.to_json(),
            "also_in": [p.to_json() for p in self.also_in],
        }


@dataclass(frozen=True)
class LicenseFinding:
    """A file of the scanned project whose own license notice conflicts with the project's."""

    path: str
    start_line: int
    end_line: int
    license: str
    level: str
    rule_id: str
    reason: str
    help: str = ""
    suppressed: str = ""  # why it is accepted ("baseline: ..." or "inline: ..."), empty if active

    @property
    def fingerprint(self) -> str:
        """Identity for baselines: the file and the license its notice declares (not its lines)."""
        return notice_fingerprint(self.path, self.license)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "license": self.license,
            "level": self.level,
            "policy": {"rule_id": self.rule_id, "reason": self.reason, "help": self.help},
            "fingerprint": self.fingerprint,
            "suppressed": self.suppressed,
        }


@dataclass
class ScanResult:
    """Everything a report needs: findings, skipped files and counters."""

    root: str
    findings: list[Finding]
    skipped: list[Skip]
    stats: dict[str, Any]
    index: dict[str, Any]
    license_findings: list[LicenseFinding] = field(default_factory=list)
    project: dict[str, Any] = field(default_factory=dict)
    suppressed: list[Finding] = field(default_factory=list)  # accepted: baseline or inline allow
    suppressed_license: list[LicenseFinding] = field(default_factory=list)  # accepted notices
    # The policy's rule catalog as plain data (id, name, level, message, help), for reports
    # that list every rule (SARIF).
    rules: list[dict[str, str]] = field(default_factory=list)
    # Content readers for reports that show code (HTML): the origin file from the index by
    # (source, path), and a scanned file as it was scanned (staged content, not the work tree).
    read_origin: Callable[[str, str], bytes | None] | None = field(default=None, repr=False)
    read_scanned: Callable[[str], bytes | None] | None = field(default=None, repr=False)
    # The directory every reported path is relative to: the git work tree around the scanned
    # path, else its project root (so that all formats and baselines agree whatever is scanned).
    base: str = ""


def finding_fingerprint(
    path: str, origin_source: str, origin_path: str, origin_name: str, tokens: bytes
) -> str:
    """Content identity of a finding: the file, the origin and the copied chunk's normalized
    tokens, so that it survives moved lines and reformatting but not a change of the code."""
    h = hashlib.sha256()
    for part in (path, origin_source, origin_path, origin_name, hashlib.sha256(tokens).hexdigest()):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:32]


def notice_fingerprint(path: str, license: str) -> str:
    """Content identity of a license-notice finding: the file and the declared license."""
    h = hashlib.sha256()
    for part in ("license-notice", path, license):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:32]
