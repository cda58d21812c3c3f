"""Scanning: analyze the files of a tree, look their fingerprints up, align, decide, report."""

from __future__ import annotations

import os
import posixpath
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from codeguard.baseline.file import gone_from, make_sketch, resembling
from codeguard.baseline.file import load as load_baseline
from codeguard.baseline.file import match as match_baseline
from codeguard.baseline.inline import Allow, allow_for, allow_for_file, allow_in
from codeguard.discover import (
    CODEGUARD_IGNORE,
    DEFAULT_MAX_BYTES,
    HASH_ONLY_MAX_BYTES,
    Candidate,
    check_size,
    iter_tree,
    oversize_reason,
    path_filter,
)
from codeguard.engine.analyze import (
    Analyzed,
    analyze,
    analyze_file,
    analyze_path,
    cap_repeats,
    parallel_map,
    query_side,
    ref_boilerplate,
    ref_side,
)
from codeguard.engine.own import OwnCopies, own_copies
from codeguard.engine.progress import NoProgress, Progress
from codeguard.engine.semantic import load_semantic, semantic_findings
from codeguard.engine.wholefile import FILE_KIND, trivial_files, whole_file_findings
from codeguard.errors import UsageError
from codeguard.fingerprint.align import ChunkIndex, Group, align, group_fragments
from codeguard.fingerprint.comments import EMPTY as NO_COMMENTS
from codeguard.fingerprint.comments import Segments, segments, shared
from codeguard.fingerprint.wholefile import WholeFile
from codeguard.fingerprint.winnow import K_RAW, W_RAW, K, W, dense_fingerprints, family_seed
from codeguard.gitio import ChangedFile, ignored_in
from codeguard.index.shards import open_index
from codeguard.index.store import IndexStore, RefFile, SourceRow
from codeguard.licenses.packages import names_project
from codeguard.licenses.policy import Policy, load_policy
from codeguard.licenses.project import (
    TreeLicense,
    directory_license,
    header_license,
    notices_mention,
    project_root,
)
from codeguard.model import (
    Chunk,
    Finding,
    Fragment,
    LicenseFinding,
    Provenance,
    ScanResult,
    Skip,
    finding_fingerprint,
)
from codeguard.parsing.chunker import token_lines
from codeguard.parsing.languages import LANGUAGES, language_for_path
from codeguard.verdict.classifier import Verdict
from codeguard.verdict.classifier import load as load_verdict
from codeguard.verdict.features import PairEvidence, SideMemo, Summary, summarize

# Every candidate pair is decided by the verdict classifier (codeguard.verdict): a finding is a
# pair with calibrated P(copy) >= MIN_PROBABILITY. Below GATE_PROBABILITY a finding is at most a
# note: evidence to review, not proof, so the default gate (--fail-on warning) does not fail on it.
MIN_PROBABILITY = 0.5
GATE_PROBABILITY = 0.9
# Pairs with less non-boilerplate normalized information (distinct 4-grams) than this are never
# findings, whatever the classifier says: boilerplate is never a copy on its own.
MIN_EVIDENCE = 12
# Reference files aligned per scanned file, the ones with the most rarity-weighted seeds.
MAX_CANDIDATE_FILES = 100
# References matching a chunk with at least this share of the best one's tokens are rivals.
RIVAL_RATIO = 0.5
# A finding that contains stronger findings is kept only if at least this share of its matched
# tokens lies outside them.
CONTAINER_OWN_SHARE = 0.5
# A finding whose copied region spans less than this share of its chunk names the region.
NARROW_SHARE = 0.5
# The policy rule whose note an existing NOTICE / THIRD-PARTY file satisfies.
ATTRIBUTION_RULE = "attribution-required"
# Seeds (shared fingerprints) a file pair needs before it is aligned.
MIN_SEEDS = 1
# Alternative origins listed per finding: those matching at least this share of the best.
ALSO_IN_RATIO = 0.8
ALSO_IN_MAX = 5


@dataclass
class ScanOptions:
    """Tunable parts of a scan."""

    jobs: int = 0
    max_bytes: int = DEFAULT_MAX_BYTES
    exclude: tuple[str, ...] = ()
    min_probability: float = MIN_PROBABILITY
    verdict: Path | None = None  # classifier file; None: the shipped one
    policy: Path | None = None
    project_license: str | None = None  # given (flag or config); else detected
    baseline: Path | None = None
    semantic: bool = True  # the model layer (off: --no-ml)
    model: Path | None = None  # model directory; None: the shipped default
    semantic_threshold: float | None = None  # None: the model card's threshold
    include_skipped_dirs: bool = False  # walk virtual environments, build outputs, tool caches
    own_corpora: tuple[str, ...] = ()  # corpora indexed from this tree (see codeguard.engine.own)

    def to_json(self) -> dict[str, Any]:
        return {
            "min_probability": self.min_probability,
            "gate_probability": GATE_PROBABILITY,
            "min_evidence_info": MIN_EVIDENCE,
            "max_file_bytes": self.max_bytes,
        }


@dataclass
class _Candidate:
    group: Group
    ref: RefFile
    query: Analyzed
    source: SourceRow
    fragments: list[Fragment] = field(default_factory=list)
    family: str = ""
    probability: float = 0.0
    summary: Summary | None = None


@dataclass
class ScoredPair:
    """A candidate pair as the verdict saw it (for training and benchmarks)."""

    path: str
    q_region: Chunk
    ref_path: str
    source: str
    r_region: Chunk
    features: np.ndarray
    probability: float


def _analyze_job(c: Candidate) -> Analyzed | Skip:
    if c.hash_only:
        return Skip(c.relpath, c.hash_only)
    if c.data is not None:
        return analyze(c.relpath, c.data, c.language)
    return analyze_path(c.relpath, c.path, c.language)[0]


def _analyze_whole_job(c: Candidate) -> tuple[Analyzed | Skip, WholeFile | None]:
    """``_analyze_job`` with the file's whole-file identity (also of files not chunked)."""
    if c.data is not None:
        return analyze_file(c.relpath, c.data, c.language, c.hash_only)
    return analyze_path(c.relpath, c.path, c.language, c.hash_only)


