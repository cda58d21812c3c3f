"""Same-task benchmark: independent solutions of one task must not be reported, real reuse must.

Three kinds of data, all read-only from ``/work/shared/data`` (research licenses; nothing is
copied into the repository, only into the OUT directory given on the command line):

- ``poj104``: C/C++ programs of the Peking University online judge, 500 per problem, written by
  different students. Per problem, R programs go into the reference corpus and S others of the
  same problem are scanned. Every scanned file is a ``same_task`` negative: same task, different
  authors, so any finding is a false one (bar real copies hidden in the data).
- ``gcj``: Google Code Jam Java programs (DeepSim "googlejam4"), the same design. They share the
  Code Jam I/O skeleton (read the input, print ``Case #i:``), common ground a provenance tool must
  not report.
- ``soco-c`` / ``soco-java``: the SOCO 2014 (FIRE) training collection with its qrels of real
  reuse pairs. The scanned tree is itself indexed (as a team indexes its own monorepo): the scan
  sets each file's own indexed copy aside; a finding of a file on itself would still be dropped
  here and counted (``self-matches dropped``).

Sub-commands::

    python bench/sametask_bench.py build OUT --set poj104|gcj|soco-c|soco-java --split train|val|test
    python bench/sametask_bench.py run OUT [--with-model] [--json results.json]
    python bench/sametask_bench.py all OUTROOT --split test [--with-model] [--json results.json]

``build`` writes ``OUT/refs/<source>/...``, ``OUT/suspect/...`` and ``OUT/truth.json``; ``run``
indexes the refs, scans the suspects and prints markdown tables. Everything is deterministic: the
choice of problems and programs depends only on the data and the fixed seeds below. Stdlib only.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import shutil
import sys
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA = Path(os.environ.get("CODEGUARD_BENCH_DATA", "/work/shared/data"))
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from _common import codeguard_cmd, norm_path, run_cmd  # noqa: E402

LICENSE = "LicenseRef-research"
SETS = ("poj104", "gcj", "soco-c", "soco-java")
MATCH_TYPES = ("exact", "renamed", "modified", "semantic")
THRESHOLDS = (0.5, 0.9)
# Extra scan options (``--verdict FILE``: another classifier than the shipped one).
SCAN_EXTRA: list[str] = []

# Per same-task set: refs per problem, suspects per problem, problems per split (at most).
# POJ-104: suspects per problem = ceil(POJ_SUSPECT_TARGET / problems): 4 for train (30 problems),
# 5 for test (its file holds only 24 problems).
POJ_REFS, POJ_SUSPECT_TARGET, POJ_PROBLEMS = 8, 120, 30
GCJ_REFS, GCJ_SUSPECTS = 8, 8
GCJ_PROBLEMS = {"train": [1, 2, 3, 4, 5, 6], "test": [7, 8, 9, 10, 11, 12]}


# --------------------------------------------------------------------------------------------
# build
# --------------------------------------------------------------------------------------------


@dataclass
class Build:
    """What a builder produces: files to write and the truth units."""

    set_name: str
    split: str
    source: str
    language: str
    refs: dict[str, bytes] = field(default_factory=dict)  # path relative to the source dir
    suspects: dict[str, bytes] = field(default_factory=dict)  # path relative to suspect/
    units: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    # The suspect tree is itself the corpus (indexed from suspect/, as a team indexes its own
    # monorepo): the scan sets each file's own indexed copy aside (codeguard.engine.own).
    self_indexed: bool = False


def n_lines(data: bytes) -> int:
    """Number of lines of a file's content (a last line without a newline counts)."""
    if not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def squash(data: bytes) -> bytes:
    """The content with all whitespace removed: equal squashed texts are the same code."""
    return re.sub(rb"\s+", b"", data)


def as_bytes(code: str) -> bytes:
    """Program text as written to disk: ``\\n`` line ends and a final newline."""
    text = code.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    return text.encode("utf-8")


