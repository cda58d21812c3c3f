"""Bad input in a scanned tree, in an indexed tree, and user mistakes, through the real CLI.

Every file that cannot be read is listed in the report's "skipped" with a reason; text in another
encoding or with syntax errors is still scanned (with a note) and copies inside it are found; a
user mistake exits 2 or 4 with a message and never prints a traceback.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import LEVENSHTEIN, MERGE_INTERVALS, TOPO_SORT

from codeguard.fingerprint.winnow import K

TEN_MB = 10 * 1024 * 1024

# Each bad file of the tree -> a word its skip reason must contain.
EXPECTED_SKIPS = {
    "binary.py": "binary",
    "garbage.py": "undecodable",
    "empty.py": "empty",
    "only_comments.py": "no code",
    "loop_a.py": "looping symlink",
    "loop_b.py": "looping symlink",
    "dangling.py": "broken or looping symlink",
    "sub/up": "symlink to a directory",
    "pipe.py": "not a regular file",
    "device.py": "outside the scanned tree",  # a link to /dev/zero
    "bundle.min.js": "larger than",
    "app.min.js": "minified",
}
# Files that are scanned, with the note they must carry and the function copied into them.
EXPECTED_NOTES = {
    "latin1.py": ("decoded from latin", "merge_intervals"),
    "utf16.py": ("decoded from UTF-16", "levenshtein"),
    "stray_bytes.py": ("decoded from", "topo_sort"),
    "syntax_error.py": ("syntax errors", "topo_sort"),
}


def write_bad_tree(root: Path) -> Path:
    """A tree with one file of every kind of bad input, and copies inside the decodable ones."""
    root.mkdir(parents=True)
    (root / "binary.py").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8)
    rng = random.Random(7)
    (root / "garbage.py").write_bytes(bytes(rng.randrange(0x80, 0x100) for _ in range(4000)))
    latin1 = (
        "# -*- coding: latin-1 -*-\n# Auteur : François Lévêque, été à Montréal\n"
        'GREETING = "Grüße aus Köln"\n\n\n' + MERGE_INTERVALS
    ).encode("latin-1")
    with pytest.raises(UnicodeDecodeError):
        latin1.decode("utf-8")
    (root / "latin1.py").write_bytes(latin1)
    utf16 = ("# Übersetzung: Größe\n\n" + LEVENSHTEIN).encode("utf-16")
    assert utf16[:2] in (b"\xff\xfe", b"\xfe\xff")  # with a BOM
    (root / "utf16.py").write_bytes(utf16)
    # Mostly UTF-8, with a truncated sequence, an encoded surrogate and a lone 0xff.
    (root / "stray_bytes.py").write_bytes(
        "# café\n".encode() + b"# bad: \xc3\x28 \xed\xa0\x80 \xff\n\n" + TOPO_SORT.encode()
    )
    (root / "syntax_error.py").write_text(
        "def broken(:\n    return )\n\n\n" + TOPO_SORT + "\n\nclass Unclosed(\n", encoding="utf-8"
    )
    (root / "empty.py").write_bytes(b"")
    (root / "only_comments.py").write_text("# nothing but a comment\n\n# and another\n")
    os.symlink("loop_b.py", root / "loop_a.py")
    os.symlink("loop_a.py", root / "loop_b.py")
    os.symlink("does_not_exist.py", root / "dangling.py")
    (root / "sub").mkdir()
    os.symlink("..", root / "sub" / "up")  # a directory loop
    os.mkfifo(root / "pipe.py")
    os.symlink("/dev/zero", root / "device.py")
    # 10 MB of minified JavaScript on one line (over the default 2 MB limit) and a smaller one.
    unit = b"function f(a,b){return a.map(function(x){return x*b+1}).filter(Boolean)};"
    (root / "bundle.min.js").write_bytes(b"var a=1;" + unit * (TEN_MB // len(unit)))
    (root / "app.min.js").write_bytes(b"var a=1;" + unit * 4000)
    return root


def no_traceback(err: str) -> None:
    assert "Traceback" not in err, err
    assert "internal error" not in err, err


def by_name(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(f["path"], f["chunk"]["name"]): f for f in report["findings"]}


@pytest.fixture(scope="module")
def ref_index(
    tmp_path_factory: pytest.TempPathFactory, make_corpus: Callable[..., Any], add_json: Any
) -> Path:
    """An index holding the reference corpus as source "ref"."""
    base = tmp_path_factory.mktemp("ref")
    corpus = make_corpus(base / "corpus")
    add_json(corpus.root, base / "index", "--name", "ref")
    return base / "index"


@pytest.fixture(scope="module")
def bad_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_bad_tree(tmp_path_factory.mktemp("bad") / "tree")


@pytest.fixture(scope="module")
def bad_scan(bad_tree: Path, ref_index: Path, scan_json: Any) -> tuple[int, dict[str, Any], str]:
    return scan_json(bad_tree, ref_index)


# -- a scanned tree ------------------------------------------------------------------------------


def test_scan_lists_every_bad_file_as_skipped_with_its_reason(bad_scan: Any) -> None:
    code, report, err = bad_scan
    no_traceback(err)
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    assert set(skipped) == set(EXPECTED_SKIPS)
    for path, word in EXPECTED_SKIPS.items():
        assert word in skipped[path], (path, skipped[path])
    assert report["stats"]["files_skipped"] == len(EXPECTED_SKIPS)


def test_scan_reads_other_encodings_and_broken_syntax_with_a_note(bad_scan: Any) -> None:
    code, report, _ = bad_scan
    notes = {n["path"]: n["note"] for n in report["stats"]["notes"]}
    assert set(notes) == set(EXPECTED_NOTES)
    for path, (note, _) in EXPECTED_NOTES.items():
        assert note in notes[path], (path, notes[path])
    assert report["stats"]["files_scanned"] == len(EXPECTED_NOTES)


def test_scan_finds_copies_inside_transcoded_and_broken_files(bad_scan: Any) -> None:
    code, report, _ = bad_scan
    assert code == 1
    found = by_name(report)
    for path, (_, function) in EXPECTED_NOTES.items():
        assert (path, function) in found, (path, sorted(found))
        finding = found[(path, function)]
        assert finding["origin"]["chunk"]["name"] == function
        assert finding["origin"]["source"] == "ref"
    # The copy in the latin-1 file sits after the 5 header lines: lines map to the original file.
    latin = found[("latin1.py", "merge_intervals")]
    assert (latin["start_line"], latin["end_line"]) == (6, 6 + MERGE_INTERVALS.count("\n") - 1)
    assert latin["match_type"] == "exact"


def test_minified_file_within_the_size_limit_is_skipped_as_minified(
    bad_tree: Path, ref_index: Path, scan_json: Any
) -> None:
    code, report, err = scan_json(bad_tree / "bundle.min.js", ref_index, "--max-file-size", str(2 * TEN_MB))
    assert code == 0
    assert report["findings"] == []
    [skip] = report["skipped"]
    assert skip["path"] == "bundle.min.js"
    assert "minified" in skip["reason"]


def test_text_report_of_a_bad_tree_has_no_traceback(bad_tree: Path, ref_index: Path, run_cli: Any) -> None:
    code, out, err = run_cli("scan", bad_tree, "--index", ref_index)
    assert code == 1, err
    no_traceback(err)
    assert "latin1.py" in out


def _blocks_reads(path: Path) -> bool:
    try:
        path.read_bytes()
    except PermissionError:
        return True
    return False


def test_unreadable_file_is_skipped(tmp_path: Path, ref_index: Path, scan_json: Any, add_json: Any) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "ok.py").write_text(TOPO_SORT)
    locked = tree / "locked.py"
    locked.write_text(MERGE_INTERVALS)
    locked.chmod(0)
    try:
        if os.geteuid() == 0 and not _blocks_reads(locked):
            pytest.skip("running as root: chmod 000 does not block reads")
        code, report, err = scan_json(tree, ref_index)
        no_traceback(err)
        assert code == 1
        assert {(s["path"], s["reason"]) for s in report["skipped"]} == {
            ("locked.py", "unreadable: Permission denied")
        }
        assert [f["path"] for f in report["findings"]] == ["ok.py"]
        summary = add_json(tree, tmp_path / "index")
        assert summary["added"] == 1
        assert summary["skipped"] == [{"path": "locked.py", "reason": "unreadable: Permission denied"}]
    finally:
        locked.chmod(0o644)


# -- an indexed tree -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bad_index(
    tmp_path_factory: pytest.TempPathFactory, bad_tree: Path, add_json: Any
) -> tuple[Path, dict[str, Any]]:
    index = tmp_path_factory.mktemp("bad-index") / "index"
    return index, add_json(bad_tree, index, "--name", "bad")


def test_index_add_lists_every_bad_file_as_skipped_with_its_reason(bad_index: Any) -> None:
    _, summary = bad_index
    skipped = {s["path"]: s["reason"] for s in summary["skipped"]}
    assert set(skipped) == set(EXPECTED_SKIPS)
    for path, word in EXPECTED_SKIPS.items():
        assert word in skipped[path], (path, skipped[path])
    assert summary["added"] == len(EXPECTED_NOTES)
    notes = {n["path"]: n["note"] for n in summary["notes"]}
    assert set(notes) == set(EXPECTED_NOTES)
    for path, (note, _) in EXPECTED_NOTES.items():
        assert note in notes[path], (path, notes[path])


def test_index_add_says_what_its_notes_are(tmp_path: Path, run_cli: Any) -> None:
    """The text summary of `index add` counts its notes by kind: a data table whose repeated
    code was left out is not "re-encoded or syntax errors" (what it said for all of rich's)."""
    tree = tmp_path / "tree"
    tree.mkdir()
    rows = "\n".join(f"    (0x{i:X}, 'M', 'x{i}')," for i in range(400))
    (tree / "table.py").write_text("def table():\n    return [\n" + rows + "\n    ]\n")
    (tree / "latin1.py").write_bytes(("# Auteur : François\n\n\n" + MERGE_INTERVALS).encode("latin-1"))
    (tree / "broken.py").write_text("def broken(:\n    return )\n\n\n" + TOPO_SORT)
    (tree / "plain.py").write_text(LEVENSHTEIN)
    code, out, err = run_cli(
        "index", "add", tree, "--index", tmp_path / "index", "--license", "MIT", "--no-ml"
    )
    assert code == 0, err
    assert (
        "  3 file(s) indexed with notes: 1 re-encoded, 1 with repeated code left out (a data table?), "
        "1 with syntax errors (--json lists them)"
    ) in err
    assert "re-encoded or syntax errors" not in err


def test_copies_of_code_indexed_from_bad_files_are_found(
    bad_index: Any, tmp_path: Path, scan_json: Any
) -> None:
    index, _ = bad_index
    tree = tmp_path / "clean"
    tree.mkdir()
    (tree / "a.py").write_text(MERGE_INTERVALS)
    (tree / "b.py").write_text(LEVENSHTEIN)
    (tree / "c.py").write_text(TOPO_SORT)
    code, report, err = scan_json(tree, index)
    assert code == 1
    found = by_name(report)
    assert set(found) == {("a.py", "merge_intervals"), ("b.py", "levenshtein"), ("c.py", "topo_sort")}
    assert found[("a.py", "merge_intervals")]["origin"]["path"] == "latin1.py"
    assert found[("b.py", "levenshtein")]["origin"]["path"] == "utf16.py"
    topo = found[("c.py", "topo_sort")]
    assert {topo["origin"]["path"]} | {p["path"] for p in topo["also_in"]} == {
        "stray_bytes.py",
        "syntax_error.py",
    }
    # Line numbers point into the file as it is on disk (UTF-16: after a 2-line header).
    lev = found[("b.py", "levenshtein")]["origin"]
    assert lev["start_line"] == 3


# -- user mistakes -------------------------------------------------------------------------------


def test_missing_scan_path_exits_2(ref_index: Path, tmp_path: Path, run_cli: Any) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    code, out, err = run_cli("scan", missing, "--index", ref_index)
    assert code == 2
    assert "No such file or directory" in err and str(missing) in err
    no_traceback(err)


def test_missing_source_path_exits_2(tmp_path: Path, run_cli: Any) -> None:
    missing = tmp_path / "gone"
    code, out, err = run_cli("index", "add", missing, "--index", tmp_path / "index")
    assert code == 2
    assert str(missing) in err
    no_traceback(err)


def _copy_index(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def test_index_overwritten_with_garbage_exits_4(ref_index: Path, tmp_path: Path, run_cli: Any) -> None:
    index = _copy_index(ref_index, tmp_path / "index")
    (index / "index.db").write_bytes(random.Random(3).randbytes(64 * 1024))
    for extra in ("index.db-wal", "index.db-shm"):
        (index / extra).unlink(missing_ok=True)
    for args in (["scan", tmp_path], ["index", "list"], ["index", "add", tmp_path]):
        code, out, err = run_cli(*args, "--index", index)
        assert code == 4, (args, err)
        assert "corrupt" in err and str(index) in err
        no_traceback(err)


def test_index_with_damaged_pages_exits_4(
    tmp_path: Path, run_cli: Any, make_corpus: Any, add_json: Any
) -> None:
    """The header and manifest survive, the data pages do not: found when they are read."""
    corpus = make_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    add_json(corpus.root, index)
    db = index / "index.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(db.read_bytes())
    keep = 2 * page_size  # sqlite_master and the meta table
    assert len(data) > keep + page_size
    data[keep:] = random.Random(5).randbytes(len(data) - keep)
    db.write_bytes(bytes(data))
    for args in (["scan", corpus.root], ["index", "list"], ["index", "remove", "corpus"]):
        code, out, err = run_cli(*args, "--index", index)
        assert code == 4, (args, out, err)
        assert "corrupt" in err
        no_traceback(err)


def test_foreign_directory_as_index_exits_4_and_is_left_alone(tmp_path: Path, run_cli: Any) -> None:
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.txt").write_text("not an index")
    for args in (["scan", tmp_path], ["index", "list"], ["index", "add", tmp_path]):
        code, out, err = run_cli(*args, "--index", foreign)
        assert code == 4, (args, err)
        assert "not a codeguard index" in err
        no_traceback(err)
    assert sorted(p.name for p in foreign.iterdir()) == ["holiday.txt"]


def test_foreign_sqlite_database_as_index_exits_4(tmp_path: Path, run_cli: Any) -> None:
    foreign = tmp_path / "app"
    foreign.mkdir()
    with sqlite3.connect(foreign / "index.db") as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.close()
    code, out, err = run_cli("scan", tmp_path, "--index", foreign)
    assert code == 4
    assert "not a codeguard index" in err
    no_traceback(err)


def test_index_built_with_other_parameters_exits_4_naming_them(
    ref_index: Path, tmp_path: Path, run_cli: Any
) -> None:
    index = _copy_index(ref_index, tmp_path / "index")
    with sqlite3.connect(index / "index.db") as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'k'", (json.dumps(K + 2),))
    conn.close()
    for args in (["scan", tmp_path], ["index", "add", tmp_path]):
        code, out, err = run_cli(*args, "--index", index)
        assert code == 4, (args, err)
        assert f"k={K + 2}" in err and str(K) in err
        no_traceback(err)


def test_index_with_a_damaged_manifest_exits_4(ref_index: Path, tmp_path: Path, run_cli: Any) -> None:
    index = _copy_index(ref_index, tmp_path / "index")
    with sqlite3.connect(index / "index.db") as conn:
        conn.execute("UPDATE meta SET value = 'fifteen' WHERE key = 'k'")  # not JSON
    conn.close()
    code, out, err = run_cli("scan", tmp_path, "--index", index)
    assert code == 4
    assert "damaged manifest" in err
    no_traceback(err)


def test_index_that_cannot_be_created_exits_2(tmp_path: Path, reference_corpus: Any, run_cli: Any) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, out, err = run_cli("index", "add", reference_corpus.root, "--index", blocker / "index")
    assert code == 2
    assert f"Cannot create an index at {blocker / 'index'}" in err
    no_traceback(err)


def test_unknown_git_revision_exits_2_naming_it(
    tmp_path: Path, run_cli: Any, make_repo: Any, git_cmd: Any
) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "graph.py").write_text(TOPO_SORT)
    git_cmd(repo, "add", ".")
    git_cmd(repo, "commit", "-q", "-m", "one")
    index = tmp_path / "index"
    # The null SHA is what hooks pass for "no commit"; gitpython resolves it without a lookup.
    for rev in ("no-such-tag", "main~7", "0123456789abcdef0123456789abcdef01234567", "0" * 40):
        code, out, err = run_cli("index", "add", f"{repo}@{rev}", "--index", index)
        assert code == 2, (rev, err)
        assert f"Unknown revision {rev!r}" in err
        no_traceback(err)


def test_revision_of_a_directory_outside_git_exits_2(
    tmp_path: Path, run_cli: Any, reference_corpus: Any
) -> None:
    code, out, err = run_cli("index", "add", f"{reference_corpus.root}@v1", "--index", tmp_path / "index")
    assert code == 2
    assert "not a git repository" in err
    no_traceback(err)


def test_nonexistent_git_url_exits_2(tmp_path: Path, run_cli: Any) -> None:
    url = (tmp_path / "nowhere" / "project.git").as_uri()
    for source in (url, f"{url}@main"):
        code, out, err = run_cli("index", "add", source, "--index", tmp_path / "index")
        assert code == 2, (source, err)
        assert f"Cannot clone {url}" in err
        assert "does not appear to be a git repository" in err
        no_traceback(err)


def test_invalid_exclude_pattern_exits_2(ref_index: Path, reference_corpus: Any, run_cli: Any) -> None:
    code, out, err = run_cli("scan", reference_corpus.root, "--index", ref_index, "--exclude", "[z-a].py")
    assert code == 2
    assert "Invalid --exclude pattern '[z-a].py'" in err
    no_traceback(err)


def test_malformed_gitignore_line_is_ignored_like_git_does(
    tmp_path: Path, ref_index: Path, scan_json: Any
) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / ".gitignore").write_text("**/[z-a]\nvendored.py\n")
    (tree / "vendored.py").write_text(MERGE_INTERVALS)
    (tree / "mine.py").write_text(TOPO_SORT)
    code, report, err = scan_json(tree, ref_index)
    assert code == 1
    assert [(f["path"], f["chunk"]["name"]) for f in report["findings"]] == [("mine.py", "topo_sort")]
