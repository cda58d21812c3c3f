"""Whole-file identity as evidence: files identical to an indexed one (byte for byte, up to
whitespace, up to a few lines) are one finding each, also when they are not chunked; trivial
files are none. Real files, a real index, the real CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import LEVENSHTEIN, REFERENCE_FILES, SIMILARITY

from codeguard.fingerprint.wholefile import whole_file
from codeguard.verdict.wholefile import BYTES, LINES, WHITESPACE, FileMatch, probability


def data_table(rows: int, name: str = "TABLE") -> str:
    """A Python data table like idna's uts46data.py: one distinct tuple per line."""
    body = "\n".join(f"    (0x{i:04X}, 'M', 'u{i:04x}')," for i in range(rows))
    return f'"""Generated tables."""\n\n{name} = [\n{body}\n]\n'


def long_lined_table(rows: int) -> str:
    """A data table written on a few very long lines: skipped from chunking as minified."""
    values = ", ".join(str(i * 7919 % 100_003) for i in range(rows))
    return f"import sys\n\nVALUES = [{values}]\nOTHER = [{values[::-1]}]\n"


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return root


def scan(scan_json: Any, project: Path, index: Path, *extra: str) -> dict[str, Any]:
    return scan_json(project, index, "--no-ml", *extra)[1]


