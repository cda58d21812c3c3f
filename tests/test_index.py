"""The reference index through the real CLI: incremental re-adds, removal, listing, boilerplate,
atomicity under SIGKILL, and fingerprints that do not depend on the Python process."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import FUNCTION_FILES, LEVENSHTEIN, MERGE_INTERVALS, REFERENCE_FILES, TOPO_SORT

from codeguard.engine.indexing import add_source
from codeguard.errors import IndexUnavailable
from codeguard.index.store import IndexStore

DFS_ORDER = '''\
def dfs_order(graph, root):
    """Nodes reachable from root in depth-first preorder, without recursion."""
    seen = set()
    stack = [root]
    order = []
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        order.append(node)
        children = list(graph.get(node, ()))
        children.reverse()
        for child in children:
            if child not in seen:
                stack.append(child)
    return order
'''


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Findings keyed by the name of the copied (scanned) chunk."""
    return {f["chunk"]["name"]: f for f in report["findings"]}


def write_copies(root: Path, **functions: str) -> Path:
    """A project that copied each function into a file of its own (copy_NAME.py)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in functions.items():
        (root / f"copy_{name}.py").write_text(f"import os\n\nCONSTANT = 3\n\n\n{text}")
    return root


def list_json(run_cli: Any, index: Path) -> dict[str, Any]:
    code, out, err = run_cli("index", "list", "--index", index, "--json")
    assert code == 0, err
    return json.loads(out)


ALL_COPIES = {"merge_intervals": MERGE_INTERVALS, "levenshtein": LEVENSHTEIN, "topo_sort": TOPO_SORT}


@pytest.fixture
def indexed(reference_corpus: Any, index_dir: Path, add_json: Any) -> Any:
    """The reference corpus added as source "ref" (MIT)."""
    summary = add_json(reference_corpus.root, index_dir, "--name", "ref", "--license", "MIT")
    assert summary["added"] == len(REFERENCE_FILES)
    return reference_corpus


def test_readding_unchanged_content_changes_nothing(
    indexed: Any, index_dir: Path, add_json: Any, run_cli: Any
) -> None:
    before = list_json(run_cli, index_dir)["stats"]
    summary = add_json(indexed.root, index_dir, "--name", "ref")
    assert (summary["added"], summary["updated"], summary["removed"]) == (0, 0, 0)
    assert summary["unchanged"] == len(REFERENCE_FILES)
    assert summary["chunks"] == 0
    after = list_json(run_cli, index_dir)
    assert after["stats"] == before
    assert after["stats"]["fingerprints"] > 0
    # The license given the first time is kept when a re-add does not repeat it.
    assert after["sources"][0]["license"] == "MIT"


def _file_ids(index: Path) -> dict[str, int]:
    with sqlite3.connect(index / "index.db") as conn:
        rows = conn.execute("SELECT path, id FROM files").fetchall()
    conn.close()
    return dict(rows)


def _fresh_stats(root: Path, where: Path, add_json: Any, run_cli: Any) -> dict[str, int]:
    add_json(root, where, "--name", "ref")
    return list_json(run_cli, where)["stats"]


def test_modifying_one_file_updates_only_it(
    indexed: Any, index_dir: Path, tmp_path: Path, add_json: Any, run_cli: Any, scan_json: Any
) -> None:
    ids = _file_ids(index_dir)
    (indexed.root / FUNCTION_FILES["topo_sort"]).write_text(DFS_ORDER)
    summary = add_json(indexed.root, index_dir, "--name", "ref")
    assert (summary["added"], summary["updated"], summary["unchanged"], summary["removed"]) == (0, 1, 2, 0)
    new_ids = _file_ids(index_dir)
    assert set(new_ids) == set(ids)
    for path in ids:
        assert (new_ids[path] == ids[path]) == (path != FUNCTION_FILES["topo_sort"]), path
    # The incremental index holds exactly what a fresh index of the same tree holds.
    assert list_json(run_cli, index_dir)["stats"] == _fresh_stats(
        indexed.root, tmp_path / "fresh", add_json, run_cli
    )

    project = write_copies(tmp_path / "project", **ALL_COPIES, dfs_order=DFS_ORDER)
    code, report, _ = scan_json(project, index_dir)
    assert set(by_name(report)) == {"merge_intervals", "levenshtein", "dfs_order"}
    assert by_name(report)["dfs_order"]["origin"]["path"] == "graph.py"


def test_deleting_a_file_removes_it_and_its_findings(
    indexed: Any, index_dir: Path, tmp_path: Path, add_json: Any, run_cli: Any, scan_json: Any
) -> None:
    project = write_copies(tmp_path / "project", **ALL_COPIES)
    code, report, _ = scan_json(project, index_dir)
    assert code == 1
    assert set(by_name(report)) == set(ALL_COPIES)

    (indexed.root / FUNCTION_FILES["levenshtein"]).unlink()
    summary = add_json(indexed.root, index_dir, "--name", "ref")
    assert (summary["added"], summary["updated"], summary["unchanged"], summary["removed"]) == (0, 0, 2, 1)
    listing = list_json(run_cli, index_dir)
    assert listing["sources"][0]["files"] == 2
    assert listing["stats"] == _fresh_stats(indexed.root, tmp_path / "fresh", add_json, run_cli)

    code, report, _ = scan_json(project, index_dir)
    assert code == 1
    assert set(by_name(report)) == {"merge_intervals", "topo_sort"}
    assert all(f["origin"]["path"] != FUNCTION_FILES["levenshtein"] for f in report["findings"])


def test_removed_source_is_no_longer_found(
    indexed: Any, index_dir: Path, tmp_path: Path, run_cli: Any, scan_json: Any
) -> None:
    project = write_copies(tmp_path / "project", **ALL_COPIES)
    assert scan_json(project, index_dir)[0] == 1

    code, out, err = run_cli("index", "remove", "ref", "--index", index_dir)
    assert code == 0, err
    assert f"removed ref ({len(REFERENCE_FILES)} files)" in out

    code, report, _ = scan_json(project, index_dir)
    assert code == 0
    assert report["findings"] == []
    listing = list_json(run_cli, index_dir)
    assert listing["sources"] == []
    assert listing["stats"] == {
        "sources": 0,
        "files": 0,
        "chunks": 0,
        "fingerprints": 0,
        "common_fingerprints": 0,
    }


def test_removing_an_unknown_source_exits_2_listing_the_known_ones(
    indexed: Any, index_dir: Path, run_cli: Any
) -> None:
    code, out, err = run_cli("index", "remove", "nope", "--index", index_dir)
    assert code == 2
    assert "'nope'" in err and "ref" in err
    assert "Traceback" not in err
    assert list_json(run_cli, index_dir)["stats"]["files"] == len(REFERENCE_FILES)


def test_index_list_json(indexed: Any, index_dir: Path, run_cli: Any) -> None:
    listing = list_json(run_cli, index_dir)
    assert listing["index"] == str(index_dir)
    [src] = listing["sources"]
    updated_at = src.pop("updated_at")
    assert time.strptime(updated_at[:19], "%Y-%m-%dT%H:%M:%S")
    assert src == {
        "name": "ref",
        "kind": "dir",
        "location": str(indexed.root.resolve()),
        "revision": None,
        "commit": None,
        "license": "MIT",
        "boilerplate": False,
        "files": 3,
        "chunks": src["chunks"],
        "vectors": listing["embeddings"]["vectors"],  # 0 unless a semantic model ships
    }
    # merge_intervals, levenshtein, similarity, topo_sort and maybe windows over top-level code
    assert src["chunks"] >= 4
    stats = listing["stats"]
    assert (stats["sources"], stats["files"], stats["chunks"]) == (1, 3, src["chunks"])
    assert stats["fingerprints"] > 0


def test_boilerplate_source_is_never_reported(
    indexed: Any,
    index_dir: Path,
    tmp_path: Path,
    add_json: Any,
    run_cli: Any,
    scan_json: Any,
    make_corpus: Any,
) -> None:
    project = write_copies(tmp_path / "project", **ALL_COPIES)
    assert set(by_name(scan_json(project, index_dir)[1])) == set(ALL_COPIES)

    # A template every project starts from happens to contain merge_intervals.
    template = make_corpus(
        tmp_path / "template", {"skeleton/helpers.py": "import sys\n\n\n" + MERGE_INTERVALS}
    )
    summary = add_json(template.root, index_dir, "--name", "template", "--boilerplate")
    assert summary["added"] == 1
    [bp] = [s for s in list_json(run_cli, index_dir)["sources"] if s["name"] == "template"]
    assert bp["boilerplate"] is True

    code, report, _ = scan_json(project, index_dir)
    assert code == 1
    assert set(by_name(report)) == {"levenshtein", "topo_sort"}
    origins = {p["source"] for f in report["findings"] for p in [f["origin"], *f["also_in"]]}
    assert origins == {"ref"}
    # A project that is the template itself: nothing to report.
    code, report, _ = scan_json(template.root, index_dir)
    assert (code, report["findings"]) == (0, [])
    # Re-adding it without the flag keeps it boilerplate; --no-boilerplate turns it off.
    add_json(template.root, index_dir, "--name", "template")
    assert [
        s["boilerplate"] for s in list_json(run_cli, index_dir)["sources"] if s["name"] == "template"
    ] == [True]
    add_json(template.root, index_dir, "--name", "template", "--no-boilerplate")
    assert [
        s["boilerplate"] for s in list_json(run_cli, index_dir)["sources"] if s["name"] == "template"
    ] == [False]
    add_json(template.root, index_dir, "--name", "template", "--boilerplate")

    # Without the boilerplate source, its code is reported again.
    assert run_cli("index", "remove", "template", "--index", index_dir)[0] == 0
    assert set(by_name(scan_json(project, index_dir)[1])) == set(ALL_COPIES)


# -- atomicity -----------------------------------------------------------------------------------

_TEMPLATES = [
    """\
