"""SARIF 2.1.0 report, shaped for GitHub code scanning.

Every rule of the license policy is listed (plus ``CG-COPY`` for copies the policy has no
objection to), results point at repository-relative files under ``%SRCROOT%``, and each result
carries a ``codeguard/v1`` fingerprint without line numbers (the copy's content identity, the
key baselines use), so an alert survives edits above the copied code. The origin of a copy is
never a SARIF location (it is not in the repository): it is named in the message and in
``result.properties.origin``. Suppressed findings (baseline, inline allow) are left out, except
accepted copies that changed or moved since accepted: those are results with ``baselineState``
``updated``, level note and an external suppression, so that the change shows without looking
like a new violation; with a baseline applied, every other result is ``new``.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from codeguard import __version__
from codeguard.model import Finding, LicenseFinding, ScanResult

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "codeguard/v1"
# Copies without a policy rule (compatible license, allow-listed origin).
COPY_RULE = "CG-COPY"
# In-project license notices whose verdict carries no rule id (the policy normally gives one).
NOTICE_RULE = "CG-NOTICE"
# Policy level -> SARIF level. GitHub code scanning turns every result into an alert whatever
# its SARIF ``kind`` and has no "none" severity, so copies the policy accepts are notes (the
# lowest alert level, which fails no check by default); properties.policy_level keeps "none".
SARIF_LEVEL = {"error": "error", "warning": "warning", "note": "note", "none": "note"}
# Skip reasons that mean something went wrong (the rest are expected: no code, too large...).
# Baseline states of accepted findings that reports show (as accepted, not as new violations).
ACCEPTED_CHANGES = ("changed", "moved")
_PROBLEM_SKIPS = ("unreadable", "broken", "not a regular file")
_MATCH_PHRASE = {
    "exact": "an exact copy",
    "renamed": "a copy with renamed identifiers",
    "modified": "a modified copy",
    "semantic": "a rewrite with the same meaning",
}
# Policy messages are templates ("{origin} code copied into this {project} project"); rule
# descriptions show their placeholders as words.
_PLACEHOLDERS = {
    "origin": "[origin license]",
    "project": "[project license]",
    "origin_category": "[origin category]",
    "project_category": "[project category]",
}


class SarifReport:
    """``--format sarif``: one SARIF run, JSON with sorted keys."""

    def write(self, result: ScanResult, out: TextIO, color: bool) -> None:
        json.dump(to_sarif(result), out, indent=2, sort_keys=True)
        out.write("\n")


def to_sarif(result: ScanResult) -> dict[str, Any]:
    """The scan result as a SARIF 2.1.0 log (plain data)."""
    base, prefix = artifact_base(result)
    rules = _rules(result)
    index = {r["id"]: i for i, r in enumerate(rules)}
    results: list[dict[str, Any]] = []
    compared = bool(result.stats.get("baseline"))
    for f in [*result.findings, *(f for f in result.suppressed if f.baseline in ACCEPTED_CHANGES)]:
        rule_id = f.rule_id or COPY_RULE
        if rule_id not in index:  # a verdict from a rule the catalog lacks: describe it anyway
            index[rule_id] = len(rules)
            rules.append(_rule(rule_id, f.rule_id or "copied-code", f.level, f.reason, f.help))
        res = _finding_result(f, rule_id, index[rule_id], prefix)
        if f.suppressed:
            _mark_accepted(res, f)
        elif compared:
            res["baselineState"] = "new"
        results.append(res)
    for lf in result.license_findings:
        rule_id = lf.rule_id or NOTICE_RULE
        if rule_id not in index:
            index[rule_id] = len(rules)
            rules.append(_rule(rule_id, "license-notice-conflict", lf.level, lf.reason, lf.help))
        results.append(_notice_result(lf, rule_id, index[rule_id], prefix, result.project))
    _add_fingerprints(results)
    driver: dict[str, Any] = {
        "name": "codeguard",
        "version": __version__,
        "semanticVersion": __version__,
        "rules": rules,
    }
    uri = information_uri()
    if uri:
        driver["informationUri"] = uri
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {SRCROOT: {"uri": base.as_uri().rstrip("/") + "/"}},
        "results": results,
        "invocations": [
            {
                "executionSuccessful": True,
                "toolExecutionNotifications": _notifications(result, prefix),
            }
        ],
        "properties": _run_properties(result, prefix),
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def information_uri() -> str | None:
    """The project's home page from the installed package metadata (None when it declares none)."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        urls = metadata("codeguard").get_all("Project-URL") or []
    except PackageNotFoundError:
        return None
    by_label: dict[str, str] = {}
    for entry in urls:
        label, _, url = entry.partition(",")
        by_label[label.strip().lower()] = url.strip()
    for label in ("homepage", "documentation", "repository", "source"):
        url = by_label.get(label, "")
        if url.startswith("https://"):
            return url
    return None