def by_path(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for f in report["findings"]:
        out.setdefault(f["path"], []).append(f)
    return out


@pytest.fixture
def add(add_json: Any, index_dir: Path) -> Any:
    def run(root: Path, name: str, *extra: str) -> dict[str, Any]:
        return dict(add_json(root, index_dir, "--name", name, "--license", "MIT", "--no-ml", *extra))

    return run


def test_byte_identical_table_that_is_not_chunked_is_one_exact_finding(
    tmp_path: Path, add: Any, scan_json: Any, index_dir: Path
) -> None:
    table = long_lined_table(6000)
    summary = add(write(tmp_path / "up", {"pkg/table.py": table}), "up")
    assert [s["reason"][:8] for s in summary["skipped"]] == ["minified"]
    assert summary["hashed_only"] == 1 and summary["chunks"] == 0
    project = write(tmp_path / "project", {"vendor/table.py": table})
    report = scan(scan_json, project, index_dir)
    [f] = report["findings"]
    assert (f["path"], f["start_line"], f["end_line"]) == ("vendor/table.py", 1, 4)
    assert (f["match_type"], f["channel"], f["chunk"]["kind"]) == ("exact", "identical", "file")
    assert f["probability"] >= 0.9 and f["level"] == "note"  # MIT into an unlicensed project
    assert (f["origin"]["source"], f["origin"]["path"], f["origin"]["license"]) == (
        "up",
        "pkg/table.py",
        "MIT",
    )
    assert (f["origin"]["start_line"], f["origin"]["end_line"]) == (1, 4)
    assert [s["path"] for s in report["skipped"]] == ["vendor/table.py"]  # still listed as not chunked


def test_a_chunked_identical_file_is_one_finding_not_one_per_chunk(
    tmp_path: Path, add: Any, scan_json: Any, index_dir: Path, make_corpus: Any
) -> None:
    corpus = make_corpus(tmp_path / "corpus")
    add(corpus.root, "ref")
    project = write(tmp_path / "project", {"lib/distance.py": REFERENCE_FILES["text/distance.py"]})
    [f] = scan(scan_json, project, index_dir)["findings"]
    assert (f["match_type"], f["chunk"]["name"], f["origin"]["path"]) == (
        "exact",
        "identical file",
        "text/distance.py",
    )
    assert f["fragments"] == [
        {
            "lines": [1, f["end_line"]],
            "origin_lines": [1, f["end_line"]],
            "tokens": f["longest_fragment_tokens"],
            "exact": True,
        }
    ]
    # The same functions in a file of its own shape are still chunk findings.
    other = write(tmp_path / "other", {"mine.py": "import os\n\n\n" + SIMILARITY + "\n\n" + LEVENSHTEIN})
    names = {f["chunk"]["name"] for f in scan(scan_json, other, index_dir)["findings"]}
    assert names == {"levenshtein", "similarity"}


def test_whitespace_only_edit_is_found_and_byte_identity_ranks_first(
    tmp_path: Path, add: Any, scan_json: Any, index_dir: Path
) -> None:
    table = data_table(400)
    reformatted = table.replace("\n", "\r\n").replace("    (", "\t(").replace(", 'M'", ",  'M'")
    add(write(tmp_path / "a-reformatted", {"t.py": reformatted}), "a-reformatted")
    add(write(tmp_path / "z-upstream", {"t.py": table}), "z-upstream")
    add(write(tmp_path / "zz-copy", {"copy/t.py": table}), "zz-copy")
    add(write(tmp_path / "b-vendored", {"_vendor/t.py": table}), "b-vendored")
    project = write(tmp_path / "project", {"t.py": table, "crlf.py": table.replace("\n", "\r\n")})
    found = by_path(scan(scan_json, project, index_dir))
    [exact] = found["t.py"]
    assert exact["chunk"]["name"] == "identical file"
    assert exact["origin"]["source"] == "z-upstream"
    # Other identical copies follow, byte-identical ones before whitespace-identical ones, and a
    # vendored copy (under _vendor/) after upstream ones, as for chunk findings.
    assert [p["source"] for p in exact["also_in"]] == ["zz-copy", "a-reformatted", "b-vendored"]
    assert exact["also_in"][2]["vendored"] == "_vendor"
    [crlf] = found["crlf.py"]
    assert (crlf["match_type"], crlf["chunk"]["name"]) == ("exact", "identical up to whitespace")
    assert crlf["probability"] < exact["probability"]


def test_generated_file_identical_to_a_reference_is_found_though_not_chunked(
    tmp_path: Path, add: Any, scan_json: Any, index_dir: Path
) -> None:
    generated = "# @generated by protoc-gen-py. DO NOT EDIT.\n" + data_table(300, "DESCRIPTOR")
    summary = add(write(tmp_path / "up", {"gen/desc_pb2.py": generated}), "up")
    assert summary["skipped"][0]["reason"].startswith("generated")
    report = scan(scan_json, write(tmp_path / "p", {"desc_pb2.py": generated}), index_dir)
    [f] = report["findings"]
    assert (f["match_type"], f["origin"]["path"], f["end_line"]) == ("exact", "gen/desc_pb2.py", 305)
    assert report["skipped"][0]["reason"].startswith("generated")


def test_one_rewritten_line_in_a_3k_line_table_is_found_with_the_line_named(
    tmp_path: Path, add: Any, scan_json: Any, index_dir: Path
) -> None:
    upstream = "from . import base\n" + data_table(3000)
    vendored = "from pip._vendor.chardet import base\n" + data_table(3000)
    generated = "# @generated\n" + upstream
    add(write(tmp_path / "up", {"langmodel.py": upstream, "gen.py": generated}), "up")
    edited_generated = generated.replace("(0x0100, 'M', 'u0100')", "(0x0100, 'X', 'changed')")
    project = write(tmp_path / "project", {"langmodel.py": vendored, "gen.py": edited_generated})
    found = by_path(scan(scan_json, project, index_dir))
    [f] = found["langmodel.py"]
    assert (f["match_type"], f["channel"], f["chunk"]["kind"]) == ("modified", "edited", "file")
    assert f["chunk"]["name"] == "identical except line(s) 1"
    assert (f["start_line"], f["end_line"], f["origin"]["path"]) == (1, 3005, "langmodel.py")
    assert f["fragments"] == [{"lines": [2, 3005], "origin_lines": [2, 3005], "tokens": 0, "exact": True}]
    assert f["probability"] >= 0.9
    # A generated (not chunked) file with one line changed is found the same way.
    [g] = found["gen.py"]
    assert g["chunk"]["name"] == "identical except line(s) 262"
    assert g["origin"]["path"] == "gen.py"


def test_empty_and_trivial_files_are_no_findings(
    tmp_path: Path, add: Any, scan_json: Any, index_dir: Path
) -> None:
    stub = '"""Package."""\n\nfrom .core import main\n\n__all__ = ["main"]\n'
    license_only = (
        "# Copyright (c) 2020 Ada\n#\n# Permission is hereby granted, free of charge, to any person\n" * 3
    )
    files: dict[str, str | bytes] = {
        "__init__.py": "",
        "blank/__init__.py": "\n\n",
        "version.py": '__version__ = "2.31.0"\n',
        "notice.py": license_only,
        **{f"pkg{i}/__init__.py": stub for i in range(12)},
    }
    add(write(tmp_path / "up", files), "up")
    project = write(
        tmp_path / "project",
        {
            "a/__init__.py": "",
            "b/__init__.py": stub,
            "c/version.py": files["version.py"],
            "d/notice.py": license_only,
        },
    )
    report = scan(scan_json, project, index_dir)
    assert report["findings"] == []


def test_metadata_only_files_are_no_findings_by_any_path(
    tmp_path: Path, add_json: Any, scan_json: Any, index_dir: Path
) -> None:
    """Version and about files (names assigned literals) say nothing, neither as whole files
    nor as chunks, even indexed under a copyleft license; a real module beside them is found."""
    files: dict[str, str | bytes] = {
        "a/version.py": '__version__ = "1.2.3"\n__version_info__ = (1, 2, 3)\n',
        "b/_version.py": (
            "# file generated by setuptools_scm\n# don't change, don't track in version control\n"
            "__version__ = version = '8.0.4'\n__version_tuple__ = version_tuple = (8, 0, 4)\n"
        ),
        "c/__about__.py": (
            '__title__ = "requests"\n__version__ = "2.31.0"\n__author__ = "Kenneth Reitz"\n'
            '__license__ = "Apache 2.0"\n__copyright__ = "Copyright Kenneth Reitz"\n'
        ),
        "d/__init__.py": '"""The d package.\n\nUtilities for d.\n"""\n\n__version__: str = "0.9.1"\n',
        "e/mod.py": "def wrap(a, b):\n    total = a + b\n    if total > 10:\n        return total - 10\n    return total\n",
    }
    add_json(write(tmp_path / "up", files), index_dir, "--name", "up", "--license", "GPL-3.0-only", "--no-ml")
    project = write(tmp_path / "project", files)
    report = scan(scan_json, project, index_dir)
    assert sorted(f["path"] for f in report["findings"]) == ["e/mod.py"]


def test_whole_file_verdict_rules_are_deterministic() -> None:
    """The rules of codeguard.verdict.wholefile on their edges."""
    big = FileMatch(BYTES, distinct_lines=300, chars=9000, code=True, sharing=1)
    assert probability(big) == pytest.approx(0.99)
    # Shared by many files of the index: a big file is still a copy, a small one is common ground.
    assert probability(FileMatch(BYTES, 300, 9000, True, sharing=40)) == pytest.approx(0.99)
    assert probability(FileMatch(BYTES, 6, 200, True, sharing=40)) == 0.0
    assert probability(FileMatch(BYTES, 1, 70, True, 1)) == 0.0  # one ordinary line
    assert probability(FileMatch(BYTES, 1, 50_000, True, 1)) == pytest.approx(0.99)  # minified
    assert probability(FileMatch(BYTES, 10, 30, True, 1)) == 0.0  # too few characters
    assert probability(FileMatch(BYTES, 300, 9000, False, 1)) == 0.0  # no code: a license text
    assert 0.5 <= probability(FileMatch(BYTES, 3, 120, True, 1)) < 0.9  # tiny but rare: a note
    assert probability(FileMatch(WHITESPACE, 300, 9000, True, 1)) < probability(big)
    assert probability(FileMatch(LINES, 300, 9000, True, 1, line_share=0.999)) >= 0.9
    assert probability(FileMatch(LINES, 300, 9000, True, 1, line_share=0.9)) == 0.0
    # Literal assignments only: metadata up to METADATA_MAX_LINES, a table of constants beyond.
    assert probability(FileMatch(BYTES, 5, 150, True, 1, metadata=True)) == 0.0
    assert probability(FileMatch(BYTES, 40, 1200, True, 1, metadata=True)) == pytest.approx(0.99)


def test_whole_file_hashes_survive_whitespace_only() -> None:
    a = whole_file(b"def f(x):\n    return x + 1\n")
    b = whole_file(b"\xef\xbb\xbfdef f(x):\r\n\treturn x  +  1\r\n\r\n")
    c = whole_file(b"def f(x):\n    return x + 2\n")
    assert a.sha256 != b.sha256 and a.norm_sha256 == b.norm_sha256 != c.norm_sha256
    assert (a.n_lines, b.n_lines, a.distinct_lines) == (2, 3, 2)
    assert b.line_numbers.tolist() == [1, 2]


def test_index_keeps_whole_files_in_step_with_the_tree(
    tmp_path: Path, add: Any, scan_json: Any, index_dir: Path, run_cli: Any
) -> None:
    """Re-adding a source drops the identities of removed files; removing it drops them all."""
    table = long_lined_table(6000)
    up = write(tmp_path / "up", {"table.py": table, "keep.py": data_table(100)})
    add(up, "up")
    project = write(tmp_path / "project", {"table.py": table})
    assert len(scan(scan_json, project, index_dir)["findings"]) == 1
    (up / "table.py").unlink()
    add(up, "up")
    assert scan(scan_json, project, index_dir)["findings"] == []
    code, _, err = run_cli("index", "remove", "up", "--index", index_dir)
    assert code == 0, err
    db = sqlite3.connect(index_dir / "index.db")
    assert db.execute("SELECT COUNT(*) FROM whole_files").fetchone() == (0,)
    assert db.execute("SELECT COUNT(*) FROM line_sketch").fetchone() == (0,)


def test_file_over_the_size_limit_is_hash_matched(
    tmp_path: Path, add: Any, scan_json: Any, index_dir: Path
) -> None:
    table = data_table(2000)
    limit = str(len(table) // 2)
    summary = add(write(tmp_path / "up", {"big.py": table}), "up", "--max-file-size", limit)
    assert summary["skipped"][0]["reason"].startswith("larger than")
    report = scan(scan_json, write(tmp_path / "p", {"big.py": table}), index_dir, "--max-file-size", limit)
    [f] = report["findings"]
    assert (f["match_type"], f["end_line"]) == ("exact", 2004)
    assert report["skipped"][0]["reason"].startswith("larger than")


def test_staged_generated_copy_is_found_from_the_git_index(
    tmp_path: Path, add: Any, run_cli: Any, index_dir: Path, make_repo: Any, git_cmd: Any
) -> None:
    """The pre-commit path: the staged blob of a file that is not chunked is hash-matched, and
    the HTML report shows its staged lines, not the work tree's."""
    generated = "# Code generated by protoc. DO NOT EDIT.\n" + data_table(300, "DESCRIPTOR")
    add(write(tmp_path / "up", {"desc_pb2.py": generated}), "up")
    repo = make_repo(tmp_path / "repo")
    write(repo, {"src/desc_pb2.py": generated})
    git_cmd(repo, "add", "src/desc_pb2.py")
    (repo / "src/desc_pb2.py").write_text("# emptied in the work tree, not staged\n")
    code, out, err = run_cli(
        "scan", "--staged", repo, "--index", index_dir, "--format", "json", "--no-ml", "--fail-on", "note"
    )
    assert code == 1, err
    [f] = json.loads(out)["findings"]
    assert (f["path"], f["match_type"], f["end_line"]) == ("src/desc_pb2.py", "exact", 305)
    code, html, err = run_cli(
        "scan", "--staged", repo, "--index", index_dir, "--format", "html", "--no-ml", "--fail-on", "note"
    )
    assert code == 1, err
    assert "(0x012B, &#x27;M&#x27;, &#x27;u012b&#x27;)" in html and "emptied in the work tree" not in html