def accumulate_{i}(rows, key, limit={i}):
    totals = {{}}
    for row in rows:
        name = row.get(key)
        if name is None:
            continue
        bucket = totals.setdefault(name, [])
        bucket.append(row["value"] * {i})
        if len(bucket) > limit:
            bucket.pop(0)
    return {{name: sum(values) / len(values) for name, values in totals.items() if values}}
""",
    """\
class Cache{i}:
    def __init__(self, capacity={i}):
        self.capacity = capacity
        self.items = {{}}
        self.order = []

    def get(self, key, default=None):
        if key not in self.items:
            return default
        self.order.remove(key)
        self.order.append(key)
        return self.items[key]

    def put(self, key, value):
        if key in self.items:
            self.order.remove(key)
        elif len(self.items) >= self.capacity:
            del self.items[self.order.pop(0)]
        self.items[key] = value
        self.order.append(key)
""",
    """\
def parse_line_{i}(line, sep=",", quote='"'):
    fields, current, quoted = [], [], False
    for ch in line.rstrip("\\n"):
        if ch == quote:
            quoted = not quoted
        elif ch == sep and not quoted:
            fields.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    fields.append("".join(current).strip())
    while len(fields) < {i} % 7:
        fields.append("")
    return fields
""",
]


def _write_large_corpus(root: Path, n_files: int, per_template: int = 4) -> None:
    root.mkdir(parents=True)
    for i in range(n_files):
        parts = [
            t.format(i=(i * per_template + j) * 10 + k)
            for j in range(per_template)
            for k, t in enumerate(_TEMPLATES)
        ]
        body = "\n\n".join(parts)
        (root / f"mod_{i:04d}.py").write_text(f'"""Generated module {i}."""\n\n\n{body}')


def _wal_bytes(db: Path) -> int:
    try:
        return db.with_name(db.name + "-wal").stat().st_size
    except FileNotFoundError:
        return 0


def _write_locked(db: Path) -> bool:
    """Whether another connection holds the write lock (is inside its transaction)."""
    conn = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc) or "busy" in str(exc), exc
        return True
    finally:
        conn.close()


def test_killed_index_add_leaves_the_previous_index_intact(
    indexed: Any, index_dir: Path, tmp_path: Path, run_cli: Any, scan_json: Any
) -> None:
    before = list_json(run_cli, index_dir)
    db = index_dir / "index.db"
    large = tmp_path / "large"
    _write_large_corpus(large, 600)  # about 7 MB of index, more than SQLite's page cache
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "codeguard",
            "index",
            "add",
            str(large),
            "--name",
            "large",
            "--index",
            str(index_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its worker processes die with it
    )
    try:
        # Kill it inside its transaction once uncommitted pages have spilled into the WAL file:
        # the case where only the commit protocol keeps them out of the index.
        deadline = time.monotonic() + 60
        while not (_wal_bytes(db) > 1_000_000 and _write_locked(db)):
            assert proc.poll() is None, f"index add ended before it was killed: {proc.stderr.read()!r}"
            assert time.monotonic() < deadline, "index add never wrote its transaction"
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert _wal_bytes(db) > 1_000_000  # the dead transaction's pages are still on disk

    after = list_json(run_cli, index_dir)
    assert after["sources"] == before["sources"]
    assert [(s["name"], s["files"]) for s in after["sources"]] == [("ref", 3)]
    assert after["stats"] == before["stats"]
    project = write_copies(tmp_path / "project", **ALL_COPIES)
    code, report, err = scan_json(project, index_dir)
    assert code == 1
    assert set(by_name(report)) == set(ALL_COPIES)
    assert {f["origin"]["source"] for f in report["findings"]} == {"ref"}
    # The lock died with the process: the index takes changes again.
    code, out, err = run_cli("index", "remove", "ref", "--index", index_dir)
    assert code == 0, err


# -- fingerprint stability -----------------------------------------------------------------------

_FINGERPRINT_SCRIPT = """
import json, sys
from pathlib import Path
from codeguard.engine.analyze import analyze
a = analyze("f.py", Path(sys.argv[1]).read_bytes(), "python")
print(json.dumps({"hashes": a.hashes.tolist(), "positions": a.positions.tolist(),
                  "probe": hash("codeguard")}))
