"""--staged (the pre-commit path: the git index, not the work tree) and --diff (the CI gate)
on real git repositories."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import LEVENSHTEIN, TOPO_SORT, git, init_repo, write_corpus

MIT = (Path(__file__).resolve().parents[1] / "examples" / "demo-project" / "LICENSE").read_text()


@pytest.fixture
def gpl_index(tmp_path: Path, add_json: Any) -> Path:
    corpus = write_corpus(tmp_path / "gplcorpus")
    index = tmp_path / "index"
    add_json(corpus.root, index, "--license", "GPL-3.0-only")
    return index


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = init_repo(tmp_path / "proj ü")
    (root / "LICENSE").write_text(MIT)
    (root / "main.py").write_text("def main():\n    return 0\n")
    git(root, "add", ".")
    git(root, "commit", "-qm", "initial")
    return root


def _staged(run_cli: Any, repo: Path, index: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = run_cli("scan", "--staged", repo, "--index", index, "--format", "json", *extra)
    assert code in (0, 1), err
    return code, json.loads(out), err


def test_staged_copy_blocks_even_when_the_work_tree_is_fixed(
    repo: Path, gpl_index: Path, run_cli: Any
) -> None:
    target = repo / "src dir" / "dist ü.py"
    target.parent.mkdir()
    target.write_text("import os\n\n\n" + LEVENSHTEIN)
    git(repo, "add", ".")
    target.write_text("import os\n")  # fixed in the work tree, not staged
    code, report, _ = _staged(run_cli, repo, gpl_index)
    assert code == 1
    [f] = report["findings"]
    assert (f["path"], f["chunk"]["name"], f["level"]) == ("src dir/dist ü.py", "levenshtein", "error")
    git(repo, "add", ".")  # staging the fix unblocks
    code, report, _ = _staged(run_cli, repo, gpl_index)
    assert (code, report["findings"]) == (0, [])


def test_unstaged_copy_is_not_scanned_and_clean_commit_passes(
    repo: Path, gpl_index: Path, run_cli: Any
) -> None:
    (repo / "copy.py").write_text(TOPO_SORT)  # untracked, not staged
    (repo / "ok.py").write_text("def ok():\n    return 1\n")
    git(repo, "add", "ok.py")
    code, report, _ = _staged(run_cli, repo, gpl_index)
    assert (code, report["findings"]) == (0, [])


def test_staged_in_a_repository_without_commits(tmp_path: Path, gpl_index: Path, run_cli: Any) -> None:
    root = init_repo(tmp_path / "fresh")
    (root / "LICENSE").write_text(MIT)
    (root / "a.py").write_text(TOPO_SORT)
    git(root, "add", ".")
    code, report, _ = _staged(run_cli, root, gpl_index)
    assert code == 1 and [f["chunk"]["name"] for f in report["findings"]] == ["topo_sort"]


def test_only_changed_lines_count_in_a_diff_range(repo: Path, gpl_index: Path, run_cli: Any) -> None:
    (repo / "old.py").write_text(TOPO_SORT)  # an accepted old copy on the base branch
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "old copy")
    git(repo, "checkout", "-qb", "feature")
    (repo / "old.py").write_text(TOPO_SORT + "\n\ndef extra():\n    return 2\n")
    (repo / "new.py").write_text(LEVENSHTEIN)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "feature")
    code, out, err = run_cli(
        "scan", "--diff", "main...feature", repo, "--index", gpl_index, "--format", "json"
    )
    assert code == 1, err
    assert [f["path"] for f in json.loads(out)["findings"]] == ["new.py"]


def test_bad_ranges_and_non_repositories_are_usage_errors(
    repo: Path, gpl_index: Path, tmp_path: Path, run_cli: Any
) -> None:
    code, _, err = run_cli("scan", "--diff", "nope...HEAD", repo, "--index", gpl_index)
    assert code == 2 and "Unknown revision 'nope'" in err
    outside = tmp_path / "plain"
    outside.mkdir()
    code, _, err = run_cli("scan", "--staged", outside, "--index", gpl_index)
    assert code == 2 and "not inside a git repository" in err
    code, _, err = run_cli("scan", "--staged", "--diff", "a...b", repo, "--index", gpl_index)
    assert code == 2 and "Traceback" not in err


def test_detached_head_deleted_file_and_merge_in_progress(repo: Path, gpl_index: Path, run_cli: Any) -> None:
    git(repo, "checkout", "-q", "--detach")
    git(repo, "rm", "-q", "main.py")  # deleted in the index
    code, report, _ = _staged(run_cli, repo, gpl_index)
    assert code == 0 and report["findings"] == []
    git(repo, "reset", "-q", "--hard")
    git(repo, "checkout", "-qb", "a")
    (repo / "m.py").write_text("x = 1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "a")
    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-qb", "b")
    (repo / "m.py").write_text("x = 2\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "b")
    subprocess.run(["git", "merge", "a"], cwd=repo, capture_output=True)  # conflicts
    code, report, _ = _staged(run_cli, repo, gpl_index)
    assert {"path": "m.py", "reason": "unmerged (merge in progress): resolve and stage it first"} in report[
        "skipped"
    ]


def test_diff_in_a_repository_without_commits_and_unwritable_outputs(
    tmp_path: Path, gpl_index: Path, repo: Path, run_cli: Any
) -> None:
    fresh = init_repo(tmp_path / "fresh")
    code, _, err = run_cli("scan", "--diff", "main...HEAD", fresh, "--index", gpl_index)
    assert code == 2 and "Unknown revision" in err and "Traceback" not in err
    for flag in ("--sarif", "--output"):
        code, _, err = run_cli(
            "scan", repo, "--index", gpl_index, flag, tmp_path / "no-such-dir" / "out.sarif"
        )
        assert code == 2 and "Cannot write the report" in err and "Traceback" not in err


def test_staged_content_is_each_file_of_the_git_index(repo: Path) -> None:
    """The staged files are read in one `git cat-file --batch`: every file's bytes must be those
    `git show :NAME` gives (binary and empty files, a symlink, a name with a line break and
    spaces, a submodule entry), with the changed lines of the staged diff."""
    from codeguard.gitio import staged_files

    (repo / "main.py").write_text("def main():\n    return 1\n")
    (repo / "empty.py").write_bytes(b"")
    (repo / "blob.bin").write_bytes(b"\x00\n\xff 123 blob 9\n" * 50)
    (repo / "odd\nname 1 2.py").write_text("x = 1\n")
    (repo / "link.py").symlink_to("main.py")
    git(repo, "add", ".")
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{head},vendored")  # a gitlink
    (repo / "main.py").write_text("def main():\n    return 2\n")  # unstaged: not scanned
    files, left_out = staged_files(repo)
    assert left_out == []
    names = ["blob.bin", "empty.py", "link.py", "main.py", "odd\nname 1 2.py", "vendored"]
    assert sorted(f.path for f in files) == sorted(names)
    by_path = _as_git_shows(repo, files, "")
    assert by_path["link.py"].data == b"main.py"


def _as_git_shows(repo: Path, files: list[Any], rev: str) -> dict[str, Any]:
    """Check each file's bytes against `git show REV:NAME` (REV "" = the index) and main.py's
    changed lines; return the files by path."""
    env = os.environ | {"GIT_CONFIG_GLOBAL": os.devnull, "HOME": str(repo)}
    for f in files:
        shown = subprocess.run(
            ["git", "show", f"{rev}:{f.path}"], cwd=repo, capture_output=True, check=True, env=env
        ).stdout
        assert f.data == shown, f.path
    by_path = {f.path: f for f in files}
    assert by_path["main.py"].data == b"def main():\n    return 1\n"
    assert by_path["main.py"].changed_lines == frozenset({2})
    return by_path


def test_diff_range_content_is_each_file_on_the_new_side(repo: Path) -> None:
    """A diff range's files are read in one `git cat-file --batch` too: each file's bytes must be
    those `git show NEW:NAME` gives, with the changed lines."""
    from codeguard.gitio import diff_files

    git(repo, "checkout", "-qb", "feature")
    (repo / "main.py").write_text("def main():\n    return 1\n")
    (repo / "blob.bin").write_bytes(b"\x00\n\xff 123 blob 9\n" * 50)
    (repo / "odd name 1 2.py").write_text("x = 1\n")
    (repo / "link.py").symlink_to("main.py")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "feature")
    (repo / "main.py").write_text("def main():\n    return 2\n")  # work tree only: not the range
    files, left_out = diff_files(repo, "main...feature")
    assert left_out == [] and sorted(f.path for f in files) == [
        "blob.bin",
        "link.py",
        "main.py",
        "odd name 1 2.py",
    ]
    _as_git_shows(repo, files, "feature")
