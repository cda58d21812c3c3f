"""Git repositories as reference sources, through the real CLI on real repositories: a revision
records its commit and indexes that commit's content, URLs are cloned, a work tree records HEAD
and leaves gitignored files out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import LEVENSHTEIN, MERGE_INTERVALS, TOPO_SORT

# The second commit replaces topo_sort (graph.py) with this function.
SHORTEST_PATH = '''\
def shortest_path(graph, start, goal):
    """Fewest-edges path from start to goal by breadth-first search, or None."""
    previous = {start: None}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            if node == goal:
                path = []
                while node is not None:
                    path.append(node)
                    node = previous[node]
                return path[::-1]
            for neighbour in graph.get(node, ()):
                if neighbour not in previous:
                    previous[neighbour] = node
                    following.append(neighbour)
        frontier = following
    return None
'''


@dataclass(frozen=True)
class TwoCommits:
    path: Path
    first: str
    second: str


@pytest.fixture
def repo(tmp_path: Path, make_repo: Any, git_cmd: Any) -> TwoCommits:
    """graph.py holds topo_sort in the first commit (tags v1, v1-annotated) and shortest_path in
    the second (main); ignored files in the work tree hold levenshtein."""
    path = make_repo(tmp_path / "algorithms")
    (path / ".gitignore").write_text("build/\n*.generated.py\n")
    (path / "lib").mkdir()
    (path / "lib" / "intervals.py").write_text(MERGE_INTERVALS)
    (path / "graph.py").write_text(TOPO_SORT)
    git_cmd(path, "add", ".")
    git_cmd(path, "commit", "-q", "-m", "first")
    first = git_cmd(path, "rev-parse", "HEAD")
    git_cmd(path, "tag", "v1")
    git_cmd(path, "tag", "-a", "v1-annotated", "-m", "first release")
    (path / "graph.py").write_text(SHORTEST_PATH)
    git_cmd(path, "commit", "-q", "-am", "second")
    second = git_cmd(path, "rev-parse", "HEAD")
    (path / "build").mkdir()
    (path / "build" / "distance.py").write_text(LEVENSHTEIN)
    (path / "lib" / "distance.generated.py").write_text(LEVENSHTEIN)
    assert git_cmd(path, "status", "--porcelain") == ""  # the extra files are all ignored
    return TwoCommits(path, first, second)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project that copied all four functions, one per file."""
    root = tmp_path / "project"
    root.mkdir()
    for name, text in {
        "merge_intervals": MERGE_INTERVALS,
        "topo_sort": TOPO_SORT,
        "shortest_path": SHORTEST_PATH,
        "levenshtein": LEVENSHTEIN,
    }.items():
        (root / f"{name}.py").write_text("import collections\n\n\n" + text)
    return root


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["chunk"]["name"]: f for f in report["findings"]}


def source_rows(run_cli: Any, index: Path) -> dict[str, dict[str, Any]]:
    code, out, err = run_cli("index", "list", "--index", index, "--json")
    assert code == 0, err
    return {s["name"]: s for s in json.loads(out)["sources"]}


@pytest.mark.parametrize("tag", ["v1", "v1-annotated"])
def test_add_at_a_tag_indexes_that_commit(
    tag: str, repo: TwoCommits, project: Path, index_dir: Path, add_json: Any, run_cli: Any, scan_json: Any
) -> None:
    summary = add_json(f"{repo.path}@{tag}", index_dir, "--license", "Apache-2.0")
    assert summary["name"] == "algorithms"
    assert summary["commit"] == repo.first
    assert summary["added"] == 2
    row = source_rows(run_cli, index_dir)["algorithms"]
    assert (row["kind"], row["revision"], row["commit"], row["files"]) == ("git", tag, repo.first, 2)
    assert row["location"] == str(repo.path.resolve())

    code, report, _ = scan_json(project, index_dir)
    assert code == 1
    found = by_name(report)
    # The first version's content, not the work tree's: topo_sort, not shortest_path.
    assert set(found) == {"merge_intervals", "topo_sort"}
    origin = found["topo_sort"]["origin"]
    assert (origin["path"], origin["commit"], origin["license"]) == ("graph.py", repo.first, "Apache-2.0")
    assert found["merge_intervals"]["origin"]["path"] == "lib/intervals.py"