def artifact_base(result: ScanResult) -> tuple[Path, str]:
    """The directory SARIF paths are relative to and the prefix that makes a finding's path
    relative to it. Scans report paths relative to ``result.base`` (the git work tree, else the
    project root), so the prefix is empty; results made without a base fall back to the
    enclosing git work tree of the scanned directory."""
    if result.base:
        return Path(result.base), ""
    root = Path(result.root).resolve()
    scan_dir = root if root.is_dir() or not root.exists() else root.parent
    for d in (scan_dir, *scan_dir.parents):
        if (d / ".git").exists():
            rel = scan_dir.relative_to(d).as_posix()
            return d, "" if rel == "." else rel + "/"
    return scan_dir, ""


# -- rules ---------------------------------------------------------------------------------------
def _rules(result: ScanResult) -> list[dict[str, Any]]:
    """Every rule of the policy the scan used, then the generic copy rule."""
    rules = [_rule(r["id"], r["name"], r["level"], r["message"], r["help"]) for r in result.rules]
    if COPY_RULE not in {r["id"] for r in rules}:
        rules.append(
            _rule(
                COPY_RULE,
                "copied-code",
                "none",
                "Code copied from an indexed reference source; the license policy found no conflict "
                "(compatible license, allow-listed origin).",
                "codeguard lists this copy for provenance. Keep the origin's copyright and license "
                "notice where its license asks for one; if the origin is your own code, allow-list it "
                "in the policy.",
            )
        )
    return rules


def _rule(rule_id: str, name: str, level: str, message: str, help_text: str) -> dict[str, Any]:
    title = _title(name)
    message = _generic(message)
    help_text = _generic(help_text) or message
    return {
        "id": rule_id,
        "name": name,
        "shortDescription": {"text": title},
        "fullDescription": {"text": message},
        "help": {
            "text": help_text,
            "markdown": f"**{title}** (`{rule_id}`, policy level `{level}`)\n\n{help_text}\n\n"
            f"Policy message: {message}",
        },
        "defaultConfiguration": {"level": SARIF_LEVEL.get(level, "warning")},
        "properties": {
            "policy_level": level,
            "precision": "high",
            "tags": ["license", "provenance"],
        },
    }


def _title(name: str) -> str:
    """``strong-copyleft-into-non-copyleft`` -> ``Strong copyleft into non-copyleft``."""
    words = name.replace("_", "-").split("-")
    text = ""
    for i, w in enumerate(words):
        text += w if i == 0 else ("-" if words[i - 1] == "non" else " ") + w
    return text[:1].upper() + text[1:]


def _generic(text: str) -> str:
    for key, word in _PLACEHOLDERS.items():
        text = text.replace("{" + key + "}", word)
    return text


# -- results -------------------------------------------------------------------------------------
def artifact_uri(path: str) -> str:
    """A repository-relative path as a relative URI reference (SARIF 2.1.0 §3.10, RFC 3986):
    every byte but the unreserved characters and ``/`` percent-encoded (spaces, ``#``, ``%``,
    ``:``, non-ASCII as UTF-8; a name's bytes that are not UTF-8 as themselves)."""
    return quote(path, safe="/", errors="surrogateescape")


def _artifact(path: str) -> dict[str, Any]:
    return {"physicalLocation": {"artifactLocation": {"uri": artifact_uri(path), "uriBaseId": SRCROOT}}}


def _location(path: str, start: int, end: int) -> dict[str, Any]:
    loc = _artifact(path)
    loc["physicalLocation"]["region"] = {"startLine": max(start, 1), "endLine": max(end, start, 1)}
    return loc


def origin_text(f: Finding) -> str:
    """``source:path:start-end (kind name)`` of a finding's origin."""
    o = f.origin
    text = f"{o.source}:{o.path}:{o.start_line}-{o.end_line}"
    if o.chunk_name:
        text += f" ({o.chunk_kind} {o.chunk_name})"
    return text