def pick_spread(items: list[Any], count: int) -> list[Any]:
    """``count`` items spread evenly over ``items`` (all of them when there are fewer)."""
    if count >= len(items):
        return list(items)
    return [items[(i * len(items)) // count] for i in range(count)]


def split_problem(
    rng_key: str, programs: list[tuple[str, bytes]], n_refs: int, n_suspects: int
) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]], int]:
    """Shuffle one problem's (name, content) programs with a fixed seed; return the refs, the
    suspects and how many candidates were skipped as duplicates of a ref (whitespace ignored)."""
    order = sorted(programs)
    random.Random(rng_key).shuffle(order)
    refs = order[:n_refs]
    seen = {squash(data) for _, data in refs}
    suspects: list[tuple[str, bytes]] = []
    skipped = 0
    for name, data in order[n_refs:]:
        if len(suspects) >= n_suspects:
            break
        if squash(data) in seen:
            skipped += 1
            continue
        suspects.append((name, data))
    return refs, suspects, skipped


def same_task_units(build: Build, problem: str, suspects: list[tuple[str, bytes]]) -> None:
    """Add the suspects of one problem to ``build`` as ``same_task`` negatives."""
    for name, data in suspects:
        rel = f"p{problem}/{name}"
        build.suspects[rel] = data
        build.units.append(
            {
                "id": f"{build.set_name}:{rel}",
                "path": rel,
                "lines": [1, n_lines(data)],
                "language": build.language,
                "label": "negative",
                "kind": "same_task",
            }
        )