def test_add_file_url_at_a_branch_clones_it(
    repo: TwoCommits, project: Path, index_dir: Path, add_json: Any, run_cli: Any, scan_json: Any
) -> None:
    url = repo.path.as_uri()
    summary = add_json(f"{url}@main", index_dir)
    assert (summary["name"], summary["commit"], summary["added"]) == ("algorithms", repo.second, 2)
    row = source_rows(run_cli, index_dir)["algorithms"]
    assert (row["kind"], row["location"], row["revision"], row["commit"]) == ("git", url, "main", repo.second)

    code, report, _ = scan_json(project, index_dir)
    found = by_name(report)
    assert set(found) == {"merge_intervals", "shortest_path"}
    origin = found["shortest_path"]["origin"]
    assert (origin["path"], origin["commit"], origin["origin"]) == ("graph.py", repo.second, url)


def test_work_tree_records_head_and_leaves_ignored_files_out(
    repo: TwoCommits, project: Path, index_dir: Path, add_json: Any, run_cli: Any, scan_json: Any
) -> None:
    summary = add_json(repo.path, index_dir)
    assert summary["commit"] == repo.second
    assert (summary["added"], summary["skipped"]) == (2, [])
    row = source_rows(run_cli, index_dir)["algorithms"]
    assert (row["kind"], row["revision"], row["commit"], row["files"]) == ("dir", None, repo.second, 2)

    code, report, _ = scan_json(project, index_dir)
    found = by_name(report)
    # levenshtein only exists in gitignored files (build/, *.generated.py).
    assert set(found) == {"merge_intervals", "shortest_path"}
    assert found["shortest_path"]["origin"]["commit"] == repo.second


def test_readding_at_a_later_revision_updates_the_changed_file(
    repo: TwoCommits, project: Path, index_dir: Path, add_json: Any, scan_json: Any
) -> None:
    add_json(f"{repo.path}@v1", index_dir, "--name", "algos")
    summary = add_json(f"{repo.path}@main", index_dir, "--name", "algos")
    assert summary["commit"] == repo.second
    assert (summary["added"], summary["updated"], summary["unchanged"], summary["removed"]) == (0, 1, 1, 0)
    code, report, _ = scan_json(project, index_dir)
    found = by_name(report)
    assert set(found) == {"merge_intervals", "shortest_path"}
    assert {f["origin"]["commit"] for f in found.values()} == {repo.second}


def test_exclude_and_committed_codeguardignore_apply_to_a_revision(
    repo: TwoCommits, tmp_path: Path, add_json: Any, run_cli: Any, git_cmd: Any
) -> None:
    (repo.path / "lib" / "vendored").mkdir()
    (repo.path / "lib" / "vendored" / "distance.py").write_text(LEVENSHTEIN)
    (repo.path / "lib" / ".codeguardignore").write_text("vendored/\n")
    git_cmd(repo.path, "add", "lib")
    git_cmd(repo.path, "commit", "-q", "-m", "vendor a library")

    def indexed_files(source: str | Path, index: Path, *extra: str) -> int:
        summary = add_json(source, index, "--name", "algos", *extra)
        assert summary["skipped"] == []
        return int(summary["added"])

    # A commit is read like a work tree: the nested .codeguardignore leaves lib/vendored/ out.
    assert indexed_files(f"{repo.path}@main", tmp_path / "i1") == 2
    assert indexed_files(repo.path, tmp_path / "i2") == 2
    # --exclude applies to a revision too.
    assert indexed_files(f"{repo.path}@main", tmp_path / "i3", "--exclude", "graph.py") == 1
    assert indexed_files(repo.path.as_uri() + "@main", tmp_path / "i4", "--exclude", "lib/") == 1
    rows = source_rows(run_cli, tmp_path / "i4")
    assert rows["algos"]["files"] == 1
