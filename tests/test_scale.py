"""Scan cost that follows the matches: statistics kept at index time, rarity-capped candidates."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import LEVENSHTEIN, MERGE_INTERVALS, write_corpus

from codeguard.engine import scan as scan_mod
from codeguard.index import store as store_mod


def _df_kept(db: Path) -> dict[int, tuple[int, int]]:
    with sqlite3.connect(db) as conn:
        return {h: (n, nb) for h, n, nb in conn.execute("SELECT hash, n, nb FROM df")}


def _df_recounted(db: Path) -> dict[int, tuple[int, int]]:
    """Document frequencies recomputed from the postings: the definition ``df`` must keep."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            """SELECT p.hash, COUNT(DISTINCT f.sha256),
                      COUNT(DISTINCT CASE WHEN s.boilerplate = 1 THEN f.id END)
               FROM postings p JOIN files f ON p.file_id = f.id JOIN sources s ON f.source_id = s.id
               GROUP BY p.hash"""
        ).fetchall()
    return {h: (n, nb) for h, n, nb in rows}


def _counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {
            t if t != "postings" else "fingerprints": conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("sources", "files", "chunks", "postings")
        }


def _check(index: Path) -> None:
    db = index / store_mod.DB_NAME
    assert _df_kept(db) == _df_recounted(db)
    store = store_mod.IndexStore.open(index)
    try:
        assert store.stats() == _counts(db)
    finally:
        store.close()


def test_df_and_counts_stay_exact_through_add_update_boilerplate_and_remove(
    reference_corpus: Any, tmp_path: Path, index_dir: Path, add_json: Any, run_cli: Any
) -> None:
    add_json(reference_corpus.root, index_dir, "--name", "ref", "--no-ml")
    _check(index_dir)
    # An identical fork: same families, so no fingerprint's df changes.
    fork = tmp_path / "fork"
    shutil.copytree(reference_corpus.root, fork)
    before = _df_kept(index_dir / store_mod.DB_NAME)
    add_json(fork, index_dir, "--name", "fork", "--no-ml")
    assert _df_kept(index_dir / store_mod.DB_NAME) == before
    _check(index_dir)
    # The fork changes one file and drops another.
    first, second = sorted(reference_corpus.files)[:2]
    (fork / first).write_text(
        reference_corpus.files[first] + "\n\ndef extra(a, b):\n    return [a] * b + [b]\n"
    )
    (fork / second).unlink()
    add_json(fork, index_dir, "--name", "fork", "--no-ml")
    _check(index_dir)
    # Turned boilerplate and back, without a file changing.
    add_json(fork, index_dir, "--name", "fork", "--boilerplate", "--no-ml")
    assert any(nb for _, nb in _df_kept(index_dir / store_mod.DB_NAME).values())
    _check(index_dir)
    add_json(fork, index_dir, "--name", "fork", "--no-boilerplate", "--no-ml")
    _check(index_dir)
    code, _, err = run_cli("index", "remove", "ref", "--index", index_dir)
    assert code == 0, err
    _check(index_dir)
    add_json(reference_corpus.root, index_dir, "--name", "ref", "--no-ml")
    _check(index_dir)
    for name in ("ref", "fork"):
        assert run_cli("index", "remove", name, "--index", index_dir)[0] == 0
    assert _df_kept(index_dir / store_mod.DB_NAME) == {}
    _check(index_dir)


def _decoys(root: Path, n: int) -> None:
    """Files sharing idioms with the copy (loops, appends, comparisons) but not its code."""
    for i in range(n):
        (root / f"decoy_{i}.py").write_text(
            f"def helper_{i}(items, limit={i}):\n"
            "    out = []\n"
            "    for item in items:\n"
            "        if item > limit:\n"
            "            out.append(item)\n"
            "    return out\n"
            "\n\n"
            f"def other_{i}(rows):\n"
            "    result = []\n"
            "    for row in sorted(rows):\n"
            "        if result and result[-1] == row:\n"
            "            continue\n"
            "        result.append(row)\n"
            f"    return result[:{i + 3}]\n",
            encoding="utf-8",
        )


def test_capped_candidates_still_find_the_copy(
    tmp_path: Path, index_dir: Path, add_json: Any, scan_json: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = write_corpus(tmp_path / "ref", {"intervals.py": MERGE_INTERVALS, "edit.py": LEVENSHTEIN})
    _decoys(ref.root, 40)
    add_json(ref.root, index_dir, "--name", "ref", "--license", "MIT", "--no-ml")
    project = write_corpus(tmp_path / "project", {"mine.py": MERGE_INTERVALS + "\n\n" + LEVENSHTEIN})
    monkeypatch.setattr(scan_mod, "MAX_CANDIDATE_FILES", 2)
    _, report, _ = scan_json(project.root, index_dir, "--no-ml")
    assert {f["origin"]["path"] for f in report["findings"]} == {"intervals.py", "edit.py"}


def test_fingerprints_in_more_files_than_the_cap_are_not_followed(
    tmp_path: Path, index_dir: Path, add_json: Any, scan_json: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same function in 6 different files (each with something of its own): 6 families.
    root = tmp_path / "ref"
    root.mkdir()
    for i in range(6):
        (root / f"copy_{i}.py").write_text(MERGE_INTERVALS + f"\n\nVERSION_{i} = {i}\n", encoding="utf-8")
    add_json(root, index_dir, "--name", "ref", "--license", "MIT", "--no-ml")
    project = write_corpus(tmp_path / "project", {"mine.py": MERGE_INTERVALS})
    _, report, _ = scan_json(project.root, index_dir, "--no-ml")
    assert report["findings"], "found while under the cap"
    monkeypatch.setattr(store_mod, "MAX_DF_MIN", 5)
    _, report, _ = scan_json(project.root, index_dir, "--no-ml")
    assert report["findings"] == []


def test_files_matched_in_worker_processes_give_the_findings_of_one_process(
    tmp_path: Path, index_dir: Path, add_json: Any, scan_json: Any
) -> None:
    """From MIN_PARALLEL_MATCH files on, --jobs 2 matches files in worker processes: the same
    findings as --jobs 1, own indexed copies set aside in both."""
    ref = write_corpus(tmp_path / "ref", {"intervals.py": MERGE_INTERVALS, "edit.py": LEVENSHTEIN})
    _decoys(ref.root, 5)
    add_json(ref.root, index_dir, "--name", "ref", "--license", "MIT", "--no-ml")
    files = {}
    for i in range(scan_mod.MIN_PARALLEL_MATCH + 2):
        text = (MERGE_INTERVALS if i % 2 else LEVENSHTEIN).replace("(", f"_{i}(", 1)
        own = "".join(
            f"\n\ndef own_{i}_{j}(x, y):\n    z = x * {i + j} - y\n    return [z + k for k in range({j})]\n"
            for j in range(12)
        )
        files[f"mod_{i}.py"] = f"LIMIT_{i} = {i}\n\n\n{text}{own}"  # not near-identical to each other
    project = write_corpus(tmp_path / "project", files)
    add_json(project.root, index_dir, "--name", "project", "--no-ml")  # its own copies, set aside
    _, one, _ = scan_json(project.root, index_dir, "--no-ml", "--jobs", "1")
    _, two, _ = scan_json(project.root, index_dir, "--no-ml", "--jobs", "2")
    assert len({f["path"] for f in one["findings"]}) == len(files)
    assert not any(f["chunk"]["kind"] == "file" for f in one["findings"])  # all matched by chunks
    assert all(f["origin"]["path"] != f["path"] for f in one["findings"])  # never its own copy
    assert two["findings"] == one["findings"]
    assert two["stats"]["own_copies_set_aside"] == one["stats"]["own_copies_set_aside"] == len(files)