def change_candidates(
    root: Path, changes: list[ChangedFile], left_out: list[tuple[str, str]], options: ScanOptions
) -> tuple[list[Candidate], list[Skip]]:
    """Candidates for the files of a change (staged or a diff range), with --exclude and the
    .codeguardignore files of their directories applied."""
    dirs = {""} | {posixpath.dirname(c.path) for c in changes}
    ancestors = {"/".join(d.split("/")[:i]) for d in dirs for i in range(d.count("/") + 2) if d} | {""}
    ignore_files: dict[str, list[str]] = {}
    for d in sorted(ancestors):
        f = root / d / CODEGUARD_IGNORE
        if f.is_file():
            ignore_files[d] = f.read_text(encoding="utf-8", errors="replace").splitlines()
    excluded = path_filter(options.exclude, ignore_files)
    cands: list[Candidate] = []
    skips = [Skip(p, reason) for p, reason in left_out]
    for c in changes:
        spec = language_for_path(c.path)
        if spec is None or excluded(c.path):
            continue
        if len(c.data) > max(options.max_bytes, HASH_ONLY_MAX_BYTES):
            skips.append(Skip(c.path, oversize_reason(len(c.data), options.max_bytes)))
            continue
        hash_only = oversize_reason(len(c.data), options.max_bytes) if len(c.data) > options.max_bytes else ""
        cands.append(Candidate(c.path, root / c.path, spec.name, c.data, hash_only))
    return cands, skips


def _touches_change(path: str, start: int, end: int, changed: dict[str, frozenset[int] | None]) -> bool:
    lines = changed.get(path)
    return lines is None or any(start <= n <= end for n in lines)


def discover(root: Path, options: ScanOptions) -> tuple[list[Candidate], list[Skip]]:
    """Candidates and skips of a scan root (a directory or one file)."""
    if not root.exists():
        raise UsageError(f"No such file or directory: {root}")
    if root.is_file():
        spec = language_for_path(root.name)
        if spec is None:
            raise UsageError(f"{root} is not a source file of a supported language.")
        items = list(check_size(root.name, root, spec, options.max_bytes))
    else:
        items = list(
            iter_tree(
                root, options.max_bytes, options.exclude, include_skipped_dirs=options.include_skipped_dirs
            )
        )
    cands = [i for i in items if isinstance(i, Candidate)]
    skips = [i for i in items if isinstance(i, Skip)]
    return cands, skips


def report_base(path: Path) -> Path:
    """The directory reported paths are relative to: the git work tree containing ``path``,
    else its project root (so that a scan of a subdirectory names files as a scan of the whole
    repository does, and one baseline serves both). A directory the work tree ignores (a build
    or benchmark output) is no part of the repository: its paths are relative to itself."""
    start = (path if path.is_dir() else path.parent).resolve()
    for d in [start, *start.parents]:
        if (d / ".git").exists():
            return start if ignored_in(d, start) else d
    return project_root(path)


def _rebase(
    cands: list[Candidate], skips: list[Skip], root: Path, base: Path
) -> tuple[list[Candidate], list[Skip]]:
    """Candidates and skips with paths relative to ``base`` instead of the scanned ``root``."""
    scan_dir = (root if root.is_dir() else root.parent).resolve()
    rel = scan_dir.relative_to(base).as_posix() if scan_dir != base else ""
    if not rel:
        return cands, skips
    return (
        [replace(c, relpath=f"{rel}/{c.relpath}") for c in cands],
        [replace(sk, path=rel if sk.path == "." else f"{rel}/{sk.path}") for sk in skips],
    )


