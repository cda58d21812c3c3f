"""End to end through the real CLI: index real stdlib files, scan the shipped demo project."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from click.testing import CliRunner

from codeguard.cli import main

ROOT = Path(__file__).resolve().parents[1]
# The demo project as a user has it: a project of its own, outside this repository (inside it,
# reported paths would be relative to this repository's root).
DEMO_SOURCE = ROOT / "examples" / "demo-project"
STDLIB = Path(sysconfig.get_paths()["stdlib"])
REFERENCE_FILES = ["textwrap.py", "posixpath.py", "difflib.py", "ntpath.py", "shutil.py", "argparse.py"]


def cli(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, list(args))
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(shutil.copytree(DEMO_SOURCE, tmp_path_factory.mktemp("demo") / "demo-project"))


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = tmp_path_factory.mktemp("stdlib-part")
    for name in REFERENCE_FILES:
        shutil.copy(STDLIB / name, corpus / name)
    idx = tmp_path_factory.mktemp("idx") / "index"
    code, out, err = cli(
        "index", "add", str(corpus), "--name", "cpython", "--license", "PSF-2.0", "--index", str(idx)
    )
    assert code == 0, err
    assert f"{len(REFERENCE_FILES)} added" in out
    return idx


def _scan_json(demo: Path, index_dir: Path, *extra: str) -> tuple[int, dict]:
    code, out, err = cli(
        "scan", str(demo), "--index", str(index_dir), "--format", "json", "--fail-on", "note", *extra
    )
    return code, json.loads(out)


def test_demo_copies_are_found_with_provenance(demo: Path, index_dir: Path) -> None:
    code, report = _scan_json(demo, index_dir)
    assert code == 1
    found = {(f["path"], f["chunk"]["name"]): f for f in report["findings"]}
    assert set(found) == {
        ("src/demo/text.py", "dedent"),
        # The two module-level regexes above dedent come verbatim from textwrap.py too.
        ("src/demo/text.py", "lines 2-5"),
        ("src/demo/paths.py", "relative_to"),
        ("src/demo/search.py", "best_matches"),
    }
    dedent = found[("src/demo/text.py", "dedent")]
    assert dedent["match_type"] == "exact"
    assert dedent["origin"]["path"] == "textwrap.py"
    assert dedent["origin"]["chunk"]["name"] == "dedent"
    assert dedent["origin"]["license"] == "PSF-2.0"
    assert dedent["origin"]["source"] == "cpython"
    # PSF-2.0 code in the MIT demo project: allowed, but attribution is owed.
    assert dedent["level"] == "note" and dedent["policy"]["rule_id"] == "CG-LIC-008"
    assert report["project"]["license"] == "MIT"
    src = (STDLIB / "textwrap.py").read_text().splitlines()
    assert src[dedent["origin"]["start_line"] - 1].startswith("def dedent(")
    assert found[("src/demo/paths.py", "relative_to")]["origin"]["chunk"]["name"] == "relpath"
    search = found[("src/demo/search.py", "best_matches")]
    assert search["match_type"] == "modified"
    assert len(search["fragments"]) >= 2  # the inserted statements split the copy
    for frag in search["fragments"]:
        assert search["start_line"] <= frag["lines"][0] <= frag["lines"][1] <= search["end_line"]


def test_original_code_is_not_reported(demo: Path, index_dir: Path) -> None:
    _, report = _scan_json(demo, index_dir)
    paths = {f["path"] for f in report["findings"]}
    assert "src/demo/inventory.py" not in paths and "src/demo/cli.py" not in paths


def test_fail_on_none_exits_zero_and_output_file(demo: Path, index_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    code, _, err = cli(
        "scan", str(demo), "--index", str(index_dir), "--format", "json", "-o", str(out), "--fail-on", "none"
    )
    assert code == 0
    assert len(json.loads(out.read_text())["findings"]) == 4


def test_text_report_shows_both_sides(demo: Path, index_dir: Path) -> None:
    code, out, _ = cli("scan", str(demo / "src" / "demo" / "text.py"), "--index", str(index_dir))
    assert code == 0  # a note does not fail the default --fail-on warning
    assert "text.py:14-62" in out and "cpython:textwrap.py:419-467" in out and "EXACT" in out


def test_clean_tree_exits_zero(demo: Path, index_dir: Path, tmp_path: Path) -> None:
    shutil.copy(demo / "src" / "demo" / "inventory.py", tmp_path / "inventory.py")
    code, out, _ = cli("scan", str(tmp_path), "--index", str(index_dir))
    assert code == 0
    assert "0 finding(s)" in out


def test_index_list_shows_the_source(index_dir: Path) -> None:
    code, out, _ = cli("index", "list", "--index", str(index_dir), "--json")
    data = json.loads(out)
    assert [s["name"] for s in data["sources"]] == ["cpython"]
    assert data["sources"][0]["files"] == len(REFERENCE_FILES)


def test_a_real_scan_imports_neither_torch_nor_faiss_without_the_model(demo: Path, index_dir: Path) -> None:
    code = (
        "import sys\n"
        "from codeguard.cli import main\n"
        "try:\n"
        f"    main(['scan', {str(demo)!r}, '--index', {str(index_dir)!r}, '--format', 'json', '-q', '--fail-on', 'note'])\n"
        "except SystemExit as e:\n"
        "    assert e.code == 1, e.code\n"
        "print('torch' in sys.modules, 'faiss' in sys.modules, file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert json.loads(out.stdout)["findings"]
    # With the semantic layer on, FAISS searches the index's vectors; torch is never needed.
    assert out.stderr.strip().splitlines()[-1] == "False True"
    fingerprints_only = code.replace("'--fail-on', 'note']", "'--fail-on', 'note', '--no-ml']")
    out = subprocess.run([sys.executable, "-c", fingerprints_only], capture_output=True, text=True)
    assert json.loads(out.stdout)["findings"]
    assert out.stderr.strip().splitlines()[-1] == "False False"


def test_a_missing_index_is_exit_4_saying_how_to_scan_without_one(demo: Path, tmp_path: Path) -> None:
    code, _, err = cli("scan", str(demo), "--index", str(tmp_path / "nowhere"))
    assert code == 4
    assert "No reference index at" in err and "codeguard index add PATH" in err and "--no-index" in err
    code, _, _ = cli("scan", str(demo), "--no-index", "--fail-on", "none")
    assert code == 0