def finding_message(f: Finding) -> str:
    """What was copied from where, under which license, and the policy's verdict (one paragraph)."""
    o = f.origin
    what = f"{f.chunk_kind} {f.chunk_name}".strip() if f.chunk_kind != "window" else "code"
    copy = _MATCH_PHRASE.get(f.match_type, f"a {f.match_type} copy")
    text = (
        f"{what[:1].upper() + what[1:]} (lines {f.start_line}-{f.end_line}) is {copy} of "
        f"{origin_text(f)}, license {o.license or 'unknown'}"
    )
    if o.license_note:
        text += f" ({o.license_note})"
    if o.vendored:
        text += f"; the origin is itself a vendored copy ({o.vendored})"
    if o.commit:
        text += f", commit {o.commit}"
    if f.probability is not None:
        text += f". P(copy) {f.probability:.2f}, {len(f.fragments)} fragment(s)."
    else:
        text += f". Score {f.score:.2f}, {len(f.fragments)} fragment(s)."
    if f.also_in:
        text += " Also in: " + ", ".join(f"{p.source}:{p.path}:{p.start_line}" for p in f.also_in) + "."
    if f.level == "none":
        text += f" Allowed by the policy: {f.reason or 'no license conflict'}."
    elif f.reason:
        text += f" Policy {f.rule_id}: {f.reason}."
    if f.resembles:
        text += f" {resembles_text(f)}."
    return text


def resembles_text(f: Finding) -> str:
    """Why a copy of accepted code is new, in words (empty when it resembles no accepted copy)."""
    if not f.resembles:
        return ""
    return (
        f"It resembles the copy accepted in the baseline at {f.resembles}, which is still there: "
        "a new copy of accepted code, not that one moved (`codeguard baseline update` accepts it too)"
    )


def accepted_change(f: Finding) -> str:
    """What happened to a finding the baseline accepted since it was accepted, in words (empty
    when it is as accepted, or not accepted by the baseline)."""
    if f.baseline not in ACCEPTED_CHANGES:
        return ""
    return f"{f.baseline} since accepted in the baseline (accepted at {f.accepted_at})"


def _mark_accepted(res: dict[str, Any], f: Finding) -> None:
    """A copy the baseline accepted that changed or moved since: reported (so the change is
    seen) as ``baselineState: updated``, a note, suppressed by the baseline (SARIF 2.1.0
    §3.27.24, §3.35), never as a new violation."""
    change = accepted_change(f)
    res["baselineState"] = "updated"
    res["level"] = "note"
    res["message"]["text"] = (
        f"Accepted copy, {change}: not a new violation; `codeguard baseline update` records it. "
        + res["message"]["text"]
    )
    res["suppressions"] = [
        {"kind": "external", "status": "accepted", "justification": f.suppressed.removeprefix("baseline: ")}
    ]
    res["properties"]["baseline"] = {"state": f.baseline, "accepted_at": f.accepted_at}


def _finding_result(f: Finding, rule_id: str, rule_index: int, prefix: str) -> dict[str, Any]:
    path = prefix + f.path
    related = []
    for i, fr in enumerate(f.fragments):
        loc = _location(path, fr.start_line, fr.end_line)
        kind = "identical" if fr.exact else "normalized match"
        loc["id"] = i + 1
        loc["message"] = {
            "text": f"fragment {i + 1}: lines {fr.start_line}-{fr.end_line} match {f.origin.source}:"
            f"{f.origin.path}:{fr.origin_start_line}-{fr.origin_end_line} ({fr.tokens} tokens, {kind})"
        }
        related.append(loc)
    o = f.origin
    res: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": rule_index,
        "level": SARIF_LEVEL.get(f.level, "warning"),
        "message": {"text": finding_message(f)},
        "locations": [_location(path, f.start_line, f.end_line)],
        "properties": {
            "chunk": {"kind": f.chunk_kind, "name": f.chunk_name},
            "match_type": f.match_type,
            **({"channel": f.channel} if f.channel else {}),
            "score": round(f.score, 4),
            **({"probability": round(f.probability, 4)} if f.probability is not None else {}),
            "coverage": round(f.coverage, 4),
            "origin_coverage": round(f.origin_coverage, 4),
            "policy_level": f.level,
            "origin": {
                "source": o.source,
                "path": o.path,
                "start_line": o.start_line,
                "end_line": o.end_line,
                "license": o.license,
                "license_from": o.license_from,
                "license_note": o.license_note,
                "vendored": o.vendored,
                "commit": o.commit,
                "chunk": {"kind": o.chunk_kind, "name": o.chunk_name},
                "location": o.origin,
            },
            "fragments": [fr.to_json() for fr in f.fragments],
            "also_in": [p.to_json() for p in f.also_in],
            **({"resembles_accepted": f.resembles} if f.resembles else {}),
        },
        "_identity": f.fingerprint
        or _identity(
            "copy",
            path,
            f.chunk_kind,
            _stable_name(f.chunk_kind, f.chunk_name),
            o.source,
            o.path,
            _stable_name(o.chunk_kind, o.chunk_name),
        ),
    }
    if related:
        res["relatedLocations"] = related
    return res