def scan(
    store: IndexStore | None,
    root: Path,
    options: ScanOptions | None = None,
    progress: Progress | None = None,
    change: tuple[list[ChangedFile], list[tuple[str, str]]] | None = None,
    tracked: frozenset[str] | None = None,
) -> ScanResult:
    """Scan a directory (or one file) against the reference index and the license policy.

    Without an index (``store`` None) only the project's own license notices are checked. With
    a ``change`` (files of the git index or of a diff range, ``root`` being the repository),
    only those contents are scanned and only findings on changed lines are kept; ``tracked``
    then names the files that content holds (the git index, the range's new tree), so that a
    baseline entry's file counts as gone only when the scanned content no longer holds it.
    """
    options = options or ScanOptions()
    progress = progress or NoProgress()
    t0 = time.perf_counter()
    policy = load_policy(options.policy)
    if change is None:
        base = report_base(root)
        cands, skips = _rebase(*discover(root, options), root, base)
        changed: dict[str, frozenset[int] | None] = {}
    else:
        base = root.resolve()
        cands, skips = change_candidates(root, change[0], change[1], options)
        changed = {c.path: c.changed_lines for c in change[0]}
    proj_root = project_root(root)
    project = _project_license(proj_root, options)
    progress.start(len(cands), "parsing")
    analyzed: list[Analyzed] = []
    notes: list[dict[str, str]] = []
    wholes: list[tuple[str, WholeFile]] = []
    for cand, (res, whole) in zip(cands, parallel_map(_analyze_whole_job, cands, options.jobs)):
        progress.advance()
        if whole is not None:
            wholes.append((cand.relpath, whole))
        if isinstance(res, Skip):
            skips.append(res)
        else:
            analyzed.append(res)
            if res.note:
                notes.append({"path": res.relpath, "note": res.note})
    t_parse = time.perf_counter()
    findings: list[Finding] = []
    semantic_stats: dict[str, Any] = {"status": "off: no index"}
    own = OwnCopies()
    if store is not None:
        sem, status = (
            (None, "off (--no-ml)")
            if not options.semantic
            else load_semantic(store, options.model, options.semantic_threshold)
        )
        near_misses: dict[tuple[str, int, int], set[tuple[int, int, int]]] = defaultdict(set)
        ref_cache: dict[int, RefFile] = {}
        sources = store.source_map()
        verdict = load_verdict(options.verdict)
        # A file identical to an indexed one is one finding; its chunks are not matched again.
        n_tokens = {a.relpath: len(a.parsed.tokens) for a in analyzed}
        # A file's own indexed copy (the tree indexed as a corpus) is set aside everywhere.
        own = own_copies(store, cands, sources, options.own_corpora)
        findings = whole_file_findings(store, wholes, sources, options.min_probability, n_tokens, own)
        done = {f.path for f in findings} | trivial_files(wholes)
        rest = [a for a in analyzed if a.relpath not in done]
        workers = options.jobs or os.cpu_count() or 1
        if sem is None and workers > 1 and len(rest) >= MIN_PARALLEL_MATCH:
            # Without the semantic layer nothing crosses files (near misses, loaded origins):
            # files are matched in worker processes, one job per file, in order.
            progress.start(len(rest), "matching")
            jobs = [(store.path, a, options, own.files_of(a.relpath)) for a in rest]
            for found in parallel_map(_match_job, jobs, options.jobs, min_parallel=MIN_PARALLEL_MATCH):
                progress.advance()
                findings += found
        else:
            findings += match_files(
                store, rest, options, progress, near_misses, ref_cache, sources, verdict, own=own
            )
        findings.sort(key=lambda f: (f.path, f.start_line, f.end_line))
        if sem is not None:
            covered: dict[str, list[tuple[int, int]]] = defaultdict(list)
            for f in findings:
                covered[f.path].append((f.start_line, f.end_line))
            findings += semantic_findings(
                sem,
                store,
                rest,
                covered,
                near_misses,
                sources,
                ref_cache,
                verdict,
                options.min_probability,
                own=own,
            )
            findings.sort(key=lambda f: (f.path, f.start_line, f.end_line))
            semantic_stats = {"status": status, **sem.stats}
        else:
            semantic_stats = {"status": status}
    findings = _with_sketches([_judge(f, policy, project, proj_root) for f in findings], analyzed)
    license_findings = _license_findings(analyzed, policy, project.expression)
    accepted = _Accepted.load(options.baseline, base, tracked)
    # Allow comments are read from every reported file, hashed-only ones (generated...) too.
    lines_of = _file_lines(_reader(analyzed, _paths(findings, license_findings), cands))
    findings, suppressed, unjustified = _suppress(findings, lines_of, accepted)
    license_findings, suppressed_license = _suppress_notices(
        license_findings, lines_of, accepted, unjustified
    )
    if change is not None:
        findings = [f for f in findings if _touches_change(f.path, f.start_line, f.end_line, changed)]
        license_findings = [
            f for f in license_findings if _touches_change(f.path, f.start_line, f.end_line, changed)
        ]
    t_end = time.perf_counter()
    stats = {
        "files_scanned": len(analyzed),
        "files_skipped": len(skips),
        "chunks": sum(len(a.parsed.chunks) for a in analyzed),
        "lines": sum(a.parsed.n_lines for a in analyzed),
        "findings": len(findings),
        "license_findings": len(license_findings),
        "suppressed": len(suppressed) + len(suppressed_license),
        "suppressions_without_reason": unjustified,
        "baseline": accepted.to_json(suppressed, suppressed_license),
        "seconds": round(t_end - t0, 3),
        "seconds_parse": round(t_parse - t0, 3),
        "seconds_match": round(t_end - t_parse, 3),
        "notes": notes,
        "own_copies_set_aside": own.n_files,
        "thresholds": options.to_json(),
        "semantic": semantic_stats,
    }
    index_info = {"path": str(store.path), **store.stats(), "manifest": store.manifest} if store else {}
    return ScanResult(
        root=str(root),
        findings=findings,
        skipped=sorted(skips, key=lambda s: s.path),
        stats=stats,
        index=index_info,
        license_findings=license_findings,
        suppressed=suppressed,
        suppressed_license=suppressed_license,
        rules=[
            {"id": r.id, "name": r.name, "level": r.level, "message": r.message, "help": r.help}
            for r in policy.rule_catalog()
        ],
        read_origin=store.file_content if store is not None else None,
        read_scanned=_reader(analyzed, _paths(findings, license_findings, suppressed), cands),
        project={**project.to_json(), "root": str(proj_root), "policy": policy.path},
        base=str(base),
    )


def _paths(*groups: list[Any]) -> set[str]:
    return {f.path for g in groups for f in g}


def _reader(
    analyzed: list[Analyzed], paths: set[str], cands: list[Candidate]
) -> Callable[[str], bytes | None]:
    """The scanned content of the files that reports show (staged content, not the work tree);
    files found by whole-file identity without being chunked are read again when shown."""
    parsed = {a.relpath: a.source for a in analyzed if a.relpath in paths}
    unparsed = {c.relpath: c for c in cands if c.relpath in paths and c.relpath not in parsed}

    def read(path: str) -> bytes | None:
        if path in parsed or path not in unparsed:
            return parsed.get(path)
        c = unparsed[path]
        try:
            return c.data if c.data is not None else c.path.read_bytes()
        except OSError:
            return None

    return read


def _project_license(proj_root: Path, options: ScanOptions) -> TreeLicense:
    if options.project_license:
        return TreeLicense(options.project_license, [{"kind": "given", "license": options.project_license}])
    return directory_license(proj_root)


def _judge(f: Finding, policy: Policy, project: TreeLicense, proj_root: Path) -> Finding:
    """The finding with the policy's verdict; owed attribution already given is not a violation."""
    v = policy.decide(f.origin.license, project.expression, source=f.origin.source)
    if v.name == ATTRIBUTION_RULE:
        where = notices_mention(proj_root, [f.origin.source])
        if where:
            v = replace(v, level="none", reason=f"{v.reason}; attribution found in {where}")
    level, reason = v.level, v.reason
    if f.probability is not None and f.probability < GATE_PROBABILITY:
        # Evidence the classifier is not sure of: shown for review, never a failed gate at the
        # default --fail-on warning (--fail-on note gates on it).
        if level in ("error", "warning"):
            level = "note"
        how = "same meaning per the model, " if f.match_type == "semantic" else ""
        reason = f"{reason} ({how}P(copy) = {f.probability:.2f}: review it)"
    return replace(f, level=level, rule_id=v.rule_id, reason=reason, help=v.help)