"""


def test_fingerprints_do_not_depend_on_the_python_hash_seed(reference_corpus: Any) -> None:
    path = reference_corpus.root / "text" / "distance.py"
    runs = []
    for seed in ("1", "4242"):
        env = os.environ | {"PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", _FINGERPRINT_SCRIPT, str(path)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        runs.append(json.loads(out.stdout))
    first, second = runs
    assert first["probe"] != second["probe"]  # the seeds took effect: str hashes differ
    assert len(first["hashes"]) > 5
    assert first["hashes"] == second["hashes"]
    assert first["positions"] == second["positions"]


def test_index_held_by_another_writer_is_reported_busy(indexed: Any, index_dir: Path, tmp_path: Path) -> None:
    other = sqlite3.connect(index_dir / "index.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another `index add` in progress
    store = IndexStore.open(index_dir)
    store.conn.execute("PRAGMA busy_timeout = 50")  # instead of waiting 30 s for it
    try:
        with pytest.raises(IndexUnavailable, match="busy"):
            add_source(store, str(indexed.root), name="again")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert [s.name for s in store.sources()] == ["ref"]
    store.close()


def _add(run_cli: Any, source: Path, index: Path, *extra: str) -> tuple[dict[str, Any], str]:
    code, out, err = run_cli("index", "add", source, "--index", index, "--json", "--no-ml", *extra)
    assert code == 0, err
    return json.loads(out), err


def test_index_add_warns_when_the_source_license_is_unknown(
    reference_corpus: Any, index_dir: Path, tmp_path: Path, run_cli: Any, scan_json: Any
) -> None:
    """No --license and nothing detected: said at index time, with the way to give it, not only
    by the scan's CG-LIC-007 warnings later."""
    summary, err = _add(run_cli, reference_corpus.root, index_dir, "--name", "ref")
    assert summary["license"] is None and summary["unknown_licenses"] == ["unknown"]
    assert "warning: source 'ref': no license found" in err
    assert f"codeguard index add {reference_corpus.root} --name ref --license SPDX-ID" in err
    project = write_copies(tmp_path / "project", merge_intervals=MERGE_INTERVALS)
    (project / "LICENSE").write_text("MIT License\n\nPermission is hereby granted, free of charge\n")
    _, report, _ = scan_json(project, index_dir)
    assert [f["policy"]["rule_id"] for f in report["findings"]] == ["CG-LIC-007"]

    # given once: no warning then, nor on a re-add that does not repeat it
    summary, err = _add(run_cli, reference_corpus.root, index_dir, "--name", "ref", "--license", "MIT")
    assert summary["license"] == "MIT" and "warning" not in err
    summary, err = _add(run_cli, reference_corpus.root, index_dir, "--name", "ref")
    assert summary["license"] == "MIT" and "warning" not in err