def build_poj104(split: str, limit: int | None, suspects_per_problem: int | None = None) -> Build:
    """POJ-104: up to 30 problems of the split's file, 8 refs and 4-5 suspects per problem.
    ``val``: the problems of the train file that the train split does not pick (disjoint from
    both, for measuring what was trained on the train split)."""
    build = Build("poj104", split, "poj104-refs", "cpp")
    by_problem: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    source = "train" if split == "val" else split
    with gzip.open(DATA / "poj104" / f"{source}.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            by_problem[str(row["label"])].append((f"{row['index']}.cpp", as_bytes(row["code"])))
    ordered = sorted(by_problem, key=int)
    problems = pick_spread(ordered, POJ_PROBLEMS if split == "val" else limit or POJ_PROBLEMS)
    if split == "val":
        problems = [q for q in ordered if q not in set(problems)][: limit or POJ_PROBLEMS]
    n_suspects = suspects_per_problem or -(-POJ_SUSPECT_TARGET // len(problems))
    skipped = 0
    for problem in problems:
        refs, suspects, n_skip = split_problem(
            f"poj104:{split}:{problem}", by_problem[problem], POJ_REFS, n_suspects
        )
        skipped += n_skip
        for name, data in refs:
            build.refs[f"p{problem}/{name}"] = data
        same_task_units(build, problem, suspects)
    build.notes = {
        "problems": problems,
        "refs_per_problem": POJ_REFS,
        "suspects_per_problem": n_suspects,
        "skipped_duplicates_of_a_ref": skipped,
    }
    return build


def build_gcj(split: str, limit: int | None) -> Build:
    """GCJ: problems 1-6 (train) or 7-12 (test) with at least R+S programs."""
    build = Build("gcj", split, "gcj-refs", "java")
    by_problem: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    with zipfile.ZipFile(DATA / "gcj-deepsim" / "googlejam4_src.zip") as zf:
        for name in zf.namelist():
            parts = name.split("/")
            if len(parts) == 3 and parts[2].endswith(".java"):
                by_problem[parts[1]].append((parts[2], zf.read(name)))
    # val: the train problems' programs after the ones the train split takes (other authors).
    skip = GCJ_REFS + GCJ_SUSPECTS if split == "val" else 0
    need = skip + GCJ_REFS + GCJ_SUSPECTS
    wanted = GCJ_PROBLEMS["train" if split == "val" else split]
    problems = [str(p) for p in wanted if len(by_problem.get(str(p), [])) >= need]
    too_small = [str(p) for p in wanted if str(p) not in problems]
    if limit:
        problems = problems[:limit]
    skipped = 0
    for problem in problems:
        programs = by_problem[problem]
        if skip:  # what the train split's shuffle put first is left out
            taken = {name for name, _ in split_problem(f"gcj:train:{problem}", programs, skip, 0)[0]}
            programs = [x for x in programs if x[0] not in taken]
        refs, suspects, n_skip = split_problem(f"gcj:{split}:{problem}", programs, GCJ_REFS, GCJ_SUSPECTS)
        skipped += n_skip
        for name, data in refs:
            build.refs[f"p{problem}/{name}"] = data
        same_task_units(build, problem, suspects)
    build.notes = {
        "problems": problems,
        "problems_too_small": too_small,
        "skipped_duplicates_of_a_ref": skipped,
    }
    return build


def build_soco(set_name: str, split: str, limit: int | None) -> Build:
    """SOCO 2014 training set: every file indexed and scanned, units from the qrel."""
    lang = set_name.split("-", 1)[1]
    if split == "train":
        print(
            f"warning: {set_name} has one collection; --split train gives the same data as test",
            file=sys.stderr,
        )
    root = DATA / "soco-fire2014-train"
    files = sorted(p.name for p in (root / lang).iterdir() if p.is_file())
    if limit:
        files = files[:limit]
    kept = set(files)
    partners: dict[str, list[str]] = defaultdict(list)
    pairs: set[frozenset[str]] = set()
    for line in (root / f"SOCO14-{lang}.qrel").read_text(encoding="utf-8").splitlines():
        ends = line.split()
        if len(ends) != 2 or ends[0] == ends[1] or not set(ends) <= kept:
            continue
        pair = frozenset(ends)
        if pair in pairs:
            continue
        pairs.add(pair)
        partners[ends[0]].append(ends[1])
        partners[ends[1]].append(ends[0])
    build = Build(set_name, split, f"{set_name}-refs", lang, self_indexed=True)
    for name in files:
        build.refs[name] = build.suspects[name] = (root / lang / name).read_bytes()
    for name in files:
        lines = [1, n_lines(build.suspects[name])]
        base = {"path": name, "lines": lines, "language": lang}
        if not partners[name]:
            build.units.append({"id": f"{set_name}:{name}", **base, "label": "negative", "kind": "no_reuse"})
        for other in sorted(partners[name]):
            origin = {"source": build.source, "path": other, "lines": [1, n_lines(build.refs[other])]}
            build.units.append(
                {
                    "id": f"{set_name}:{name}~{other}",
                    **base,
                    "label": "copy",
                    "kind": "reuse",
                    "origin": origin,
                }
            )
    build.notes = {"files": len(files), "qrel_pairs": len(pairs)}
    return build


def write_build(build: Build, out: Path) -> dict[str, Any]:
    """Write ``build`` into a fresh ``out``; return the truth document."""
    if out.exists():
        if not (out / "truth.json").is_file() and any(out.iterdir()):
            sys.exit(f"{out} exists and is not a benchmark directory; refusing to overwrite it")
        shutil.rmtree(out)
    src_dir = out / "refs" / build.source
    for rel, data in sorted(build.refs.items()) if not build.self_indexed else ():
        (src_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (src_dir / rel).write_bytes(data)
    for rel, data in sorted(build.suspects.items()):
        (out / "suspect" / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / "suspect" / rel).write_bytes(data)
    truth = {
        "set": build.set_name,
        "split": build.split,
        "sources": [
            {
                "name": build.source,
                "dir": "suspect" if build.self_indexed else f"refs/{build.source}",
                "license": LICENSE,
            }
        ],
        "suspect_dir": "suspect",
        "units": build.units,
        "notes": build.notes,
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    return truth


def do_build(
    set_name: str, split: str, out: Path, limit: int | None, suspects: int | None = None
) -> dict[str, Any]:
    """Build one set/split into ``out`` and print a one-line summary."""
    if set_name == "poj104":
        build = build_poj104(split, limit, suspects)
    elif set_name == "gcj":
        build = build_gcj(split, limit)
    elif split == "val":
        raise SystemExit(f"{set_name} has no val split (one collection)")
    else:
        build = build_soco(set_name, split, limit)
    truth = write_build(build, out)
    labels = defaultdict(int)
    for unit in build.units:
        labels[unit["kind"]] += 1
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(labels.items()))
    print(
        f"built {set_name}/{split} in {out}: {len(build.refs)} refs, {len(build.suspects)} suspect files, "
        f"{len(build.units)} units ({kinds}); {json.dumps(build.notes)}"
    )
    return truth


# --------------------------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------------------------


def rank_key(f: dict[str, Any]) -> tuple[float, float]:
    """Sort key of a finding: probability first (when there is one), then score."""
    prob = f.get("probability")
    return (-1.0 if prob is None else float(prob), float(f.get("score") or 0.0))


def fmt_share(count: int, total: int) -> str:
    """``count/total (pct)``."""
    pct = 100.0 * count / total if total else 0.0
    return f"{count}/{total} ({pct:.1f}%)"


def fmt_num(value: float | None, digits: int = 3) -> str:
    """A number or an em dash."""
    return "—" if value is None else f"{value:.{digits}f}"


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def qrel_components(pairs: set[frozenset[str]]) -> dict[str, int]:
    """Connected components of the qrel graph: file -> component number (union-find)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for pair in sorted(sorted(p) for p in pairs):
        a, b = pair
        parent[find(a)] = find(b)
    roots = sorted({find(x) for x in parent})
    number = {r: i for i, r in enumerate(roots)}
    return {x: number[find(x)] for x in parent}


def prf(pred: set[frozenset[str]], truth: set[frozenset[str]]) -> dict[str, Any]:
    """Pair-level precision, recall and F1."""
    tp = len(pred & truth)
    p = tp / len(pred) if pred else None
    r = tp / len(truth) if truth else None
    f1 = 2 * p * r / (p + r) if p is not None and r is not None and p + r > 0 else (0.0 if pred else None)
    return {"predicted": len(pred), "tp": tp, "precision": p, "recall": r, "f1": f1}


def finding_row(f: dict[str, Any]) -> list[Any]:
    """A finding as a row of the false-findings table."""
    o = f["origin"]
    prob = f.get("probability")
    return [
        f"`{f['path']}`",
        f"{f['start_line']}–{f['end_line']}",
        f"`{o.get('path')}` {o.get('start_line')}–{o.get('end_line')}",
        f["match_type"],
        fmt_num(prob) if prob is not None else "—",
        fmt_num(f.get("score")),
    ]


def evaluate(truth: dict[str, Any], findings: list[dict[str, Any]]) -> dict[str, Any]:
    """Score the findings against the truth units; return tables-ready numbers."""
    units = truth["units"]
    files = sorted({u["path"] for u in units})
    has_prob = any(f.get("probability") is not None for f in findings)
    by_path: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in findings:
        by_path[f["path"]].append(f)
    res: dict[str, Any] = {
        "set": truth["set"],
        "split": truth["split"],
        "units": len(units),
        "files": len(files),
        "findings": len(findings),
        "has_probability": has_prob,
    }

    def flagged(path: str, lines: list[int], keep: Any) -> bool:
        return any(
            keep(f) and f["start_line"] <= lines[1] and f["end_line"] >= lines[0]
            for f in by_path.get(path, [])
        )

    filters: list[tuple[str, Any]] = [("any", lambda f: True)]
    filters += [(mt, lambda f, mt=mt: f["match_type"] == mt) for mt in MATCH_TYPES]
    if has_prob:
        filters += [(f"p ≥ {t}", lambda f, t=t: (f.get("probability") or 0.0) >= t) for t in THRESHOLDS]
    # A finding with a verbatim run of many lines is rarely independent work: an author's own
    # template reused across tasks (GCJ), a file handed out with the assignment. The labels call
    # every such finding false; this row says how many of them there are, so both readings show.
    if any("verbatim_lines" in f for f in findings):
        name = f"verbatim run ≥ {VERBATIM_LINES} lines"
        filters.append((name, lambda f: verbatim_lines(f) >= VERBATIM_LINES))

    if truth["set"] in ("poj104", "gcj"):
        rows = []
        for name, keep in filters:
            n = sum(1 for u in units if flagged(u["path"], u["lines"], keep))
            rows.append(
                {
                    "filter": name,
                    "flagged": n,
                    "units": len(units),
                    "findings": sum(1 for f in findings if keep(f)),
                }
            )
        res["flagged"] = rows
        res["flagged_share"] = rows[0]["flagged"] / len(units) if units else None
        res["false_findings"] = sorted(findings, key=rank_key, reverse=True)
        return res

    # SOCO: pairs {scanned file, origin file}, unordered.
    truth_pairs = {frozenset((u["path"], u["origin"]["path"])) for u in units if u["label"] == "copy"}
    # The qrel is not transitively closed (A~C and B~C listed, A~B not): a predicted pair inside
    # one qrel component is counted apart, as "in closure".
    comp = qrel_components(truth_pairs)
    no_reuse = [u for u in units if u["kind"] == "no_reuse"]
    rows = []
    for name, keep in filters:
        pred = {frozenset((f["path"], f["origin"]["path"])) for f in findings if keep(f)}
        closure = {p for p in pred if len({comp.get(x, x) for x in p}) == 1}
        row = {
            "filter": name,
            **prf(pred, truth_pairs),
            "in_closure": len(closure),
            "precision_closure": len(closure) / len(pred) if pred else None,
            "no_reuse_flagged": sum(1 for u in no_reuse if flagged(u["path"], u["lines"], keep)),
            "no_reuse": len(no_reuse),
        }
        rows.append(row)
    res["pairs"] = rows
    res["truth_pairs"] = len(truth_pairs)
    res["flagged_share"] = rows[0]["no_reuse_flagged"] / len(no_reuse) if no_reuse else None
    res["false_findings"] = sorted(
        (f for f in findings if frozenset((f["path"], f["origin"]["path"])) not in truth_pairs),
        key=rank_key,
        reverse=True,
    )
    return res


def index_and_scan(
    out: Path, sources: list[tuple[Path, str, str]], scan_dir: Path, index: Path, with_model: bool
) -> tuple[float, float, list[dict[str, Any]]]:
    """Index ``sources`` (dir, name, license) into a fresh ``index``, scan ``scan_dir``; return the
    index and scan wall seconds and the findings with paths relative to ``scan_dir``."""
    cg = codeguard_cmd()
    ml = [] if with_model else ["--no-ml"]
    if index.exists():
        shutil.rmtree(index)
    index_s = 0.0
    for src_dir, name, lic in sources:
        cmd = ["index", "add", str(src_dir), "--name", name, "--license", lic, "--index", str(index), "-q"]
        index_s += run_cmd(cg + cmd + ml, out)[0]
    cmd = ["scan", str(scan_dir), "--index", str(index), "--format", "json", "--fail-on", "none"]
    cmd += ["--project-license", "MIT", "-q", *SCAN_EXTRA]
    scan_s, proc = run_cmd(cg + cmd + ml, out)
    findings = [dict(f) for f in json.loads(proc.stdout).get("findings", [])]
    for f in findings:
        f["path"] = norm_path(f["path"], scan_dir)
    return index_s, scan_s, findings


VERBATIM_LINES = 10


def verbatim_lines(f: dict[str, Any]) -> int:
    """Lines of a finding's longest run of identical lines (see ``add_verbatim_lines``)."""
    return int(f.get("verbatim_lines", 0))


def add_verbatim_lines(findings: list[dict[str, Any]], scan_dir: Path, source_dirs: dict[str, Path]) -> None:
    """Set each finding's ``verbatim_lines``: the longest run of consecutive lines (blank lines
    left out, indentation ignored) that its two ranges share word for word."""
    import difflib

    def lines(path: Path, lo: int, hi: int) -> list[str]:
        try:
            text = path.read_text(encoding="utf-8", errors="replace").splitlines()[lo - 1 : hi]
        except OSError:
            return []
        return [t.strip() for t in text if t.strip()]

    for f in findings:
        o = f.get("origin") or {}
        src = source_dirs.get(o.get("source", ""))
        if src is None:
            continue
        a = lines(scan_dir / f["path"], f["start_line"], f["end_line"])
        b = lines(src / o["path"], o.get("start_line", 1), o.get("end_line", 1))
        blocks = difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()
        f["verbatim_lines"] = max((m.size for m in blocks), default=0)


def drop_self(findings: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int, int]:
    """Drop findings of a file on itself; return the rest, the number dropped and promoted.

    A file matching itself (SOCO indexes every scanned file) is no finding. When the self match
    won, the equally good origins in ``also_in`` are what the scan says about the file, so the
    first of them becomes the origin (promoted)."""
    kept, dropped, promoted = [], 0, 0
    for f in findings:
        others = [o for o in [f["origin"], *f.get("also_in", [])] if o.get("path") != f["path"]]
        if not others:
            dropped += 1
            continue
        if others[0] is not f["origin"]:
            promoted += 1
        kept.append({**f, "origin": others[0], "also_in": others[1:]})
    return kept, dropped, promoted


def cross_findings(
    out: Path, truth: dict[str, Any], with_model: bool
) -> tuple[float, float, list[dict[str, Any]]]:
    """SOCO without self matches: for every bit b of a file's rank, index the files whose bit b
    is 0 and scan those where it is 1, then the other way round. Any two files differ in some bit,
    so every file is scanned against every other file in some run and never against itself.
    Returns the summed wall seconds and the union of the runs' findings."""
    src = truth["sources"][0]
    files = sorted({u["path"] for u in truth["units"]})
    bits = max(1, (len(files) - 1).bit_length())
    work = out / ".cross"
    index_s = scan_s = 0.0
    findings: list[dict[str, Any]] = []
    for b in range(bits):
        for side in (0, 1):
            if work.exists():
                shutil.rmtree(work)
            groups = {0: work / "refs" / src["name"], 1: work / "scan"}
            for rank, name in enumerate(files):
                dest = groups[((rank >> b) & 1) ^ side] / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(out / truth["suspect_dir"] / name, dest)
            if not groups[1].exists() or not groups[0].exists():
                continue
            i_s, s_s, found = index_and_scan(
                out, [(groups[0], src["name"], src["license"])], groups[1], work / "index", with_model
            )
            index_s, scan_s = index_s + i_s, scan_s + s_s
            findings += found
    shutil.rmtree(work, ignore_errors=True)
    unique: dict[tuple[Any, ...], dict[str, Any]] = {}
    for f in findings:  # a pair of files meets in several runs: keep one copy of a finding
        o = f["origin"]
        key = (
            f["path"],
            f["start_line"],
            f["end_line"],
            o.get("path"),
            o.get("start_line"),
            o.get("end_line"),
        )
        unique.setdefault(key, f)
    return index_s, scan_s, list(unique.values())


def do_run(out: Path, with_model: bool, cross: bool = False) -> dict[str, Any]:
    """Index the refs of ``out``, scan its suspects, print the tables; return the results.

    With ``cross`` (SOCO only) also measure without self matches (see ``cross_findings``)."""
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    sources = [(out / s["dir"], s["name"], s["license"]) for s in truth["sources"]]
    index_s, scan_s, raw = index_and_scan(
        out, sources, out / truth["suspect_dir"], out / ".index", with_model
    )
    findings, dropped, promoted = drop_self(raw)
    add_verbatim_lines(findings, out / truth["suspect_dir"], {name: d for d, name, _ in sources})
    res = evaluate(truth, findings)
    res.update(
        {
            "index_s": index_s,
            "scan_s": scan_s,
            "with_model": with_model,
            "self_findings_dropped": dropped,
            "self_findings_promoted": promoted,
        }
    )
    print_run(res)
    res["false_findings"] = res["false_findings"][:50]
    if cross and truth["set"].startswith("soco"):
        c_index_s, c_scan_s, c_raw = cross_findings(out, truth, with_model)
        c_findings, _, _ = drop_self(c_raw)
        cres = evaluate(truth, c_findings)
        cres.update(
            {
                "index_s": c_index_s,
                "scan_s": c_scan_s,
                "with_model": with_model,
                "self_findings_dropped": len(c_raw) - len(c_findings),
                "self_findings_promoted": 0,
                "partitioned": True,
            }
        )
        print_run(cres)
        cres["false_findings"] = cres["false_findings"][:50]
        res["cross"] = cres
    return res


def print_run(res: dict[str, Any]) -> None:
    """Print the markdown tables of one run."""
    mode = "with model" if res["with_model"] else "fingerprints only (--no-ml)"
    if res.get("partitioned"):
        mode += ", cross-partitioned: no file is indexed when it is scanned (union of runs)"
    print(f"\n## {res['set']} / {res['split']} — {mode}\n")
    print(
        f"{res['units']} units over {res['files']} scanned files, {res['findings']} findings "
        f"({res['self_findings_dropped']} self-matches dropped, "
        f"{res['self_findings_promoted']} self-matches replaced by their also_in origin); "
        f"index {res['index_s']:.1f} s, scan {res['scan_s']:.1f} s\n"
    )
    if "flagged" in res:
        print(
            table(
                ["findings", "files with a finding", "findings"],
                [[r["filter"], fmt_share(r["flagged"], r["units"]), r["findings"]] for r in res["flagged"]],
            )
        )
        title = "Highest-scoring false findings (every finding is false here)"
    else:
        print(
            table(
                [
                    "findings",
                    "predicted pairs",
                    "TP",
                    "precision",
                    "recall",
                    "F1",
                    "in qrel closure",
                    "no_reuse files flagged",
                ],
                [
                    [
                        r["filter"],
                        r["predicted"],
                        r["tp"],
                        fmt_num(r["precision"]),
                        fmt_num(r["recall"]),
                        fmt_num(r["f1"]),
                        f"{r['in_closure']} (P {fmt_num(r['precision_closure'])})",
                        fmt_share(r["no_reuse_flagged"], r["no_reuse"]),
                    ]
                    for r in res["pairs"]
                ],
            )
        )
        print(
            f'\n{res["truth_pairs"]} qrel pairs. "In qrel closure": predicted pairs whose two files are '
            "connected in the qrel graph (the qrel is not transitively closed)."
        )
        title = "Highest-scoring false findings (pair not in the qrel)"
    top = res["false_findings"][:10]
    if top:
        print(f"\n{title}:\n")
        print(table(["path", "lines", "origin", "match", "P(copy)", "score"], [finding_row(f) for f in top]))
    print()


def summary_rows(results: list[dict[str, Any]]) -> list[list[Any]]:
    """One summary row per run."""
    rows = []
    runs = [x for r in results for x in ([r, r["cross"]] if "cross" in r else [r])]
    for r in runs:
        if "pairs" in r:
            top = r["pairs"][0]
            share = fmt_share(top["no_reuse_flagged"], top["no_reuse"]) + " no_reuse"
            p, rc, f1 = fmt_num(top["precision"]), fmt_num(top["recall"]), fmt_num(top["f1"])
        else:
            top = r["flagged"][0]
            share = fmt_share(top["flagged"], top["units"]) + " same_task"
            p = rc = f1 = "—"
        rows.append(
            [
                r["set"] + (" (cross)" if r.get("partitioned") else ""),
                r["split"],
                r["units"],
                r["findings"],
                share,
                p,
                rc,
                f1,
                f"{r['index_s']:.1f}",
                f"{r['scan_s']:.1f}",
            ]
        )
    return rows


def print_summary(results: list[dict[str, Any]]) -> None:
    """Print the one-table summary of ``all``."""
    mode = "with model" if results and results[0]["with_model"] else "fingerprints only"
    print(f"\n## Summary — {mode}\n")
    print(
        table(
            [
                "set",
                "split",
                "units",
                "findings",
                "flagged (negatives)",
                "precision",
                "recall",
                "F1",
                "index s",
                "scan s",
            ],
            summary_rows(results),
        )
    )


def write_json(path: Path | None, payload: Any) -> None:
    """Write the results as JSON when asked."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=1, default=str) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="write OUT/refs, OUT/suspect and OUT/truth.json")
    b.add_argument("out", type=Path)
    b.add_argument("--set", required=True, choices=SETS, dest="set_name")
    b.add_argument(
        "--split",
        required=True,
        choices=("train", "val", "test"),
        help="val: poj104/gcj only, disjoint from both",
    )
    b.add_argument("--limit", type=int, help="at most N problems (poj104, gcj) or files (soco)")
    b.add_argument("--suspects", type=int, help="poj104: suspects per problem (more training negatives)")
    r = sub.add_parser("run", help="index OUT/refs, scan OUT/suspect, print tables")
    r.add_argument("out", type=Path)
    r.add_argument("--with-model", action="store_true", help="semantic matching too (default --no-ml)")
    r.add_argument("--json", type=Path, help="write the results here")
    r.add_argument("--cross", action="store_true", help="SOCO: also measure with no self matches")
    a = sub.add_parser("all", help="build and run every set, print a summary")
    a.add_argument("outroot", type=Path)
    a.add_argument("--split", default="test", choices=("train", "val", "test"))
    a.add_argument("--with-model", action="store_true")
    a.add_argument("--limit", type=int)
    a.add_argument("--cross", action="store_true", help="SOCO: also measure with no self matches")
    a.add_argument("--json", type=Path)
    for p in (r, a):
        p.add_argument("--verdict", type=Path, help="scan with this classifier instead of the shipped one")
    args = ap.parse_args(argv)
    if getattr(args, "verdict", None):
        SCAN_EXTRA[:] = ["--verdict", str(args.verdict.resolve())]
    if args.cmd == "build":
        do_build(args.set_name, args.split, args.out, args.limit, args.suspects)
    elif args.cmd == "run":
        write_json(args.json, do_run(args.out, args.with_model, args.cross))
    else:
        results = []
        for set_name in SETS if args.split != "val" else ("poj104", "gcj"):
            out = args.outroot / f"{set_name}-{args.split}"
            do_build(set_name, args.split, out, args.limit)
            results.append(do_run(out, args.with_model, args.cross))
        print_summary(results)
        write_json(args.json, results)


if __name__ == "__main__":
    main()