def _with_sketches(findings: list[Finding], analyzed: list[Analyzed]) -> list[Finding]:
    """Findings with a sample of the fingerprints on their lines (both channels), by which a
    baseline recognises an accepted copy after edits."""
    by_path = {a.relpath: a for a in analyzed}
    out = []
    for f in findings:
        a = by_path.get(f.path)
        if a is None:
            out.append(f)
            continue
        hashes = np.concatenate([a.hashes, a.raw_hashes])
        positions = np.concatenate([a.positions, a.raw_positions])
        lines = (
            a.parsed.lines[np.clip(positions, 0, max(len(a.parsed.lines) - 1, 0))]
            if len(positions)
            else positions
        )
        inside = (lines >= f.start_line) & (lines <= f.end_line)
        out.append(replace(f, sketch=make_sketch(int(h) for h in hashes[inside].tolist())))
    return out


@dataclass
class _Accepted:
    """The baseline a scan subtracts (none: ``path`` None)."""

    path: Path | None
    base: Path
    data: dict[str, Any] = field(default_factory=dict)
    tracked: frozenset[str] | None = None  # the scanned content's files (staged or a range)

    @classmethod
    def load(cls, path: Path | None, base: Path, tracked: frozenset[str] | None = None) -> _Accepted:
        return cls(path, base, load_baseline(path) if path else {}, tracked)

    def gone(self) -> Callable[[str], bool]:
        """Whether a file a baseline entry names is gone from what is scanned."""
        if self.tracked is None:
            return gone_from(self.base)
        tracked = self.tracked
        return lambda path: path not in tracked

    def match(self, findings: list[Any]) -> dict[int, tuple[str, dict[str, Any]]]:
        if self.path is None:
            return {}
        return match_baseline(
            self.data,
            [f for f in findings if isinstance(f, Finding)],
            [f for f in findings if isinstance(f, LicenseFinding)],
            self.gone(),
        )

    def to_json(self, suppressed: list[Finding], notices: list[LicenseFinding]) -> dict[str, Any] | None:
        """What the report says about the baseline: which file, how many entries it holds and
        how many findings it accepted, as they were or changed since."""
        if self.path is None:
            return None
        try:
            shown = self.path.resolve().relative_to(self.base).as_posix()
        except ValueError:
            shown = str(self.path)
        return {
            "path": shown,
            "entries": len(self.data.get("findings") or []),
            "accepted": sum(1 for f in suppressed if f.baseline)
            + sum(1 for lf in notices if lf.suppressed.startswith("baseline")),
            "changed": sum(1 for f in suppressed if f.baseline == "changed"),
            "moved": sum(1 for f in suppressed if f.baseline == "moved"),
        }


def _file_lines(read: Callable[[str], bytes | None]) -> Callable[[str], list[str]]:
    cache: dict[str, list[str]] = {}

    def lines(path: str) -> list[str]:
        if path not in cache:
            cache[path] = (read(path) or b"").decode("utf-8", "replace").splitlines()
        return cache[path]

    return lines


def _suppress(
    findings: list[Finding], lines_of: Callable[[str], list[str]], accepted: _Accepted
) -> tuple[list[Finding], list[Finding], list[dict[str, Any]]]:
    """Split findings into active and suppressed (baseline entries, as accepted or changed since;
    inline allow comments with a reason); allow comments without a reason suppress nothing and
    are listed."""
    matched = accepted.match(findings)
    active: list[Finding] = []
    suppressed: list[Finding] = []
    unjustified: list[dict[str, Any]] = []
    for f in findings:
        if id(f) in matched:
            status, entry = matched[id(f)]
            why = entry.get("justification") or "accepted in the baseline"
            at = "" if status == "same" else f"{entry.get('path')}:{_lines(entry)}"
            if status == "changed":
                why += f" (changed since accepted at lines {_lines(entry)})"
            elif status == "moved":
                why += f" (moved since accepted at {at})"
            suppressed.append(replace(f, suppressed=f"baseline: {why}", baseline=status, accepted_at=at))
            continue
        lines = lines_of(f.path)
        allow = allow_for_file(lines) if f.chunk_kind == FILE_KIND else allow_for(lines, f.start_line)
        if _allowed_inline(f, allow, suppressed, unjustified):
            continue
        like = resembling(accepted.data, f) if accepted.path else None
        active.append(replace(f, resembles=f"{like.get('path')}:{_lines(like)}") if like else f)
    return active, suppressed, unjustified


def _allowed_inline(
    item: Any, allow: Allow | None, suppressed: list[Any], unjustified: list[dict[str, Any]]
) -> bool:
    """Whether an inline allow comment accepts ``item`` (a finding or a license notice; it goes to
    ``suppressed``); an allow comment without a reason goes to ``unjustified``."""
    if not (allow and allow.covers(item.rule_id)):
        return False
    if allow.reason:
        suppressed.append(replace(item, suppressed=f"inline: {allow.reason}"))
        return True
    unjustified.append({"path": item.path, "line": allow.line, "rules": list(allow.rules)})
    return False


def _lines(entry: dict[str, Any]) -> str:
    lines = entry.get("lines") or ["?", "?"]
    return f"{lines[0]}-{lines[-1]}"


def _suppress_notices(
    notices: list[LicenseFinding],
    lines_of: Callable[[str], list[str]],
    accepted: _Accepted,
    unjustified: list[dict[str, Any]],
) -> tuple[list[LicenseFinding], list[LicenseFinding]]:
    """License-notice findings split into active and accepted (baseline, inline allow on the
    notice or the line before it); allow comments without a reason go to ``unjustified``."""
    matched = accepted.match(list(notices))
    active: list[LicenseFinding] = []
    suppressed: list[LicenseFinding] = []
    for lf in notices:
        if id(lf) in matched:
            why = matched[id(lf)][1].get("justification") or "accepted in the baseline"
            suppressed.append(replace(lf, suppressed=f"baseline: {why}"))
            continue
        if _allowed_inline(
            lf, allow_in(lines_of(lf.path), lf.start_line, lf.end_line), suppressed, unjustified
        ):
            continue
        active.append(lf)
    return active, suppressed