def test_index_add_warns_when_the_detected_license_is_not_a_known_one(
    reference_corpus: Any, index_dir: Path, run_cli: Any
) -> None:
    (reference_corpus.root / "LICENSE").write_text(
        "This library is licensed under the Foo Public License 3.7.\n"
    )
    summary, err = _add(run_cli, reference_corpus.root, index_dir, "--name", "foo")
    assert summary["license"] == "LicenseRef-scancode-unknown-license-reference"
    assert "source 'foo': the detected license LicenseRef-scancode-unknown-license-reference is not" in err
    assert "--license SPDX-ID" in err
    # the text summary warns too (after its line)
    code, out, err = run_cli(
        "index", "add", reference_corpus.root, "--index", index_dir, "--name", "foo", "--no-ml"
    )
    assert code == 0 and "foo:" in out and "warning: source 'foo'" in err


def test_index_add_does_not_warn_when_the_license_is_detected_or_in_every_header(
    reference_corpus: Any, index_dir: Path, run_cli: Any
) -> None:
    (reference_corpus.root / "LICENSE").write_text(
        "Copyright 2024 Ada\n\nLicensed under the Apache License, Version 2.0\n"
    )
    summary, err = _add(run_cli, reference_corpus.root, index_dir, "--name", "apache")
    assert summary["license"] == "Apache-2.0" and "warning" not in err
    # no tree license, but every file declares its own: nothing is of unknown license
    (reference_corpus.root / "LICENSE").unlink()
    for rel, text in reference_corpus.files.items():
        (reference_corpus.root / rel).write_text("# SPDX-License-Identifier: BSD-2-Clause\n" + text)
    summary, err = _add(run_cli, reference_corpus.root, index_dir, "--name", "tagged")
    assert summary["license"] is None and summary["files_without_license"] == 0
    assert "warning" not in err


def test_a_loaded_file_reads_its_token_ids_first_and_the_rest_when_asked(
    indexed: Any, index_dir: Path
) -> None:
    """load_file decompresses only the normalized token ids (all that aligning reads); the other
    arrays, read later, are those stored; a stored blob shorter than its tokens is a corrupt index."""
    import zlib

    import numpy as np

    from codeguard.index.store import unpack_token_ids, unpack_tokens

    store = IndexStore.open(index_dir)
    try:
        fid, blob, n = store.conn.execute("SELECT id, tokens, n_tokens FROM files LIMIT 1").fetchone()
        ref = store.load_file(fid)
        tokens, starts, ends, raw, flags = unpack_tokens(blob)
        assert len(ref.tokens) == n and np.array_equal(ref.tokens, tokens)
        for got, want in ((ref.starts, starts), (ref.ends, ends), (ref.raw, raw), (ref.flags, flags)):
            assert np.array_equal(got, want)
        assert [(c.start_tok, c.end_tok) for c in ref.chunks] == [(r[2], r[3]) for r in ref.chunk_rows]
        with pytest.raises(zlib.error):
            unpack_token_ids(blob, 5 * n + 1)
    finally:
        store.close()
