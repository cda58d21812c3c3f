"""Adversarial trees through the real CLI, in subprocesses: scans and index adds never hang,
crash (exit 3) or read outside the tree, and their peak memory stays bounded.

Each test builds a tree that once broke codeguard (a symlink to a file outside the tree, 20,000
nested functions, non-UTF-8 names, unreadable directories, concurrent adds, killed adds, data
tables, virtual environments...); ``test_random_adversarial_trees`` mixes all of them, with
random bytes and a writer changing the tree while it is scanned, over several seeds.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import LEVENSHTEIN, MERGE_INTERVALS, TOPO_SORT, write_corpus

from codeguard.engine.analyze import MAX_REPEATS, Analyzed, analyze
from codeguard.index.vectors import MAX_TEXT_BYTES, ChunkTexts
from codeguard.parsing.chunker import MAX_CHUNK_DEPTH, MAX_CHUNKS, parse_file

REPO = Path(__file__).resolve().parents[1]
# Peak resident memory any scan or add of these trees may reach (generous: the model, ONNX
# Runtime and tree-sitter take about 200 MB; 20,000 nested functions once took 24 GB).
MAX_RSS_MB = 1500
# A guard against hangs only (a hung scan fails the test instead of blocking the suite); the
# commands here take seconds.
HANG_S = 300
SECRET = "CODEGUARD_SECRET_OUTSIDE_THE_TREE"


@dataclass
class Run:
    """A finished codeguard subprocess."""

    code: int
    out: str
    err: str
    peak_mb: float

    def json(self) -> Any:
        return json.loads(self.out)


def codeguard(*args: str | Path, cwd: Path | None = None) -> Run:
    """Run ``python -m codeguard ARGS`` in a subprocess; its exit code, output and peak RSS
    (``wait4``'s resource usage: the process and the workers it waited for)."""
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "codeguard", *map(str, args)],
            stdout=out,
            stderr=err,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
        timer = threading.Timer(HANG_S, lambda: os.killpg(proc.pid, signal.SIGKILL))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        run = Run(
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            usage.ru_maxrss / 1024,
        )
    assert run.code != -signal.SIGKILL, f"codeguard {args} hung (killed after {HANG_S}s)"
    return run


def sane(run: Run, *codes: int) -> Run:
    """The run ended with one of ``codes``, printed no traceback and stayed within memory."""
    assert run.code in codes, f"exit {run.code}: {run.err[-3000:]}"
    assert "Traceback" not in run.err and "internal error" not in run.err, run.err[-3000:]
    assert run.peak_mb < MAX_RSS_MB, f"peak RSS {run.peak_mb:.0f} MB"
    return run


def index_texts(index: Path) -> list[tuple[str, bytes]]:
    """(path, content) of every file stored in an index."""
    conn = sqlite3.connect(index / "index.db")
    try:
        return [(p, zlib.decompress(c)) for p, c in conn.execute("SELECT path, content FROM files")]
    finally:
        conn.close()


def assert_nothing_from_outside(index: Path) -> None:
    for path, content in index_texts(index):
        assert SECRET.encode() not in content, f"{path} holds a file from outside the tree"


@pytest.fixture(scope="module")
def fp_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference corpus indexed with fingerprints only."""
    base = tmp_path_factory.mktemp("fp")
    corpus = write_corpus(base / "corpus")
    sane(codeguard("index", "add", corpus.root, "--name", "ref", "--index", base / "index", "--no-ml"), 0)
    return base / "index"


@pytest.fixture(scope="module")
def ml_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference corpus indexed with the shipped model (embeddings on)."""
    base = tmp_path_factory.mktemp("ml")
    corpus = write_corpus(base / "corpus")
    summary = sane(codeguard("index", "add", corpus.root, "--index", base / "index", "--json"), 0).json()
    assert summary["embedded"] > 0, summary
    return base / "index"


def secret_outside(base: Path) -> Path:
    """A file outside every scanned tree: code that would match, and a marker."""
    outside = base / "outside"
    outside.mkdir(exist_ok=True)
    secret = outside / "secret.py"
    secret.write_text(f'TOKEN = "{SECRET}"\n\n\n{MERGE_INTERVALS}')
    return secret


# -- 1. symlinks out of the tree ---------------------------------------------------------------


