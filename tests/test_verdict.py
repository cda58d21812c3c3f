"""The verdict: short verbatim copies are found, boilerplate and common ground are not copies,
every finding carries a calibrated P(copy) from the shipped classifier, and a damaged classifier
file is a clear error."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from codeguard.verdict.classifier import VerdictUnavailable, from_json, load
from codeguard.verdict.features import FEATURES, PairEvidence, Side, information, summarize

# A 6-line function: too short for the normalized channel's old thresholds, but its identifiers
# and literals make a verbatim copy certain.
SHORT = """def parse_duration(text):
    units = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0}
    number, _, unit = text.strip().partition(" ")
    if unit not in units:
        raise ValueError(f"unknown duration unit {unit!r} in {text!r}")
    return float(number) * units[unit]
"""

IMPORTS = """import os
import sys
import json
import re
import logging
from collections import defaultdict, OrderedDict
from pathlib import Path
from typing import Any, Iterable
"""

OWN = """def summarize_scores(rows):
    best = None
    for name, value in rows:
        if best is None or value > best[1]:
            best = (name, value)
    return best
"""

# An assignment skeleton that every reference shares (the base code a course hands out).
SKELETON = """class Solution:
    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.cases = int(self.reader.readline())

    def run(self):
        for case in range(1, self.cases + 1):
            answer = self.solve(self.reader.readline().split())
            self.writer.write("Case #%d: %s\\n" % (case, answer))