def _notice_result(
    lf: LicenseFinding, rule_id: str, rule_index: int, prefix: str, project: dict[str, Any]
) -> dict[str, Any]:
    path = prefix + lf.path
    text = (
        f"This file's license notice says {lf.license}, which conflicts with the project's license "
        f"{project.get('license') or 'unknown'}: {lf.reason}."
    )
    return {
        "ruleId": rule_id,
        "ruleIndex": rule_index,
        "level": SARIF_LEVEL.get(lf.level, "warning"),
        "message": {"text": text},
        "locations": [_location(path, lf.start_line, lf.end_line)],
        "properties": {"license": lf.license, "policy_level": lf.level, "kind": "license-notice"},
        "_identity": _identity("notice", path, rule_id, lf.license),
    }


def _stable_name(kind: str, name: str) -> str:
    # A window over top-level code is named after its lines ("lines 10-49"): not an identity.
    return "" if kind == "window" else name


def _identity(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:32]


def _add_fingerprints(results: list[dict[str, Any]]) -> None:
    """``codeguard/v1``: a copy's content identity, ``Finding.fingerprint`` (its file, origin
    and normalized tokens: the key baselines use, so a SARIF alert and a baseline entry name the
    same thing); for a license notice, a hash of its file, rule and license. No line numbers, so
    an alert survives edits above the copy; a second result with the same identity (the same
    code copied twice into one file) gets ``:1``, and so on, in line order."""
    seen: dict[str, int] = defaultdict(int)
    for res in results:
        ident = res.pop("_identity")
        n = seen[ident]
        seen[ident] += 1
        value = ident if n == 0 else f"{ident}:{n}"
        res["partialFingerprints"] = {FINGERPRINT_KEY: value}
        res["fingerprints"] = {FINGERPRINT_KEY: value}


# -- run -----------------------------------------------------------------------------------------
def _notifications(result: ScanResult, prefix: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for sk in result.skipped:
        level = "warning" if sk.reason.startswith(_PROBLEM_SKIPS) else "note"
        out.append(
            {
                "level": level,
                "message": {"text": f"skipped {prefix + sk.path}: {sk.reason}"},
                "locations": [_artifact(prefix + sk.path)],
                "descriptor": {"id": "skipped-file"},
            }
        )
    for u in result.stats.get("suppressions_without_reason") or []:
        out.append(
            {
                "level": "warning",
                "message": {
                    "text": f'{prefix}{u.get("path")}:{u.get("line")}: codeguard: allow without reason="..." '
                    "is ignored; say why the copy is acceptable"
                },
                "locations": [
                    _location(prefix + str(u.get("path")), int(u.get("line") or 1), int(u.get("line") or 1))
                ],
                "descriptor": {"id": "allow-without-reason"},
            }
        )
    for note in result.stats.get("notes") or []:
        out.append(
            {
                "level": "note",
                "message": {"text": f"{prefix}{note.get('path')}: {note.get('note')}"},
                "locations": [_artifact(prefix + str(note.get("path")))],
                "descriptor": {"id": "file-note"},
            }
        )
    return out


def _scan_root(result: ScanResult, prefix: str) -> str:
    """The scanned path relative to the base of the reported paths ("." for all of it)."""
    if not result.base:
        return prefix.rstrip("/") or "."
    try:
        return Path(result.root).resolve().relative_to(Path(result.base).resolve()).as_posix()
    except ValueError:
        return "."


def _run_properties(result: ScanResult, prefix: str) -> dict[str, Any]:
    index = result.index or {}
    return {
        "scan_root": _scan_root(result, prefix),
        "project": {
            "license": result.project.get("license"),
            "policy": result.project.get("policy"),
        },
        "index": {k: index[k] for k in ("path", "sources", "files", "chunks") if k in index},
        "stats": {k: v for k, v in result.stats.items() if k not in ("notes", "suppressions_without_reason")},
        # accepted findings (baseline, inline allow) are left out of the results
        "suppressed": len(result.suppressed) + len(result.suppressed_license),
    }