def test_file_symlinks_out_of_the_tree_are_skipped_never_read(tmp_path: Path, fp_index: Path) -> None:
    secret = secret_outside(tmp_path)
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "real.py").write_text(TOPO_SORT)
    os.symlink(secret, tree / "abs_link.py")
    os.symlink("../../outside/secret.py", tree / "sub" / "rel_link.py")
    os.symlink("/etc/passwd", tree / "passwd.py")
    os.symlink("real.py", tree / "inside_link.py")  # inside the tree: followed
    os.symlink("loop2.py", tree / "loop1.py")
    os.symlink("loop1.py", tree / "loop2.py")

    report = sane(codeguard("scan", tree, "--index", fp_index, "--format", "json", "--no-ml"), 1).json()
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    for link in ("abs_link.py", "sub/rel_link.py", "passwd.py"):
        assert "outside the scanned tree" in skipped[link], skipped
    assert "looping symlink" in skipped["loop1.py"]
    assert {f["path"] for f in report["findings"]} == {"real.py", "inside_link.py"}

    summary = sane(
        codeguard("index", "add", tree, "--index", tmp_path / "idx", "--no-ml", "--json"), 0
    ).json()
    assert {s["path"] for s in summary["skipped"]} >= {"abs_link.py", "sub/rel_link.py", "passwd.py"}
    assert {p for p, _ in index_texts(tmp_path / "idx")} == {"real.py", "inside_link.py"}
    assert_nothing_from_outside(tmp_path / "idx")
    assert not any(b"root:" in c for _, c in index_texts(tmp_path / "idx"))


# -- 2. nested code with the model on ----------------------------------------------------------


def nested_js(n: int) -> str:
    """``n`` functions, each declared inside the previous one."""
    return "".join(f"function f{i}(a, b) {{\n  var x{i} = a + b * {i};\n" for i in range(n)) + "}\n" * n


def test_nested_functions_are_bounded_chunks() -> None:
    parsed = parse_file(nested_js(3000).encode(), "javascript")
    assert max(c.depth for c in parsed.chunks) < MAX_CHUNK_DEPTH
    assert len([c for c in parsed.chunks if c.kind == "function"]) == MAX_CHUNK_DEPTH
    assert parsed.dropped_chunks == 3000 - MAX_CHUNK_DEPTH
    siblings = "".join(f"function g{i}(a) {{ return a + {i}; }}\n" for i in range(MAX_CHUNKS + 500))
    parsed = parse_file(siblings.encode(), "javascript")
    assert len(parsed.chunks) == MAX_CHUNKS and parsed.dropped_chunks == 500
    # The first chunks are kept, in order.
    assert [c.name for c in parsed.chunks[:3]] == ["g0", "g1", "g2"]


def test_embedded_chunk_text_is_bounded() -> None:
    content = ("x = 1\n" * 100_000).encode()
    assert len(ChunkTexts(content).text(1, 100_000)) == MAX_TEXT_BYTES
    assert ChunkTexts(content).text(2, 3) == "x = 1\nx = 1"


def test_deeply_nested_functions_with_the_model_on_stay_bounded(tmp_path: Path, ml_index: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "deep.js").write_text(nested_js(20_000))  # about 0.8 MB, under the 2 MB limit
    (tree / "copy.py").write_text(LEVENSHTEIN)
    run = sane(codeguard("scan", tree, "--index", ml_index, "--format", "json"), 1)
    report = run.json()
    assert report["stats"]["semantic"]["status"] == "on"
    assert report["stats"]["chunks"] <= MAX_CHUNK_DEPTH + 2
    notes = {n["path"]: n["note"] for n in report["stats"]["notes"]}
    assert "over the per-file limits" in notes["deep.js"]
    assert [f["path"] for f in report["findings"]] == ["copy.py"]

    index = tmp_path / "idx"
    summary = sane(codeguard("index", "add", tree, "--index", index, "--json"), 0).json()
    assert 0 < summary["embedded"] <= MAX_CHUNK_DEPTH + 2
    assert summary["chunks"] <= MAX_CHUNK_DEPTH + 2


# -- 3a. file names that are not UTF-8 ------------------------------------------------------------