"""

SOLUTIONS = [
    "    def solve(self, words):\n        return ' '.join(reversed(words))\n",
    "    def solve(self, words):\n        total = 0\n        for w in words:\n            total += int(w)\n"
    "        return total\n",
    "    def solve(self, words):\n        seen = set(words)\n        return len(seen)\n",
    "    def solve(self, words):\n        return max(words, key=len) if words else ''\n",
    "    def solve(self, words):\n        return sorted(words)[0] if words else '-'\n",
    "    def solve(self, words):\n        return sum(len(w) for w in words) % 7\n",
]


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_short_verbatim_copy_is_an_identical_finding_with_high_probability(
    tmp_path: Path, add_json: Any, scan_json: Callable[..., tuple[int, dict[str, Any], str]]
) -> None:
    ref = _write(
        tmp_path / "ref", {"timeutil.py": IMPORTS + "\n\n" + SHORT + "\n\n" + OWN.replace("rows", "r")}
    )
    project = _write(tmp_path / "project", {"app.py": "import time\n\n\n" + SHORT + "\n\nprint(1)\n"})
    add_json(ref, tmp_path / "index", "--no-ml", "--license", "GPL-3.0-only")
    code, report, _ = scan_json(project, tmp_path / "index", "--no-ml", "--project-license", "MIT")
    found = [f for f in report["findings"] if f["path"] == "app.py"]
    assert len(found) == 1, report["findings"]
    f = found[0]
    assert (f["start_line"], f["end_line"]) == (4, 9)
    assert f["channel"] == "identical" and f["match_type"] == "exact"
    assert f["origin"]["path"] == "timeutil.py" and f["origin"]["start_line"] == 11
    assert f["probability"] >= 0.9 and f["level"] == "error"
    assert code == 1


def test_import_block_and_own_code_are_never_findings(
    tmp_path: Path, add_json: Any, scan_json: Callable[..., tuple[int, dict[str, Any], str]]
) -> None:
    ref = _write(tmp_path / "ref", {f"m{i}.py": IMPORTS + f"\n\nVALUE_{i} = {i}\n" for i in range(3)})
    ref = _write(ref, {"x.py": IMPORTS + "\n\n" + SHORT})
    project = _write(
        tmp_path / "project",
        {"only_imports.py": IMPORTS, "mine.py": IMPORTS + "\n\n" + OWN, "tiny.py": "x = 1\n"},
    )
    add_json(ref, tmp_path / "index", "--no-ml")
    code, report, _ = scan_json(project, tmp_path / "index", "--no-ml")
    assert report["findings"] == [] and code == 0


def test_skeleton_shared_by_many_references_is_common_ground(
    tmp_path: Path, add_json: Any, scan_json: Callable[..., tuple[int, dict[str, Any], str]]
) -> None:
    refs = {f"student{i}/sol.py": SKELETON + "\n" + s for i, s in enumerate(SOLUTIONS[:5])}
    ref = _write(tmp_path / "ref", refs)
    project = _write(tmp_path / "project", {"sol.py": SKELETON + "\n" + SOLUTIONS[5]})
    add_json(ref, tmp_path / "index", "--no-ml")
    _, report, _ = scan_json(project, tmp_path / "index", "--no-ml", "--fail-on", "none")
    gating = [f for f in report["findings"] if f["probability"] >= 0.9]
    assert gating == [], gating
    # The same file copied from one student (their own method included) is a copy.
    copied = _write(tmp_path / "copied", {"sol.py": refs["student2/sol.py"]})
    _, report, _ = scan_json(copied, tmp_path / "index", "--no-ml", "--fail-on", "none")
    top = [f for f in report["findings"] if f["probability"] >= 0.9]
    assert top and all(f["origin"]["path"] == "student2/sol.py" for f in top), report["findings"]


def test_every_finding_carries_probability_and_channel_in_sarif(
    tmp_path: Path, add_json: Any, run_cli: Callable[..., tuple[int, str, str]]
) -> None:
    ref = _write(tmp_path / "ref", {"timeutil.py": SHORT})
    renamed = SHORT.replace("units", "table").replace("number", "amount").replace("parse_duration", "dur")
    project = _write(tmp_path / "project", {"a.py": SHORT, "b.py": renamed})
    add_json(ref, tmp_path / "index", "--no-ml")
    run_cli("scan", project, "--index", tmp_path / "index", "--no-ml", "--sarif", tmp_path / "out.sarif")
    results = json.loads((tmp_path / "out.sarif").read_text())["runs"][0]["results"]
    assert len(results) == 2
    by_file = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r for r in results}
    channels = {k.rsplit("/", 1)[-1]: v["properties"]["channel"] for k, v in by_file.items()}
    assert channels == {"a.py": "identical", "b.py": "renamed"}
    assert all(0.5 <= r["properties"]["probability"] <= 1.0 for r in results)


def _evidence(n: int, copied: bool) -> PairEvidence:
    rng = np.random.default_rng(n)
    tokens = rng.integers(1, 50, size=200).astype(np.uint32)
    other = tokens.copy() if copied else rng.integers(1, 50, size=200).astype(np.uint32)
    zeros = np.zeros(200, dtype=np.int64)
    none = np.zeros(200, dtype=bool)
    q = Side(tokens, tokens, none, zeros, zeros + 3, np.arange(200) // 8, 0, 200)
    r = Side(other, other, none, zeros, zeros + 3, np.arange(200) // 8, 0, 200)
    pieces = [(0, 200, 0, 200)] if copied else [(10, 30, 50, 70)]
    return PairEvidence(q, r, pieces, seed_df=[1] * 12 if copied else [6] * 2)


def test_features_see_verbatim_and_rarity() -> None:
    x_copy, s_copy = summarize(_evidence(1, True))
    x_other, _ = summarize(_evidence(1, False))
    idx = {f: i for i, f in enumerate(FEATURES)}
    assert len(x_copy) == len(FEATURES)
    assert x_copy[idx["raw_cov_query"]] == 1.0 and x_other[idx["raw_cov_query"]] < 0.3
    assert x_copy[idx["rare_share"]] == 1.0 and x_other[idx["rare_share"]] == 0.0
    assert s_copy.raw_longest_lines == 25
    # Information counts distinct n-grams: a repetitive run is worth little.
    assert information(np.array([1, 2] * 50)) < 10 < information(np.arange(100))
    # The shipped classifier orders them.
    p = load().probability(np.stack([x_copy, x_other]))
    assert p[0] > 0.9 > 0.5 > p[1]


def test_damaged_classifier_files_are_clear_errors(
    tmp_path: Path,
    reference_corpus: Any,
    add_json: Any,
    run_cli: Callable[..., tuple[int, str, str]],
) -> None:
    good = load().to_json()
    with pytest.raises(VerdictUnavailable, match="other features"):
        from_json({**good, "features": good["features"][:-1]})
    with pytest.raises(VerdictUnavailable, match="format version"):
        from_json({**good, "format_version": 99})
    with pytest.raises(VerdictUnavailable, match="damaged"):
        from_json({**good, "weights": [float("nan")] * len(FEATURES)})
    with pytest.raises(VerdictUnavailable, match="calibration"):
        from_json({**good, "calibration": {"x": [0.5, 0.1], "y": [0.1, 0.2]}})
    add_json(reference_corpus.root, tmp_path / "index", "--no-ml")
    bad = tmp_path / "verdict.json"
    bad.write_text("{not json")
    code, _, err = run_cli("scan", reference_corpus.root, "--index", tmp_path / "index", "--verdict", bad)
    assert code == 4 and "not valid JSON" in err
    code, _, err = run_cli(
        "scan", reference_corpus.root, "--index", tmp_path / "index", "--verdict", tmp_path / "no"
    )
    assert code == 4 and "Cannot read" in err
    # A classifier saved and loaded again gives the same probabilities.
    again = tmp_path / "again.json"
    load().save(again)
    x = np.stack([summarize(_evidence(3, True))[0], summarize(_evidence(3, False))[0]])
    assert np.allclose(load(again).probability(x), load().probability(x))


def test_training_fits_calibrates_and_holds_back_whole_groups() -> None:
    from codeguard.verdict.train import expected_calibration_error, fit

    rng = np.random.default_rng(0)
    n = 600
    y = rng.integers(0, 2, size=n)
    x = rng.normal(size=(n, len(FEATURES))) + y[:, None] * np.linspace(0, 2, len(FEATURES))
    groups = [f"unit-{i // 3}" for i in range(n)]
    model = fit(x, y, groups, card={"recipe": "test"})
    info = model.card["fit"]
    assert info["fit_pairs"] + info["calibration_pairs"] == n and info["calibration_pairs"] > 100
    assert model.card["recipe"] == "test"
    p = model.probability(x)
    assert np.all(np.diff(model.cal_x) >= 0) and 0 <= p.min() and p.max() <= 1
    assert expected_calibration_error(p, y) < 0.1
    assert ((p > 0.5) == y).mean() > 0.9
    again = from_json(json.loads(json.dumps(model.to_json())))
    assert np.allclose(again.probability(x), p)
    with pytest.raises(ValueError, match="too few"):
        fit(x[:5], np.zeros(5, dtype=int), groups[:5])


# A class copied from one reference, with one method pasted in from another reference's class.
STACK = """class BoundedStack:
    def __init__(self, capacity):
        if capacity <= 0:
            raise ValueError("capacity must be positive, got %r" % (capacity,))
        self._items = []
        self._capacity = capacity

    def push(self, item):
        if len(self._items) >= self._capacity:
            raise OverflowError("stack of %d items is full" % self._capacity)
        self._items.append(item)

    def pop(self):
        if not self._items:
            raise IndexError("pop from an empty BoundedStack")
        return self._items.pop()

    def peek(self, default=None):
        return self._items[-1] if self._items else default
"""

METHOD = """    def drain_matching(self, predicate, limit=None):
        taken = [x for x in self._items if predicate(x)]
        if limit is not None:
            taken = taken[:limit]
        self._items = [x for x in self._items if x not in taken]
        return list(reversed(taken))
"""


def test_a_method_from_one_file_inside_a_class_from_another_is_its_own_finding(
    tmp_path: Path, add_json: Any, scan_json: Callable[..., tuple[int, dict[str, Any], str]]
) -> None:
    other = "class Pool:\n    def __init__(self):\n        self._items = []\n\n" + METHOD
    ref = _write(tmp_path / "ref", {"stack.py": STACK, "pool.py": other})
    project = _write(tmp_path / "project", {"app.py": STACK + "\n" + METHOD})
    add_json(ref, tmp_path / "index", "--no-ml")
    _, report, _ = scan_json(project, tmp_path / "index", "--no-ml")
    by_origin = {f["origin"]["path"]: f for f in report["findings"]}
    assert set(by_origin) == {"stack.py", "pool.py"}, report["findings"]
    method = by_origin["pool.py"]
    assert (method["start_line"], method["end_line"]) == (21, 26)
    assert (method["origin"]["start_line"], method["origin"]["end_line"]) == (5, 10)