def _license_findings(analyzed: list[Analyzed], policy: Policy, project: str | None) -> list[LicenseFinding]:
    """Project files whose own license notice conflicts with the project's license."""
    if not project:
        return []
    from codeguard.licenses.project import header_cache

    out: list[LicenseFinding] = []
    headers = header_cache()  # headers seen before are not detected again (no rule index load)
    for a in analyzed:
        found = header_license(a.source, headers)
        if found is None:
            continue
        v = policy.decide(found.expression, project)
        if v.level == "none" or v.name == ATTRIBUTION_RULE:
            continue
        reason = v.reason.replace("code copied into", "file notice inside", 1)
        out.append(
            LicenseFinding(
                a.relpath,
                found.start_line,
                found.end_line,
                found.expression,
                v.level,
                v.rule_id,
                reason,
                v.help,
            )
        )
    headers.flush()
    return sorted(out, key=lambda f: f.path)


# Files a scan matches in worker processes (--jobs) from this many on.
MIN_PARALLEL_MATCH = 8
# A worker's open index and the reference files it loaded (kept for its next files, up to
# WORKER_CACHE_FILES of them).
WORKER_CACHE_FILES = 2000
_WORKER: dict[str, Any] = {}


def _match_job(job: tuple[Path, Analyzed, ScanOptions, frozenset[int]]) -> list[Finding]:
    """``match_files`` of one file in a worker process (its own connection to the index)."""
    path, a, options, mine = job
    if _WORKER.get("path") != path:
        _WORKER.clear()
        store = open_index(path)
        _WORKER.update(path=path, store=store, sources=store.source_map(), ref_cache={})
    own = OwnCopies(file_ids={a.relpath: mine}) if mine else None
    if len(_WORKER["ref_cache"]) > WORKER_CACHE_FILES:
        _WORKER["ref_cache"].clear()  # bounded memory over a big tree; reloading costs time only
    return match_files(
        _WORKER["store"],
        [a],
        options,
        NoProgress(),
        ref_cache=_WORKER["ref_cache"],
        sources=_WORKER["sources"],
        own=own,
    )


def match_files(
    store: IndexStore,
    analyzed: list[Analyzed],
    options: ScanOptions,
    progress: Progress,
    near_misses: dict[tuple[str, int, int], set[tuple[int, int, int]]] | None = None,
    ref_cache: dict[int, RefFile] | None = None,
    sources: dict[int, SourceRow] | None = None,
    verdict: Verdict | None = None,
    collect: list[ScoredPair] | None = None,
    own: OwnCopies | None = None,
) -> list[Finding]:
    """Findings for already analyzed files (``own``: indexed copies that are the scanned files
    themselves, never their origin, nor counted in the rarity of their fingerprints).

    Every candidate pair (a scanned chunk and a reference chunk that fingerprints of either
    channel aligned) is decided by the verdict classifier; pairs with P(copy) of at least
    ``options.min_probability`` are findings. ``near_misses`` (when given) collects, per scanned
    chunk (path, start_tok, end_tok), the reference chunks (file id, start_tok, end_tok) aligned
    below it: candidates for the semantic layer. ``collect`` (when given) receives every scored
    pair with its features (training and benchmarks).
    """
    verdict = verdict or load_verdict(options.verdict)
    dense = {a.relpath: _query_fingerprints(a) for a in analyzed}
    all_hashes = {int(h) for qh, _ in dense.values() for h in qh.tolist()}
    postings: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for h, file_id, pos in store.lookup(all_hashes):
        postings[h].append((file_id, pos))
    families = store.families({f for plist in postings.values() for f, _ in plist})
    df = {h: len({families.get(f, str(f)) for f, _ in plist}) for h, plist in postings.items()}
    sources = store.source_map() if sources is None else sources
    ref_cache = {} if ref_cache is None else ref_cache
    progress.start(len(analyzed), "matching")
    findings: list[Finding] = []
    ref_comments: dict[int, Segments] = {}
    for a in analyzed:
        progress.advance()
        q_comments = a.comments
        comment_hashes = set(q_comments.hashes.tolist())
        # Shared comments, per reference file: the code that agrees around them is aligned
        # however short it is (a docstring's signature), see ``align``.
        anchors: dict[int, list[tuple[int, int]]] = defaultdict(list)
        seeds: dict[int, tuple[list[int], list[int], list[int]]] = defaultdict(lambda: ([], [], []))
        qh, qp = (x.tolist() for x in dense[a.relpath])
        mine = own.files_of(a.relpath) if own is not None else frozenset()
        for h, qpos in zip(qh, qp):
            plist = postings.get(h, ())
            d = df.get(h, 0)
            if mine and any(f in mine for f, _ in plist):
                plist = [(f, p) for f, p in plist if f not in mine]
                d = len({families.get(f, str(f)) for f, _ in plist})
            for file_id, rpos in plist:
                pair = seeds[file_id]
                pair[0].append(qpos)
                pair[1].append(rpos)
                pair[2].append(d)
                if h in comment_hashes:
                    anchors[file_id].append((qpos, rpos))
        # Candidate files ranked by rarity-weighted seeds and capped: cost follows the matches.
        ranked = sorted(
            (fid for fid, s3 in seeds.items() if len(s3[0]) >= MIN_SEEDS),
            key=lambda fid: (-sum(1.0 / d for d in seeds[fid][2]), fid),
        )[:MAX_CANDIDATE_FILES]
        pairs: list[tuple[_Candidate, tuple[np.ndarray, np.ndarray, np.ndarray]]] = []
        q_index = ChunkIndex(a.parsed.chunks)
        q_memo = SideMemo()
        for file_id in ranked:
            qpos_l, rpos_l, df_l = seeds[file_id]
            ref = ref_cache.get(file_id)
            if ref is None:
                ref = ref_cache[file_id] = store.load_file(file_id)
            qpos_a, rpos_a = np.array(qpos_l), np.array(rpos_l)
            anchored = anchors.get(file_id, [])
            frags = align(a.parsed.tokens, ref.tokens, qpos_a, rpos_a, k=K_RAW, anchors=anchored)
            if not frags:
                continue
            seed_arrays = (qpos_a, rpos_a - qpos_a, np.array(df_l))
            for g in group_fragments(frags, q_index, _ref_chunk_index(ref), a.parsed.tokens):
                c = _Candidate(g, ref, a, sources[ref.source_id], family=families.get(ref.id, ""))
                pairs.append((c, seed_arrays))
        rivals = _count_rivals([c for c, _ in pairs])
        comments = (
            _comment_evidence([c for c, _ in pairs], q_comments, store, ref_comments, set(anchors))
            if len(q_comments.hashes)
            else [0] * len(pairs)
        )
        scored: list[tuple[_Candidate, PairEvidence]] = []
        for (c, (qpos_a, diag, df_a)), n_rivals, n_comment in zip(pairs, rivals, comments):
            g = c.group
            if collect is None and not _may_be_finding(g, a, n_comment):
                # A pair that cannot be a finding whatever its features are is a near miss unscored.
                if near_misses is not None:
                    _near_miss(near_misses, a, c)
                continue
            seed_df, seed_pos = _seeds_inside(g.pieces, qpos_a, diag, df_a)
            ev = PairEvidence(
                query=query_side(a.parsed, g.q_region.start_tok, g.q_region.end_tok, q_memo),
                origin=ref_side(c.ref, g.r_region.start_tok, g.r_region.end_tok),
                pieces=g.pieces,
                seed_df=seed_df,
                seed_pos=seed_pos,
                rivals=n_rivals,
                comment_chars=n_comment,
            )
            scored.append((c, ev))
        cands: list[_Candidate] = []
        if scored:
            rows = [summarize(ev) for _, ev in scored]
            x = np.stack([r[0] for r in rows])
            probs = verdict.probability(x)
            for (c, _ev), (feat, summary), p in zip(scored, rows, probs.tolist()):
                c.probability, c.summary = float(p), summary
                if collect is not None:
                    collect.append(
                        ScoredPair(
                            a.relpath,
                            c.group.q_region,
                            ref_path=c.ref.path,
                            source=c.source.name,
                            r_region=c.group.r_region,
                            features=feat,
                            probability=float(p),
                        )
                    )
                if _enough_evidence(summary, c.group, a) and p >= options.min_probability:
                    cands.append(c)
                elif near_misses is not None:
                    _near_miss(near_misses, a, c)
        findings.extend(_select(cands))
    findings.sort(key=lambda f: (f.path, f.start_line, f.end_line))
    return findings