def test_names_that_are_not_utf8_are_scanned_indexed_and_reported(tmp_path: Path, fp_index: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    bad_dir = os.fsdecode(bytes(tree) + b"/dir\xe9")
    os.mkdir(bad_dir)
    Path(os.fsdecode(bytes(tree) + b"/caf\xe9.py")).write_text(MERGE_INTERVALS)
    Path(bad_dir, os.fsdecode(b"g\xff.py")).write_text(TOPO_SORT)
    Path(os.fsdecode(bytes(tree) + b"/bin\xfe.py")).write_bytes(b"\x00\x01binary\x00" * 10)
    for fmt in ("text", "json", "sarif", "html", "github"):
        run = sane(codeguard("scan", tree, "--index", fp_index, "--format", fmt, "--no-ml"), 1)
        shown = json.dumps("caf\\xe9.py")[1:-1] if fmt == "json" else "caf\\xe9.py"
        if fmt == "sarif":  # a URI reference: the escape's backslash percent-encoded
            shown = "caf%5Cxe9.py"
        assert shown in run.out, (fmt, run.out[:2000])
    report = sane(codeguard("scan", tree, "--index", fp_index, "--format", "json", "--no-ml"), 1).json()
    assert {f["path"] for f in report["findings"]} == {"caf\\xe9.py", "dir\\xe9/g\\xff.py"}
    assert report["skipped"] == [{"path": "bin\\xfe.py", "reason": "binary file"}]
    index = tmp_path / "idx"
    summary = sane(codeguard("index", "add", tree, "--index", index, "--no-ml", "--json"), 0).json()
    assert summary["added"] == 2
    assert {p for p, _ in index_texts(index)} == {"caf\\xe9.py", "dir\\xe9/g\\xff.py"}


def test_names_that_are_not_utf8_from_git_trees_are_escaped(tmp_path: Path, fp_index: Path) -> None:
    """Names in git trees and in the git index are bytes: those that are not UTF-8 are indexed
    (index add of a repository at a revision) and scanned (--staged, with or without the file
    named as pre-commit names it) under their escaped name, never a crash."""
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x",
    }

    def git(cwd: Path, *args: str) -> None:
        subprocess.run(["git", *args], cwd=cwd, env=os.environ | env, check=True, capture_output=True)

    src = tmp_path / "src"
    src.mkdir()
    git(src, "init", "-q", "-b", "main")
    Path(os.fsdecode(bytes(src) + b"/g\xffraph.py")).write_text(TOPO_SORT)
    (src / "ok.py").write_text(MERGE_INTERVALS)
    git(src, "add", ".")
    git(src, "commit", "-qm", "x")
    index = tmp_path / "idx"
    for source in (f"{src}@HEAD", f"file://{src}"):
        sane(codeguard("index", "add", source, "--index", index, "--no-ml", "--license", "MIT"), 0)
    assert {p for p, _ in index_texts(index)} == {"g\\xffraph.py", "ok.py"}

    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    staged = os.fsdecode(bytes(repo) + b"/n\xfeew.py")
    Path(staged).write_text(TOPO_SORT)
    git(repo, "add", ".")
    for named in ((), (staged,)):
        for fmt in ("text", "json", "sarif", "github", "html"):
            run = sane(
                codeguard("scan", "--staged", repo, *named, "--index", fp_index, "--format", fmt, "--no-ml"),
                1,
            )
            shown = json.dumps("n\\xfeew.py")[1:-1] if fmt == "json" else "n\\xfeew.py"
            if fmt == "sarif":
                shown = "n%5Cxfeew.py"
            assert shown in run.out, (fmt, run.out[:2000])


# -- 3b. directories without read permission ------------------------------------------------------


