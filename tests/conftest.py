"""Shared fixtures: a small real Python reference corpus, the real CLI, real git repositories."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from codeguard.cli import main

# Three realistic functions (15+ lines each) with different shapes, so that a copy of one never
# matches another.
MERGE_INTERVALS = '''\
def merge_intervals(intervals):
    """Merge overlapping closed intervals and return them sorted by start."""
    if not intervals:
        return []
    ordered = sorted(intervals, key=lambda pair: pair[0])
    merged = [list(ordered[0])]
    for start, end in ordered[1:]:
        last = merged[-1]
        if start <= last[1]:
            last[1] = max(last[1], end)
        else:
            merged.append([start, end])
    result = []
    for pair in merged:
        result.append((pair[0], pair[1]))
    return result
'''

LEVENSHTEIN = '''\
def levenshtein(source, target):
    """Edit distance between two strings (insertions, deletions, substitutions)."""
    if len(source) < len(target):
        source, target = target, source
    previous = list(range(len(target) + 1))
    for i, left in enumerate(source, 1):
        current = [i]
        for j, right in enumerate(target, 1):
            insert = current[j - 1] + 1
            delete = previous[j] + 1
            replace = previous[j - 1] + (left != right)
            current.append(min(insert, delete, replace))
        previous = current
    return previous[-1]
'''

SIMILARITY = '''\
def similarity(source, target):
    """Similarity in [0, 1] derived from the edit distance."""
    longest = max(len(source), len(target))
    if longest == 0:
        return 1.0
    return 1.0 - levenshtein(source, target) / longest
'''

TOPO_SORT = '''\
def topo_sort(graph):
    """Order the nodes of a DAG so that every edge points forward (Kahn's algorithm)."""
    indegree = {node: 0 for node in graph}
    for node, targets in graph.items():
        for target in targets:
            indegree[target] = indegree.get(target, 0) + 1
    ready = [node for node, degree in indegree.items() if degree == 0]
    order = []
    while ready:
        node = ready.pop()
        order.append(node)
        for target in graph.get(node, ()):
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    if len(order) != len(indegree):
        raise ValueError("graph has a cycle")
    return order
'''

# Function name -> its source; file (relative to the corpus root) -> its content.
REFERENCE_FUNCTIONS = {"merge_intervals": MERGE_INTERVALS, "levenshtein": LEVENSHTEIN, "topo_sort": TOPO_SORT}
REFERENCE_FILES = {
    "intervals.py": "import math\n\n\n" + MERGE_INTERVALS,
    "text/distance.py": LEVENSHTEIN + "\n\n" + SIMILARITY,
    "graph.py": '"""Graph helpers."""\n\n\n' + TOPO_SORT,
}
# Where each function lives in the corpus.
FUNCTION_FILES = {
    "merge_intervals": "intervals.py",
    "levenshtein": "text/distance.py",
    "topo_sort": "graph.py",
}


@dataclass(frozen=True)
class Corpus:
    """A reference corpus written to disk."""

    root: Path
    files: dict[str, str]


def write_corpus(root: Path, files: dict[str, str] | None = None) -> Corpus:
    """Write ``files`` (default: the reference corpus) under ``root``."""
    files = dict(REFERENCE_FILES if files is None else files)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return Corpus(root, files)


STDLIB_SAMPLE = ("textwrap.py", "shlex.py", "heapq.py", "bisect.py", "fnmatch.py", "colorsys.py")


def stdlib_sample_index(
    factory: pytest.TempPathFactory, add_json: Callable[..., Any], name: str, files: dict[str, str]
) -> Path:
    """A fingerprint-only index of six real stdlib files plus ``files`` (relative path: text),
    as one MIT source: a small real corpus around the code a test plants."""
    import sysconfig

    corpus = factory.mktemp(f"{name}-corpus")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for rel in STDLIB_SAMPLE:
        shutil.copy(stdlib / rel, corpus / rel)
    write_corpus(corpus, files)
    index = factory.mktemp(f"{name}-index") / "index"
    add_json(corpus, index, "--name", "corpus", "--license", "MIT", "--no-ml")
    return index


@pytest.fixture(scope="session", autouse=True)
def _embedding_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Scans cache chunk embeddings per user; tests keep theirs in a temp dir, not in ~/.cache."""
    os.environ.setdefault(
        "CODEGUARD_EMBEDDING_CACHE", str(tmp_path_factory.mktemp("cache") / "embeddings.sqlite")
    )


@pytest.fixture(scope="session")
def make_corpus() -> Callable[..., Corpus]:
    """Factory: ``make_corpus(root, files=None)`` writes a corpus (for module-scoped fixtures)."""
    return write_corpus


@pytest.fixture
def reference_corpus(tmp_path: Path) -> Corpus:
    """The three-function Python reference corpus in a fresh directory."""
    return write_corpus(tmp_path / "corpus")


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    """A path for a new index (not created yet)."""
    return tmp_path / "index"


CliResult = tuple[int, str, str]


def _run_cli(*args: str | Path, env: dict[str, str] | None = None) -> CliResult:
    result = CliRunner().invoke(main, [str(a) for a in args], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # escaped every handler: show it as a test error
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="session")
def run_cli() -> Callable[..., CliResult]:
    """``run_cli(*args)`` runs the real CLI in-process: (exit code, stdout, stderr)."""
    return _run_cli


@pytest.fixture(scope="session")
def scan_json(run_cli: Callable[..., CliResult]) -> Callable[..., tuple[int, dict[str, Any], str]]:
    """``scan_json(path, index, *extra)``: exit code, the parsed JSON report and stderr.

    Fails on any finding (``--fail-on note``): permissive origins are policy notes.
    """

    def scan(path: Path, index: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
        code, out, err = run_cli(
            "scan", path, "--index", index, "--format", "json", "--fail-on", "note", *extra
        )
        assert code in (0, 1), f"scan failed with {code}: {err}"
        return code, json.loads(out), err

    return scan


@pytest.fixture(scope="session")
def add_json(run_cli: Callable[..., CliResult]) -> Callable[..., dict[str, Any]]:
    """``add_json(source, index, *extra)``: the parsed ``index add --json`` summary (must succeed)."""

    def add(source: str | Path, index: Path, *extra: str) -> dict[str, Any]:
        code, out, err = run_cli("index", "add", source, "--index", index, "--json", *extra)
        assert code == 0, f"index add failed with {code}: {err}"
        return json.loads(out)

    return add


# -- git -----------------------------------------------------------------------------------------

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada Test",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Test",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` with a fixed identity and no user or system config; its stdout."""
    env = os.environ | _GIT_ENV | {"HOME": str(cwd), "GIT_CONFIG_GLOBAL": os.devnull}
    out = subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip()


@pytest.fixture(scope="session")
def git_cmd() -> Callable[..., str]:
    """``git_cmd(cwd, *args)``: run a real git command, return its stdout."""
    return git


def init_repo(path: Path) -> Path:
    """An empty git repository on branch ``main``."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    return path


@pytest.fixture(scope="session")
def make_repo() -> Callable[[Path], Path]:
    """Factory: ``make_repo(path)`` creates an empty git repository on branch ``main``."""
    return init_repo


# -- the report scenario: four sources under different licenses, an MIT project copying from each
REPORT_DATA = Path(__file__).parent / "data" / "reports"
# Each reference source of tests/data/reports/corpus and the license it is indexed under; the
# project (MIT) copies one function of each, so every policy level occurs once.
REPORT_SOURCES = {
    "gpl-lib": "GPL-3.0-only",
    "lgpl-lib": "LGPL-2.1-only",
    "mit-lib": "MIT",
    "own-lib": "LicenseRef-mycompany-internal",
}


@pytest.fixture(scope="session")
def report_scenario(
    tmp_path_factory: pytest.TempPathFactory, run_cli: Callable[..., CliResult]
) -> tuple[Path, Path]:
    """(project, index): the four sources indexed, the project copied to a temp dir (tests
    that change the project work on a copy of it)."""
    tmp = tmp_path_factory.mktemp("reports")
    index = tmp / "index"
    for name, lic in REPORT_SOURCES.items():
        src = shutil.copytree(REPORT_DATA / "corpus" / name, tmp / "corpus" / name)
        code, _, err = run_cli("index", "add", src, "--name", name, "--license", lic, "--index", index)
        assert code == 0, err
    return shutil.copytree(REPORT_DATA / "project", tmp / "project"), index


def with_allow_comments(project: Path, dest: Path) -> Path:
    """A copy of the project where one copy is allowed with a reason and one without."""
    moved = shutil.copytree(project, dest)
    for rel, comment in [
        ("text.py", '# codeguard: allow CG-LIC-005 reason="relicensed to us by its author"'),
        ("graph.py", "# codeguard: allow CG-LIC-008"),
    ]:
        f = moved / "src" / "app" / rel
        f.write_text(f.read_text().replace("\n\n\ndef ", f"\n\n\n{comment}\ndef ", 1))
    return moved
