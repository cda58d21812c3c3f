"""License detection quality and speed on ScanCode's data-driven license tests.

    python bench/license_detect.py [--data DIR] [--runs 3] [--no-askalono] [--failures N]

Input: ``shared/data/scancode-license-tests`` (1,499 files, each with the ordered list of
license expressions ScanCode reports; 104 negatives expect none). Nothing is copied into the
repository. For each file, ``detect_licenses`` gets the file decoded as UTF-8 (undecodable bytes
replaced) and its ordered ``key`` list is compared with the expectation:

- exact: the ordered expression lists are equal (expressions compared after the same
  normalisation on both sides), ScanCode's own pass criterion;
- set-level precision/recall/F1 over the license keys per file (every key of every
  expression), micro-averaged over all keys and as the mean over files (a file with nothing
  expected and nothing found counts 1.0);
- negatives with no detection;
- files/s: median of ``--runs`` timed passes over all files with the index already loaded;
  index build (from the installed licensedcode-data) and load are timed separately.

pyaskalono, when installed, is scored the same way: it names at most one SPDX license per
text (score >= 0.8), mapped to ScanCode keys through the database's SPDX ids. Both are also
scored on the files askalono is made for: one expected license key and 250+ words.

Split (``--split dev|test|all``, default dev): each case goes to the dev half or the held-out
test half by ``sha1(test_file)`` (even: dev, odd: test), so the split never changes. Look at dev
failures only; measure the test half when done. ``--extra FILE`` adds dev cases from real files
on this machine (``bench/license_cases.jsonl``: path + expected ScanCode expressions, labelled by
reading the files; paths that do not exist here are skipped and counted).

Per kind of case (a case may be of several): ``exception`` (an expected ``X WITH exception``),
``multi`` (two or more different license keys expected), ``named-terms`` (IETF, ISO, ISC or IPL
terms expected), ``full-gpl`` (a whole GPL text), ``negative`` (nothing expected), set-F1 and
exact-list rate are printed too.

Prints markdown tables; writes ``.bench/results/license_detect.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from codeguard.licenses import index as license_index  # noqa: E402
from codeguard.licenses.detect import detect_licenses  # noqa: E402
from codeguard.licenses.spdx import LicenseTable, normalize, parse  # noqa: E402

DEFAULT_DATA = [
    Path("/work/shared/data/scancode-license-tests"),
    REPO.parent / "shared" / "data" / "scancode-license-tests",
]


def find_data(arg: str | None) -> Path:
    for cand in [Path(arg)] if arg else DEFAULT_DATA:
        if (cand / "expectations.jsonl").is_file():
            return cand
    sys.exit("scancode-license-tests not found; pass --data DIR")


def keys_of(expressions: list[str]) -> set[str]:
    out: set[str] = set()
    for e in expressions:
        try:
            parsed = parse(e)
        except Exception:
            out.add(e.lower())
            continue
        if parsed is None:
            continue
        from license_expression import Licensing

        out.update(s.key.lower() for s in Licensing().license_symbols(parsed, decompose=True))
    return out


def score(cases: list[dict], results: list[list[str]]) -> dict:
    tp = fp = fn = 0
    exact = 0
    per_file_p: list[float] = []
    per_file_r: list[float] = []
    per_file_f: list[float] = []
    neg_total = neg_clean = 0
    failures = []
    for case, got in zip(cases, results):
        want = case["license_expressions"]
        w, g = [normalize(x) for x in want], [normalize(x) for x in got]
        if (set(w) == set(g)) if case.get("compare") == "set" else (w == g):
            exact += 1
        else:
            failures.append((case["test_file"], want, got))
        ws, gs = keys_of(want), keys_of(got)
        t, f_p, f_n = len(ws & gs), len(gs - ws), len(ws - gs)
        tp, fp, fn = tp + t, fp + f_p, fn + f_n
        p = t / len(gs) if gs else (1.0 if not ws else 0.0)
        r = t / len(ws) if ws else (1.0 if not gs else 0.0)
        per_file_p.append(p)
        per_file_r.append(r)
        per_file_f.append(2 * p * r / (p + r) if p + r else 0.0)
        if not want:
            neg_total += 1
            neg_clean += not got
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    return {
        "cases": len(cases),
        "exact": exact,
        "exact_rate": exact / len(cases),
        "micro_precision": prec,
        "micro_recall": rec,
        "micro_f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0,
        "mean_precision": statistics.fmean(per_file_p),
        "mean_recall": statistics.fmean(per_file_r),
        "mean_f1": statistics.fmean(per_file_f),
        "negatives": neg_total,
        "negatives_clean": neg_clean,
        "_failures": failures,
    }


def split_of(test_file: str) -> str:
    """The half a case belongs to, fixed by the hash of its file name."""
    return "dev" if int(hashlib.sha1(test_file.encode()).hexdigest(), 16) % 2 == 0 else "test"


_NAMED = re.compile(r"(^|-)(isc|ietf|iso|ipl|ibmpl)(-|$)")


def kinds_of(case: dict, text: str) -> list[str]:
    """The kinds of miss the issue names that this case can show."""
    want = case["license_expressions"]
    keys = keys_of(want)
    out = []
    if any(" with " in e.lower() for e in want):
        out.append("exception")
    if len(keys) >= 2:
        out.append("multi")
    if any(_NAMED.search(k) for k in keys):
        out.append("named-terms")
    if any(k.startswith("gpl-") for k in keys) and re.search(
        r"GNU GENERAL PUBLIC LICENSE\s+Version \d.*TERMS AND CONDITIONS", text[:20000], re.S | re.I
    ):
        out.append("full-gpl")
    if not want:
        out.append("negative")
    return out or ["single"]


def load_extra(path: Path) -> tuple[list[dict], list[str], int]:
    """Dev cases from real files on this machine (missing paths are skipped and counted)."""
    cases, texts, missing = [], [], 0
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        c = json.loads(line)
        f = Path(c["path"])
        if not f.is_file():
            missing += 1
            continue
        want = c["license_expressions"]
        cases.append({"test_file": c["path"], "license_expressions": want, "compare": "set"})
        texts.append(f.read_bytes()[:400_000].decode("utf-8", "replace"))
    return cases, texts, missing


def timed_passes(
    texts: list[str], fn: Callable[[str], list[str]], runs: int
) -> tuple[list[list[str]], list[float]]:
    results: list[list[str]] = []
    times = []
    for run in range(runs):
        t0 = time.perf_counter()
        out = [fn(t) for t in texts]
        times.append(time.perf_counter() - t0)
        if run == 0:
            results = out
    return results, times


def askalono_fn(table: LicenseTable) -> Callable[[str], list[str]] | None:
    try:
        import askalono  # type: ignore[import-not-found]
    except ImportError:
        return None

    def run(text: str) -> list[str]:
        try:
            found = askalono.identify(text)
        except Exception:
            return []
        if found is None or getattr(found, "score", 0) < 0.8:
            return []
        name = getattr(found, "name", None) or str(found)
        return [table.key_of_spdx(name) or name.lower()]

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-askalono", action="store_true")
    ap.add_argument("--failures", type=int, default=0, help="print this many failing cases")
    ap.add_argument("--limit", type=int, default=0, help="only the first N cases (debugging)")
    ap.add_argument("--skip-build", action="store_true", help="do not time a fresh index build")
    ap.add_argument("--split", choices=("dev", "test", "all"), default="dev")
    ap.add_argument("--extra", default=str(REPO / "bench" / "license_cases.jsonl"), help="extra dev cases")
    args = ap.parse_args()

    data = find_data(args.data)
    cases = [
        json.loads(line) for line in (data / "expectations.jsonl").read_text().splitlines() if line.strip()
    ]
    if args.split != "all":
        cases = [c for c in cases if split_of(c["test_file"]) == args.split]
    if args.limit:
        cases = cases[: args.limit]
    texts = [(data / "datadriven" / c["test_file"]).read_bytes().decode("utf-8", "replace") for c in cases]
    n_shared, missing = len(cases), 0
    if args.split == "dev" and args.extra and Path(args.extra).is_file():
        extra_cases, extra_texts, missing = load_extra(Path(args.extra))
        cases, texts = cases + extra_cases, texts + extra_texts
    print(
        f"split {args.split}: {n_shared} ScanCode cases + {len(cases) - n_shared} real files of this machine"
        + (f" ({missing} listed files not here)" if missing else "")
    )

    build_s = None
    if not args.skip_build:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "index"
            t0 = time.perf_counter()
            license_index.build_index(path)
            build_s = time.perf_counter() - t0
    path = license_index.index_path()
    if not (path / "meta.json").is_file():
        license_index.build_index(path)
    t0 = time.perf_counter()
    idx = license_index.load_index(path)
    load_s = time.perf_counter() - t0
    license_index.get_index()  # the process-wide copy used by detect_licenses
    detect_licenses("warm up: MIT License")

    results: dict[str, tuple[list[list[str]], list[float]]] = {}
    results["codeguard"] = timed_passes(texts, lambda t: [m.key for m in detect_licenses(t)], args.runs)
    table = LicenseTable(idx.licenses)
    ask = None if args.no_askalono else askalono_fn(table)
    if ask is not None:
        results["pyaskalono"] = timed_passes(texts, ask, 1)

    # The subset askalono is made for: one expected license, no expression, and a text long
    # enough (250+ words) to be a whole license file rather than a header.
    subset = [
        i
        for i, c in enumerate(cases)
        if len(c["license_expressions"]) == 1
        and " " not in c["license_expressions"][0]
        and len(texts[i].split()) >= 250
    ]
    rows: dict[str, dict] = {}
    for name, (found, times) in results.items():
        rows[name] = score(cases, found) | {
            "set": "all",
            "files_per_s": len(texts) / statistics.median(times),
            "pass_s": times,
        }
        by_kind: dict[str, list[int]] = {}
        for i, c in enumerate(cases):
            for k in kinds_of(c, texts[i]):
                by_kind.setdefault(k, []).append(i)
        if i_extra := [i for i in range(n_shared, len(cases))]:
            by_kind["real files"] = i_extra
        for kind, idxs in sorted(by_kind.items()):
            kind_cases, kind_found = [cases[i] for i in idxs], [found[i] for i in idxs]
            rows[f"{name} [{kind}]"] = score(kind_cases, kind_found) | {"set": kind}
        rows[f"{name} (single full texts)"] = score(
            [cases[i] for i in subset], [found[i] for i in subset]
        ) | {
            "set": "single-license files of 250+ words",
        }

    print(
        "| detector | cases | exact list | micro P | micro R | micro F1 | mean P | mean R | mean F1 "
        "| negatives clean | files/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        speed = f"{r['files_per_s']:.0f}" if "files_per_s" in r else ""
        print(
            f"| {name} | {r['cases']} | {r['exact_rate']:.3f} ({r['exact']}) | {r['micro_precision']:.3f} "
            f"| {r['micro_recall']:.3f} | {r['micro_f1']:.3f} | {r['mean_precision']:.3f} "
            f"| {r['mean_recall']:.3f} | {r['mean_f1']:.3f} | {r['negatives_clean']}/{r['negatives']} "
            f"| {speed} |"
        )
    print()
    build_txt = f"{build_s:.1f} s" if build_s is not None else "not timed"
    print(
        f"index build: {build_txt}; index load: {load_s * 1000:.0f} ms; "
        f"licensedcode-data {idx.data_version}; {idx.n_rules} rules"
    )

    if args.failures:
        print()
        for f, want, got in rows["codeguard"]["_failures"][: args.failures]:
            print(f"- {f}\n    want {want}\n    got  {got}")

    out = REPO / ".bench" / "results" / "license_detect.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "data": str(data),
        "index_build_s": build_s,
        "index_load_s": load_s,
        "data_version": idx.data_version,
        "rules": idx.n_rules,
        "detectors": {
            name: {k: v for k, v in r.items() if not k.startswith("_")}
            | {"failures": [{"file": f, "want": w, "got": g} for f, w, g in r["_failures"]]}
            for name, r in rows.items()
        },
    }
    out.write_text(json.dumps(payload, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