def without_dac_override() -> list[str] | None:
    """A command prefix under which permission bits apply (root ignores them), or None."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--"]
    probe = subprocess.run([*prefix, "true"], capture_output=True, check=False)
    return prefix if probe.returncode == 0 else None


def test_unreadable_directory_is_skipped_with_its_reason(tmp_path: Path, fp_index: Path) -> None:
    prefix = without_dac_override()
    if prefix is None:
        pytest.skip("running as root without setpriv: permission bits cannot deny a read here")
    tree = tmp_path / "tree"
    locked = tree / "locked"
    locked.mkdir(parents=True)
    (locked / ".gitignore").write_text("*.tmp\n")
    (locked / "hidden.py").write_text(TOPO_SORT)
    (tree / "ok.py").write_text(MERGE_INTERVALS)
    locked.chmod(0)
    env = os.environ | {"PYTHONPATH": str(REPO)}
    try:
        for args, code in (
            (["scan", tree, "--index", fp_index, "--format", "json", "--no-ml"], 1),
            (["index", "add", tree, "--index", tmp_path / "idx", "--no-ml", "--json"], 0),
        ):
            proc = subprocess.run(
                [*prefix, sys.executable, "-m", "codeguard", *map(str, args)],
                capture_output=True,
                text=True,
                env=env,
                timeout=HANG_S,
                check=False,
            )
            assert proc.returncode == code, proc.stderr
            assert "Traceback" not in proc.stderr
            skipped = {s["path"]: s["reason"] for s in json.loads(proc.stdout)["skipped"]}
            assert "Permission denied" in skipped["locked"], skipped
    finally:
        locked.chmod(0o755)


# -- 3c-3f. concurrent adds, git helper URLs, deep baselines, damaged indexes ---------------------


def test_two_adds_of_the_same_source_at_once_never_crash(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    for i in range(150):
        write_corpus(corpus / f"p{i}")
    index = tmp_path / "idx"
    env = os.environ | {"PYTHONPATH": str(REPO)}

    def both(name: str) -> None:
        cmd = [sys.executable, "-m", "codeguard", "index", "add", str(corpus), "--index", str(index)]
        cmd += ["--no-ml", "-j", "1", "--name", name]
        procs = [subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        results = [(p.wait(timeout=HANG_S), p.stderr.read() if p.stderr else "") for p in procs]
        for code, err in results:
            assert code in (0, 4), err
            assert "Traceback" not in err
            if code == 4:
                assert "busy" in err
        assert 0 in [c for c, _ in results]

    both("first")  # both create the index
    both("second")  # both add a source the index does not have yet
    for i in (3, 5):  # both update a source changed since it was indexed
        (corpus / f"p{i}" / "graph.py").write_text(TOPO_SORT + f"\n\nchanged = {i}\n")
    both("second")
    listing = sane(codeguard("index", "list", "--index", index, "--json"), 0).json()
    assert [(s["name"], s["files"]) for s in listing["sources"]] == [("first", 450), ("second", 450)]
    stored = dict(index_texts(index))  # the last path wins: "second" was added after "first"
    assert b"changed = 3" in stored["p3/graph.py"] and b"changed = 5" in stored["p5/graph.py"]


@pytest.mark.parametrize(
    "url",
    ["ext::sh -c touch% {marker}", "ext::sh -c touch% {marker}@HEAD", "ext://sh -c touch% {marker}", "fd::7"],
)
def test_git_remote_helper_urls_are_a_usage_error(tmp_path: Path, url: str) -> None:
    marker = tmp_path / "pwned"
    run = sane(codeguard("index", "add", url.format(marker=marker), "--index", tmp_path / "idx"), 2)
    assert "Refusing the git URL" in run.err
    assert not marker.exists() and not (tmp_path / "idx").exists()


def test_baseline_nested_too_deeply_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(MERGE_INTERVALS)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    run = sane(codeguard("scan", tmp_path, "--no-index", "--baseline", deep), 2)
    assert "nested too deeply" in run.err and str(deep) in run.err


@pytest.mark.parametrize("table", ["postings", "chunks", "sources"])
def test_index_missing_a_table_is_unavailable(tmp_path: Path, fp_index: Path, table: str) -> None:
    index = shutil.copytree(fp_index, tmp_path / "idx")
    conn = sqlite3.connect(index / "index.db")
    conn.execute(f"DROP TABLE {table}")
    conn.commit()
    conn.close()
    (tmp_path / "a.py").write_text(MERGE_INTERVALS)
    for args in (
        ["scan", tmp_path / "a.py", "--index", index, "--no-ml"],
        ["index", "list", "--index", index],
    ):
        run = sane(codeguard(*args), 4)
        assert f"table(s) {table} missing" in run.err


# -- 4. a killed index add takes its workers with it --------------------------------------------


def _session(sid: int) -> list[int]:
    """Processes of the session ``sid`` (from /proc)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid and fields[0] != "Z":  # session id; zombies are gone already
            pids.append(int(entry))
    return pids


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_killed_index_add_leaves_no_worker_behind(tmp_path: Path) -> None:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    env = os.environ | {"PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "codeguard", "index", "add", str(stdlib), "--index", str(tmp_path / "idx")]
    proc = subprocess.Popen([*cmd, "--no-ml", "-j", "2", "-q"], env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(_session(proc.pid)) < 3:  # the parent and its two workers
            assert proc.poll() is None, "index add ended before its workers started"
            assert time.monotonic() < deadline, "no workers started"
            time.sleep(0.05)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 5
        while _session(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _session(proc.pid) == [], "workers outlived the killed index add"
    finally:
        for pid in _session(proc.pid):
            os.kill(pid, signal.SIGKILL)


# -- 5. a broken pyproject.toml -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "word"),
    [
        (b'[tool.codeguard]\nfail-on = "error"\n[broken\n', "invalid TOML"),
        (b'[tool.codeguard]\nfail-on = "error"\n# caf\xe9\n', "not valid UTF-8"),
    ],
)
def test_broken_pyproject_with_codeguard_settings_is_a_config_error(
    tmp_path: Path, content: bytes, word: str
) -> None:
    (tmp_path / "pyproject.toml").write_bytes(content)
    (tmp_path / "a.py").write_text(MERGE_INTERVALS)
    run = sane(codeguard("scan", tmp_path, "--no-index"), 2)
    assert str(tmp_path / "pyproject.toml") in run.err and word in run.err


def test_broken_pyproject_of_another_tool_is_not_config(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_bytes(b"[tool.black\nline-length = 1\n")
    (tmp_path / "a.py").write_text(MERGE_INTERVALS)
    sane(codeguard("scan", tmp_path, "--no-index"), 0)


# -- 6. virtual environments, build outputs, generated files, data tables -------------------------


def test_virtualenvs_build_outputs_and_caches_are_skipped_by_default(tmp_path: Path, fp_index: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", tree / "env"], check=True)
    skipped_dirs = ["env", "node_modules/lib", "build", "dist", "pkg.egg-info", ".tox/py", ".mypy_cache"]
    walked = ["src", "src/pkg/build"]  # a package's own `build` module directory is code
    for d in skipped_dirs + walked:
        (tree / d).mkdir(parents=True, exist_ok=True)
        (tree / d / "copied.py").write_text(TOPO_SORT)
    (tree / "__pycache__").mkdir()
    (tree / "__pycache__" / "x.py").write_text(TOPO_SORT)

    report = sane(codeguard("scan", tree, "--index", fp_index, "--format", "json", "--no-ml"), 1).json()
    assert {f["path"] for f in report["findings"]} == {f"{d}/copied.py" for d in walked}
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    assert set(skipped) == {d.split("/")[0] + "/" for d in skipped_dirs}
    assert "virtual environment" in skipped["env/"] and "--include-skipped-dirs" in skipped["env/"]
    text = sane(codeguard("scan", tree, "--index", fp_index, "--no-ml"), 1).out
    # the summary counts the directories, says why and how to include them, once
    [said] = [ln for ln in text.splitlines() if ln.startswith("Skipped")]
    assert said == (
        "Skipped 7 directories by default: 2 tool cache, 2 build output, 1 virtual environment, "
        "1 installed dependencies, 1 package metadata (--include-skipped-dirs walks them)."
    ), said
    assert text.count("--include-skipped-dirs") == 1
    (tree / "src" / "blob.py").write_bytes(b"\x00\x01binary\x00" * 10)
    text = sane(codeguard("scan", tree, "--index", fp_index, "--no-ml"), 1).out
    assert "Skipped 1 file(s): 1 binary file (details: --format json)." in text.splitlines()
    (tree / "src" / "blob.py").unlink()

    report = sane(
        codeguard("scan", tree, "--index", fp_index, "--format", "json", "--no-ml", "--include-skipped-dirs"),
        1,
    ).json()
    found = {f["path"] for f in report["findings"]}
    assert found >= {f"{d}/copied.py" for d in skipped_dirs + walked}
    assert "__pycache__/x.py" not in found  # bytecode caches are never walked

    summary = sane(
        codeguard("index", "add", tree, "--index", tmp_path / "idx", "--no-ml", "--json"), 0
    ).json()
    assert summary["added"] == len(walked)


def test_files_that_declare_themselves_generated_are_skipped(tmp_path: Path, fp_index: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "pb.py").write_text("# Code generated by protoc-gen-py. DO NOT EDIT.\n" + TOPO_SORT)
    (tree / "gen.js").write_text("/* @generated by relay */\nfunction f(a) { return a + 1; }\n")
    (tree / "table.py").write_text("# This file is auto-generated by tools/mk.py\n" + LEVENSHTEIN)
    (tree / "mine.py").write_text(
        "# Hot path, tuned by hand.\n# Do not edit without careful benchmarking.\n" + MERGE_INTERVALS
    )
    report = sane(codeguard("scan", tree, "--index", fp_index, "--format", "json", "--no-ml"), 1).json()
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    assert set(skipped) == {"pb.py", "gen.js", "table.py"}
    assert all(r.startswith("generated") for r in skipped.values())
    assert [f["path"] for f in report["findings"]] == ["mine.py"]


def data_table(seed: int, segments: int = 85) -> str:
    """A module shaped like idna's uts46data.py: functions returning 100 rows of tuples each."""
    rng = random.Random(seed)
    lines = ["from typing import List, Tuple, Union", "", "__version__ = '15.1.0'"]
    cp = 0
    for seg in range(segments):
        lines += [f"def _seg_{seg}() -> List[Union[Tuple[int, str], Tuple[int, str, str]]]:", "    return ["]
        for _ in range(100):
            cp += rng.randint(1, 4)
            kind = rng.choice("VVVMMX3")
            extra = f", '{chr(rng.randint(0x61, 0x7A))}'" if kind == "M" else ""
            lines.append(f"    (0x{cp:X}, '{kind}'{extra}),")
        lines += ["    ]", ""]
    lines += ["uts46data = tuple(", "    _seg_0()", *[f"    + _seg_{s}()" for s in range(1, segments)], ")"]
    return "\n".join(lines) + "\n"


def test_data_table_fingerprints_repeat_a_bounded_number_of_times() -> None:
    a = analyze("uts46data.py", data_table(1).encode(), "python")
    assert isinstance(a, Analyzed)
    for hashes in (a.hashes, a.raw_hashes):
        _, counts = np.unique(hashes, return_counts=True)
        assert counts.max() <= MAX_REPEATS
    assert "repeated over" in a.note


def test_copied_data_table_is_found_with_bounded_cost(tmp_path: Path) -> None:
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / "uts46data.py").write_text(data_table(1))
    (ref / "other_table.py").write_text(data_table(2))
    index = tmp_path / "idx"
    sane(codeguard("index", "add", ref, "--index", index, "--no-ml"), 0)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "uts46data.py").write_text(data_table(1))
    # Half of the table (its first 45 segments): not the same file, so matched chunk by chunk.
    (tree / "part.py").write_text(data_table(1, segments=45))
    run = sane(codeguard("scan", tree, "--index", index, "--format", "json", "--no-ml"), 1)
    findings = run.json()["findings"]
    # The identical copy is one whole-file finding, not one per segment.
    [whole] = [f for f in findings if f["path"] == "uts46data.py"]
    assert (whole["match_type"], whole["chunk"]["kind"], whole["start_line"]) == ("exact", "file", 1)
    assert whole["end_line"] == data_table(1).count("\n") and whole["origin"]["path"] == "uts46data.py"
    part = [f for f in findings if f["path"] == "part.py"]
    assert len(part) == 45 and {f["match_type"] for f in part} == {"exact"}
    assert {f["origin"]["path"] for f in part} == {"uts46data.py"}


# -- the fuzz-style suite: everything at once, with random bytes and a concurrent writer ------------


def _names(rng: random.Random) -> Iterator[bytes]:
    odd = [b"caf\xe9.py", b"\xff\xfe.js", b"new\nline.py", b"-rf.py", b" space .py", "ünï©ødé.py".encode()]
    odd += [b"tab\t.go", b"a" * 200 + b".py", b".hidden.py", b"no_ext", b"x.PY", b"q?.rs"]
    rng.shuffle(odd)
    yield from odd
    while True:
        yield bytes(rng.choice(b"abcxyz_\xe9\xc3-") for _ in range(rng.randint(1, 12))) + rng.choice(
            [b".py", b".js", b".c", b".java", b".go", b".ts", b".rb"]
        )


def build_adversarial_tree(base: Path, seed: int) -> Path:
    """A tree holding every kind of bad input, with some copies of the corpus in it."""
    rng = random.Random(seed)
    secret = secret_outside(base)
    tree = base / f"tree{seed}"
    tree.mkdir()
    root = bytes(tree)
    names = _names(rng)
    functions = [MERGE_INTERVALS, LEVENSHTEIN, TOPO_SORT]
    for _ in range(12):
        name = next(names)
        kind = rng.randrange(5)
        if kind == 0:
            data = bytes(rng.randrange(256) for _ in range(rng.randint(0, 5000)))
        elif kind == 1:
            data = rng.choice(functions).encode()
        elif kind == 2:  # code with random bytes spliced in
            text = bytearray(rng.choice(functions).encode())
            for _ in range(rng.randint(1, 20)):
                text.insert(rng.randrange(len(text)), rng.randrange(256))
            data = bytes(text)
        elif kind == 3:  # a huge line
            data = b"x = '" + b"a" * rng.randint(10_000, 1_500_000) + b"'\n"
        else:  # deeply nested expressions
            n = rng.randint(1000, 50_000)
            data = b"x = " + b"(\n" * n + b"1" + b")\n" * n
        with open(root + b"/" + name, "wb") as fh:
            fh.write(data)
    deep = root
    for _ in range(rng.randint(50, 1200)):  # deep nesting (more than Python's recursion limit)
        deep += b"/d"
        os.mkdir(deep)
    with open(deep + b"/deep.py", "wb") as fh:
        fh.write(TOPO_SORT.encode())
    links = {
        b"out_abs.py": bytes(secret),
        b"out_rel.py": b"../outside/secret.py",
        b"passwd.py": b"/etc/passwd",
        b"zero.py": b"/dev/zero",
        b"self.py": b"self.py",
        b"dangling.js": b"nowhere.js",
        b"up": b"..",
        b"outdir": bytes(secret.parent),
    }
    for name, target in links.items():
        os.symlink(target, root + b"/" + name)
    os.mkfifo(root + b"/fifo.py")
    (tree / "ignored").mkdir()
    (tree / "ignored" / ".gitignore").write_bytes(bytes(rng.randrange(256) for _ in range(300)))
    (tree / "venv").mkdir()
    (tree / "venv" / "pyvenv.cfg").write_text("home = /usr\n")
    (tree / "venv" / "lib.py").write_text(MERGE_INTERVALS)
    return tree


class Writer(threading.Thread):
    """Changes a tree while it is scanned: creates, rewrites, truncates and removes files and
    directories, and swaps a file for a symlink out of the tree."""

    def __init__(self, tree: Path, seed: int):
        super().__init__(daemon=True)
        self.tree, self.rng, self.stop = tree, random.Random(seed), threading.Event()

    def run(self) -> None:
        churn = self.tree / "churn"
        secret = self.tree.parent / "outside" / "secret.py"
        while not self.stop.is_set():
            try:
                churn.mkdir(exist_ok=True)
                f = churn / f"f{self.rng.randrange(20)}.py"
                action = self.rng.randrange(4)
                if action == 0:
                    f.write_text(TOPO_SORT * self.rng.randint(1, 30))
                elif action == 1:
                    f.unlink(missing_ok=True)
                    os.symlink(secret, f)
                elif action == 2:
                    f.unlink(missing_ok=True)
                else:
                    shutil.rmtree(churn, ignore_errors=True)
            except OSError:
                pass
            time.sleep(0.001)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_adversarial_trees(tmp_path: Path, fp_index: Path, seed: int) -> None:
    tree = build_adversarial_tree(tmp_path, seed)
    writer = Writer(tree, seed)
    writer.start()
    try:
        for fmt in ("json", "text", "html", "sarif"):
            run = sane(codeguard("scan", tree, "--index", fp_index, "--format", fmt, "--no-ml"), 0, 1)
        report = sane(
            codeguard("scan", tree, "--index", fp_index, "--format", "json", "--no-ml"), 0, 1
        ).json()
        index = tmp_path / "idx"
        summary = sane(codeguard("index", "add", tree, "--index", index, "--no-ml", "--json"), 0).json()
        sane(codeguard("index", "add", tree, "--index", index, "--no-ml", "--json"), 0)  # again, incremental
    finally:
        writer.stop.set()
        writer.join()
    assert run.out
    scanned = {f["path"] for f in report["findings"]}
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    for link in ("out_abs.py", "out_rel.py", "passwd.py", "zero.py"):
        assert "outside the scanned tree" in skipped[link] and link not in scanned
    assert "fifo.py" in skipped and "venv/" in skipped
    assert any(p.endswith("/deep.py") for p in scanned)
    assert {"out_abs.py", "out_rel.py", "passwd.py"} <= {s["path"] for s in summary["skipped"]}
    assert_nothing_from_outside(index)
    assert not {"out_abs.py", "out_rel.py", "passwd.py", "zero.py"} & {p for p, _ in index_texts(index)}