# A pair whose evidence is one run needs it as long as the run winnowing guarantees to
# fingerprint (normalized W + K - 1, raw W_RAW + K_RAW - 1 tokens), or a verbatim run of a full
# line's characters (a docstring, a message): looking up every query k-gram catches short copies
# whose reference window selection was unlucky; it does not lower the noise threshold to the
# length of one idiom (`@x = Hash.new { |h, k| h[k] = [] }`).
SINGLE_RUN_NORM = W + K - 1
SINGLE_RUN_RAW = W_RAW + K_RAW - 1
SINGLE_RUN_CHARS = 64


# A chunk copied whole or nearly (a 5-line helper is 15-25 tokens, less than the run winnowing
# guarantees): one run that covers most of a query chunk and of a reference chunk, over at
# least this many code lines is evidence enough; the classifier still decides.
WHOLE_CHUNK_LINES = 5
# Chosen on the planted train split: 0.9 found 180, 0.5 183, 0.3 184 copies; no new false finding.
WHOLE_CHUNK_COVERAGE = 0.5


def _whole_chunk(g: Group, a: Analyzed, pieces: list[tuple[int, int, int, int]]) -> bool:
    """Whether ``pieces`` (one run) are a whole chunk of both sides of ``g``, of at least
    ``WHOLE_CHUNK_LINES`` code lines."""
    if not pieces or min(g.coverage, g.origin_coverage) < WHOLE_CHUNK_COVERAGE:
        return False
    qs, qe = min(p[0] for p in pieces), max(p[1] for p in pieces)
    return len(np.unique(a.parsed.lines[qs:qe])) >= WHOLE_CHUNK_LINES


def _enough_evidence(summary: Summary, g: Group | None = None, a: Analyzed | None = None) -> bool:
    """Whether a pair may be a finding at all, whatever the classifier says."""
    if summary.norm_matched_info < MIN_EVIDENCE and summary.comment_chars < SINGLE_RUN_CHARS:
        return False  # boilerplate is never a copy on its own (a copied docstring is no boilerplate)
    if len(summary.pieces) > 1:
        return True
    norm_run = max((qe - qs for qs, qe, _, _ in summary.pieces), default=0)
    raw_run = max((qe - qs for qs, qe, _, _ in summary.raw_pieces), default=0)
    return (
        norm_run >= SINGLE_RUN_NORM
        or raw_run >= SINGLE_RUN_RAW
        or summary.raw_longest_chars + summary.comment_chars >= SINGLE_RUN_CHARS
        or (g is not None and a is not None and _whole_chunk(g, a, summary.pieces))
    )


def _near_miss(
    near_misses: dict[tuple[str, int, int], set[tuple[int, int, int]]], a: Analyzed, c: _Candidate
) -> None:
    """Record a pair below the thresholds: a candidate for the semantic layer."""
    q, r = c.group.q_region, c.group.r_region
    near_misses[(a.relpath, q.start_tok, q.end_tok)].add((c.ref.id, r.start_tok, r.end_tok))


def _may_be_finding(g: Group, a: Analyzed, comment_chars: int = 0) -> bool:
    """False for a group whose evidence is too small for ``_enough_evidence`` whatever part of
    it the verdict's summary keeps (its pieces are a subset of the group's, its information at
    most their length)."""
    if g.matched < MIN_EVIDENCE and comment_chars < SINGLE_RUN_CHARS:
        return False
    if len(g.pieces) > 1:
        return True
    qs, qe, _, _ = g.pieces[0]
    chars = int((a.parsed.ends[qs:qe].astype(np.int64) - a.parsed.starts[qs:qe]).sum())
    return (
        qe - qs >= min(SINGLE_RUN_NORM, SINGLE_RUN_RAW)
        or chars + comment_chars >= SINGLE_RUN_CHARS
        or _whole_chunk(g, a, g.pieces)
    )


def _query_fingerprints(a: Analyzed) -> tuple[np.ndarray, np.ndarray]:
    """Every k-gram of both channels of a scanned file (hashes, positions), without those the
    file repeats too often (its own data tables: bounded cost, see ``cap_repeats``)."""
    seed = family_seed(LANGUAGES[a.language].fingerprint_family)
    h, pos = dense_fingerprints(a.parsed.tokens, a.parsed.raw_tokens, a.parsed.boilerplate, seed)
    h, pos, _ = cap_repeats(h, pos)
    return np.concatenate([h, a.comments.hashes]), np.concatenate([pos, a.comments.before])


def _seeds_inside(
    pieces: list[tuple[int, int, int, int]], qpos: np.ndarray, diag: np.ndarray, df: np.ndarray
) -> tuple[list[int], list[int]]:
    """Document frequencies and query positions of the shared fingerprints inside a group's pieces."""
    inside = np.zeros(len(qpos), dtype=bool)
    for qs, qe, rs, _ in pieces:
        inside |= (qpos >= qs) & (qpos < qe) & (diag == rs - qs)
    return df[inside].tolist(), qpos[inside].tolist()


# A comment segment that more reference families than this share with one scanned file is
# common ground (a generated stub's `// TODO Auto-generated method stub`, a spec's step list),
# not a trace of one origin.
COMMENT_MAX_FAMILIES = 3


def _comment_evidence(
    cands: list[_Candidate],
    q_comments: Segments,
    store: IndexStore,
    cache: dict[int, Segments],
    holding: set[int] | None = None,
) -> list[int]:
    """Per candidate pair, the comment and docstring text its two chunks share word for word
    (non-whitespace characters), without segments that many reference families share with
    the scanned file. ``holding``: the reference files whose postings hold one of the scanned
    file's segments (the index posts every segment of a file): the others share none that
    counts (only ones the index ignores, left out below anyway), so their text is not read."""
    spans: list[tuple[slice, Segments, slice]] = []
    holders: dict[int, set[str]] = defaultdict(set)
    for c in cands:
        ref = c.ref
        r_comments = cache.get(ref.id)
        if r_comments is None and holding is not None and ref.id not in holding:
            r_comments = NO_COMMENTS
        elif r_comments is None:
            seed = family_seed(LANGUAGES[ref.language].fingerprint_family)
            r_comments = cache[ref.id] = segments(
                store.file_bytes(ref.id), ref.starts, ref.ends, ref_boilerplate(ref), seed
            )
        qs = q_comments.inside(c.group.q_region.start_tok, c.group.q_region.end_tok)
        rs = r_comments.inside(c.group.r_region.start_tok, c.group.r_region.end_tok)
        spans.append((qs, r_comments, rs))
        if r_comments is not NO_COMMENTS:
            found = set(r_comments.hashes[rs].tolist())
            for h in q_comments.hashes[qs].tolist():
                if h in found:
                    holders[h].add(c.family or str(ref.id))
    common = frozenset(h for h, fams in holders.items() if len(fams) > COMMENT_MAX_FAMILIES)
    common |= store.common_among(holders)  # in too many files of the index to be looked up
    return [shared(q_comments, qs, r_comments, rs, common) for qs, r_comments, rs in spans]


def _count_rivals(cands: list[_Candidate]) -> list[int]:
    """Per candidate pair, how many other reference families match its scanned chunk about as
    well: a copy has one clear origin; code that many references share is common ground."""
    by_region: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, c in enumerate(cands):
        by_region[(c.group.q_region.start_tok, c.group.q_region.end_tok)].append(i)
    out = [0] * len(cands)
    for members in by_region.values():
        best = max(cands[i].group.matched for i in members)
        close = {
            cands[i].family or str(cands[i].ref.id)
            for i in members
            if cands[i].group.matched >= RIVAL_RATIO * best
        }
        for i in members:
            out[i] = max(0, len(close) - 1)
    return out


def _ref_chunk_index(ref: RefFile) -> ChunkIndex:
    """A reference file's chunk bounds as arrays, built once per loaded file."""
    index: ChunkIndex | None = ref.derived.get("chunk_index")
    if index is None:
        index = ref.derived["chunk_index"] = ChunkIndex.from_rows(ref.chunk_rows)
    return index


def _select(cands: list[_Candidate]) -> list[Finding]:
    """Best origin per query chunk; drop findings nested in a stronger one that holds their
    evidence (a method copied from one file inside a class copied from another stays), and
    containers whose evidence is mostly inside stronger findings already kept (a class holding
    one copied method is not a copy of another class because of it)."""
    by_region: dict[tuple[int, int], list[_Candidate]] = defaultdict(list)
    for c in cands:
        by_region[(c.group.q_region.start_tok, c.group.q_region.end_tok)].append(c)
    best: list[tuple[_Candidate, list[_Candidate]]] = []
    for group in by_region.values():
        group = _rank_origins(group)
        top = group[0]
        # One entry per content and corpus: an identical copy in another corpus (upstream and
        # a vendored copy of it) is also where the code is.
        seen = {(top.family or str(top.ref.id), top.source.id)}
        others = []
        for c in group[1:]:
            key = (c.family or str(c.ref.id), c.source.id)
            if key not in seen and c.group.matched >= ALSO_IN_RATIO * top.group.matched:
                seen.add(key)
                others.append(c)
        best.append((top, others[:ALSO_IN_MAX]))
    best.sort(key=lambda t: _strength(t[0]))
    kept: list[tuple[_Candidate, list[_Candidate]]] = []
    for c, others in best:
        r = c.group.q_region
        if any(
            k.group.q_region.start_tok <= r.start_tok
            and r.end_tok <= k.group.q_region.end_tok
            and (k.ref.id == c.ref.id or _covered_share(_region_pieces(c), _query_spans(k)) >= 0.5)
            for k, _ in kept
        ):
            continue  # nested in a stronger finding that holds its evidence
        inner = [
            k.group.q_region
            for k, _ in kept
            if r.start_tok <= k.group.q_region.start_tok and k.group.q_region.end_tok <= r.end_tok
        ]
        if inner and _outside_share(_region_pieces(c), inner) < CONTAINER_OWN_SHARE:
            continue
        kept.append((c, others))
    return [_finding(c, others) for c, others in kept]


# Origins whose P(copy) is within this of the best are equally good: the upstream one is named.
EQUAL_PROBABILITY = 0.05


def _rank_origins(group: list[_Candidate]) -> list[_Candidate]:
    """Candidate origins of one scanned region, best first. The most probable; among about
    equally probable ones upstream before a vendored copy (``_vendor/``, ``third_party/``, a
    ``node_modules`` inside another package), a corpus named after the project before one that
    only bundles it, then an identical copy before a similar one, then the most verbatim."""
    group = sorted(group, key=_strength)  # most probable first
    n_equal = sum(c.probability >= group[0].probability - EQUAL_PROBABILITY for c in group)
    equal, rest = group[:n_equal], group[n_equal:]
    equal.sort(key=lambda c: (c.ref.vendored, not _names_project(c), not _identical(c), _strength(c)))
    return equal + rest


def _identical(c: _Candidate) -> bool:
    """Whether the scanned region and the origin region are the same raw tokens."""
    q, r = c.group.q_region, c.group.r_region
    return bool(
        np.array_equal(
            c.query.parsed.raw_tokens[q.start_tok : q.end_tok], c.ref.raw_tokens[r.start_tok : r.end_tok]
        )
    )


def _names_project(c: _Candidate) -> bool:
    """Whether the origin's corpus is the project its package names (tomli in a corpus tomli)."""
    return names_project(c.ref.package_name, c.ref.package, c.source.name)


def _region_pieces(c: _Candidate) -> list[tuple[int, int, int, int]]:
    """The pieces of the region the verdict judged (scattered idioms elsewhere in a big chunk are
    not part of the copy)."""
    return c.summary.pieces if c.summary else c.group.pieces


def _query_spans(c: _Candidate) -> list[tuple[int, int]]:
    return [(p[0], p[1]) for p in _region_pieces(c)]


def _strength(c: _Candidate) -> tuple[Any, ...]:
    s = c.summary
    raw, norm = (s.raw_matched_info, s.norm_matched_info) if s else (0, 0)
    return (-c.probability, -raw, -norm, -c.group.matched, c.source.name, c.ref.path)


def _covered_share(pieces: list[tuple[int, int, int, int]], spans: list[tuple[int, int]]) -> float:
    """Share of the matched query tokens of ``pieces`` inside the query ranges ``spans``."""
    total = covered = 0
    for qs, qe, _, _ in pieces:
        total += qe - qs
        mask = np.zeros(qe - qs, dtype=bool)
        for lo, hi in spans:
            lo, hi = max(qs, lo), min(qe, hi)
            if hi > lo:
                mask[lo - qs : hi - qs] = True
        covered += int(mask.sum())
    return covered / total if total else 1.0


def _outside_share(pieces: list[tuple[int, int, int, int]], inner: list[Chunk]) -> float:
    """Share of a group's matched query tokens outside the given (nested) regions."""
    return 1.0 - _covered_share(pieces, [(ch.start_tok, ch.end_tok) for ch in inner])


def _provenance(c: _Candidate) -> Provenance:
    r = c.group.r_region
    return Provenance(
        source=c.source.name,
        path=c.ref.path,
        start_line=r.start_line,
        end_line=r.end_line,
        commit=c.source.commit_sha,
        license=c.ref.license or c.source.license,
        chunk_kind=r.kind,
        chunk_name=r.name,
        origin=c.source.location,
        license_from=c.ref.license_from,
        license_note=c.ref.license_note,
        vendored=c.ref.package if c.ref.vendored else "",
    )


def _finding(c: _Candidate, others: list[_Candidate]) -> Finding:
    q, ref, g = c.query, c.ref, c.group
    r_first, r_last = token_lines(ref.content, ref.starts, ref.ends)
    frags = []
    for qs, qe, rs, re_ in sorted(_region_pieces(c)):
        exact = bool(np.array_equal(q.parsed.raw_tokens[qs:qe], ref.raw_tokens[rs:re_]))
        frags.append(
            Fragment(
                start_line=int(q.parsed.lines[qs]),
                end_line=int(q.parsed.end_lines[qe - 1]),
                origin_start_line=int(r_first[rs]),
                origin_end_line=int(r_last[re_ - 1]),
                tokens=qe - qs,
                exact=exact,
            )
        )
    whole = len(frags) == 1 and g.coverage >= 0.9
    if whole and all(f.exact for f in frags):
        match_type = "exact"
    elif whole:
        match_type = "renamed"
    else:
        match_type = "modified"
    qr = g.q_region
    start, end = qr.start_line, qr.end_line
    origin = _provenance(c)
    # Where the copied region is a small part of a big chunk (a method-sized copy inside a class
    # whose methods are no chunks of their own, a slice pasted into a bigger function), report
    # the region, not the whole chunk; each side on its own (a 10-line slice of a 80-line
    # function pasted as a 12-line helper is narrow on the origin side only).
    lo, hi = min(f.start_line for f in frags), max(f.end_line for f in frags)
    if hi - lo + 1 < NARROW_SHARE * (end - start + 1):
        start, end = lo, hi
    o_lo, o_hi = min(f.origin_start_line for f in frags), max(f.origin_end_line for f in frags)
    if o_hi - o_lo + 1 < NARROW_SHARE * (origin.end_line - origin.start_line + 1):
        origin = replace(origin, start_line=o_lo, end_line=o_hi)
    return Finding(
        path=q.relpath,
        start_line=start,
        end_line=end,
        chunk_kind=qr.kind,
        chunk_name=qr.name,
        match_type=match_type,
        score=g.score,
        coverage=min(1.0, g.coverage),
        origin_coverage=min(1.0, g.origin_coverage),
        longest=g.longest,
        fragments=tuple(frags),
        origin=origin,
        also_in=tuple(_provenance(o) for o in others),
        fingerprint=_fingerprint(q, qr, c),
        probability=c.probability,
        channel=CHANNELS[match_type],
    )


# The channel that matched, by match type (the words of the issue tracker and of SARIF).
CHANNELS = {"exact": "identical", "renamed": "renamed", "modified": "edited", "semantic": "semantic"}


def _fingerprint(q: Analyzed, region: Chunk, c: _Candidate) -> str:
    tokens = q.parsed.tokens[region.start_tok : region.end_tok].astype("<u4").tobytes()
    return finding_fingerprint(q.relpath, c.source.name, c.ref.path, c.group.r_region.name, tokens)
