"""Distributed indexing on a real local Ray cluster and scans of the sharded index it writes.

One Ray start-up for the module (``ray_cluster``, 2 CPUs): the CLI joins the running cluster.
The corpus is real standard-library code plus 28 small files sharing one helper: the helper is
in more files than the index's document-frequency cap only when all shards are counted together,
so a sharded scan that judged rarity per shard would report it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from codeguard.model import Skip

RAY_DAEMONS = {"gcs_server", "raylet"}
STDLIB = Path(sysconfig.get_paths()["stdlib"])
STD_FILES = [
    "bisect.py", "colorsys.py", "fnmatch.py", "genericpath.py", "heapq.py", "keyword.py",
    "linecache.py", "numbers.py", "opcode.py", "operator.py", "queue.py", "reprlib.py",
    "sched.py", "shlex.py", "stat.py", "textwrap.py", "this.py", "token.py", "tty.py",
    "weakref.py", "abc.py", "glob.py", "copy.py", "graphlib.py",
]  # fmt: skip
SHARED_HELPER = '''
def normalise_record(record, defaults, required):
    """Fill in defaults, check required keys and strip string values of a record."""
    out = dict(defaults)
    for key, value in record.items():
        if isinstance(value, str):
            value = value.strip()
        out[key] = value
    missing = [key for key in required if key not in out or out[key] in (None, "")]
    if missing:
        raise KeyError("missing keys: " + ", ".join(sorted(missing)))
    return out
'''


def _unique(i: int) -> str:
    return f'''
def table_{i}(rows, width={i + 3}):
    """Render rows as a fixed-width table of {i + 3} columns."""
    lines = []
    for row in rows:
        cells = [str(cell).ljust(width) for cell in row[: {i % 5 + 2}]]
        lines.append(" | ".join(cells) + " # {i}")
    return "\\n".join(lines)
'''


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """The module's local cluster; the tests that need it skip where the ray extra is missing."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'codeguard[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ray-corpus")
    for name in STD_FILES:
        (root / "a_std").mkdir(exist_ok=True)
        shutil.copy(STDLIB / name, root / "a_std" / name)
    (root / "b_gen").mkdir()
    for i in range(28):
        (root / "b_gen" / f"mod_{i:02d}.py").write_text(
            f'"""Generated module {i}."""\n{SHARED_HELPER}{_unique(i)}'
        )
    # A fork of one module with an edit: a second family for the same code (also_in).
    (root / "c_fork").mkdir()
    text = (STDLIB / "textwrap.py").read_text()
    (root / "c_fork" / "textwrap.py").write_text(text.replace("# Hardcode the recognized whitespace", "# ws"))
    (root / "LICENSE").write_text(
        "MIT License\n\nPermission is hereby granted, free of charge, to any person"
    )
    return root


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ray-project")
    for name in ["heapq.py", "shlex.py"]:
        shutil.copy(STDLIB / name, root / name)  # identical files: one whole-file finding each
    # Part of a file (not identical, not near-identical): its functions are found one by one, in
    # the stdlib file and in the corpus's fork of it.
    text = (STDLIB / "textwrap.py").read_text()
    (root / "wrap_part.py").write_text("import re\n\n\n" + text[text.index("def dedent(") :])
    renamed = (STDLIB / "bisect.py").read_text().replace("insort_right", "put_sorted").replace("lo", "low")
    (root / "sorted_insert.py").write_text(renamed)
    (root / "records.py").write_text(f'"""Records."""\n{SHARED_HELPER}')
    return root


Run = Callable[..., tuple[int, str, str]]


# Found by the semantic layer at a low --semantic-threshold (it shares no fingerprint run).
RANGES_REWRITE = (
    "def combine(spans):\n    out = []\n    for lo, hi in sorted(spans):\n"
    "        if out and lo <= out[-1][1]:\n            out[-1] = (out[-1][0], max(out[-1][1], hi))\n"
    "        else:\n            out.append((lo, hi))\n    return out\n"
)


def _add_args(corpus: Path, index: Path, shard_files: int) -> list[str | Path]:
    return [
        "index", "add", corpus, "--name", "corpus", "--index", index, "--no-ml", "--ray", "--json", "--quiet",
        "--shard-files", str(shard_files),
    ]  # fmt: skip


def _add_ray(run_cli: Run, corpus: Path, index: Path, shard_files: int = 20) -> dict[str, Any]:
    code, out, err = run_cli(*_add_args(corpus, index, shard_files))
    assert code == 0, err
    return dict(json.loads(out))


def _findings(scan_json: Callable[..., Any], project: Path, index: Path) -> list[dict[str, Any]]:
    _, report, _ = scan_json(project, index, "--no-ml", "--no-baseline")
    return list(report["findings"])


@pytest.fixture(scope="module")
def single(
    tmp_path_factory: pytest.TempPathFactory, corpus: Path, run_cli: Run, add_json: Callable[..., Any]
) -> Path:
    index = tmp_path_factory.mktemp("single") / "index"
    add_json(corpus, index, "--name", "corpus", "--no-ml")
    return index


@pytest.fixture(scope="module")
def sharded(tmp_path_factory: pytest.TempPathFactory, corpus: Path, run_cli: Run, ray_cluster: None) -> Path:
    index = tmp_path_factory.mktemp("sharded") / "index"
    summary = _add_ray(run_cli, corpus, index)
    assert len(summary["shards"]) == 3 and summary["built"] == summary["shards"]
    return index


def test_sharded_scan_finds_exactly_what_one_index_finds(
    single: Path, sharded: Path, project: Path, scan_json: Callable[..., Any]
) -> None:
    one = _findings(scan_json, project, single)
    many = _findings(scan_json, project, sharded)
    assert len(one) >= 4
    assert any(f["also_in"] for f in one), "the corpus fork gives a second origin"
    assert any(f["chunk"]["name"] == "identical file" for f in one), "whole-file identity"
    # The shared helper is in 28 files: above the index's document-frequency cap (25) only
    # when all three shards are counted together; one index ignores it, so must the shards.
    assert not any(f["path"] == "records.py" for f in one)
    assert many == one  # same findings, order, also_in, P(copy)
    _, report, _ = scan_json(project, sharded, "--no-baseline")
    assert report["findings"] == one and "no embeddings" in report["stats"]["semantic"]["status"]


def test_the_semantic_layer_fans_out_over_shards_as_over_one_index(
    tmp_path_factory: pytest.TempPathFactory,
    corpus: Path,
    project: Path,
    run_cli: Run,
    add_json: Callable[..., Any],
    scan_json: Callable[..., Any],
    ray_cluster: None,
) -> None:
    """Shards embedded by `index add --ray --model` are searched as one vector index: each
    shard's neighbours merged by score give the single index's semantic findings."""
    pytest.importorskip("torch")
    from test_ml_train import trained_model

    model = trained_model(tmp_path_factory.mktemp("ml"))
    one = tmp_path_factory.mktemp("single-ml") / "index"
    add_json(corpus, one, "--name", "corpus", "--model", model)
    many = tmp_path_factory.mktemp("sharded-ml") / "index"
    args = [a for a in _add_args(corpus, many, 20) if a != "--no-ml"]
    code, out, err = run_cli(*args, "--model", model)
    assert code == 0, err
    assert len(json.loads(out)["shards"]) == 3
    (project / "ranges.py").write_text(RANGES_REWRITE)
    try:
        opts = ("--model", str(model), "--semantic-threshold", "0.000001", "--no-baseline")
        _, single_report, _ = scan_json(project, one, *opts)
        _, sharded_report, _ = scan_json(project, many, *opts)
    finally:
        (project / "ranges.py").unlink()
    semantic = [f for f in single_report["findings"] if f["match_type"] == "semantic"]
    assert semantic, single_report["findings"]
    assert sharded_report["stats"]["semantic"]["status"] == "on"
    assert sharded_report["stats"]["semantic"]["vectors"] == single_report["stats"]["semantic"]["vectors"]
    assert sharded_report["findings"] == single_report["findings"]


def test_scanning_the_indexed_tree_sets_its_own_copies_aside_in_shards_as_in_one_index(
    single: Path, sharded: Path, corpus: Path, scan_json: Callable[..., Any]
) -> None:
    one = _findings(scan_json, corpus, single)
    many = _findings(scan_json, corpus, sharded)
    assert one and all(f["path"] != f["origin"]["path"] for f in one)
    # the fork of textwrap.py and the stdlib file name each other
    wrap = {f["path"]: f["origin"]["path"] for f in one if f["path"].endswith("textwrap.py")}
    assert wrap == {"a_std/textwrap.py": "c_fork/textwrap.py", "c_fork/textwrap.py": "a_std/textwrap.py"}
    assert many == one


def test_sharded_index_lists_what_one_index_holds(sharded: Path, single: Path, run_cli: Run) -> None:
    listed = {}
    for name, index in [("single", single), ("sharded", sharded)]:
        code, out, _ = run_cli("index", "list", "--index", index, "--json")
        assert code == 0
        listed[name] = json.loads(out)
    one, many = listed["single"], listed["sharded"]
    assert many["stats"].pop("shards") == 3
    assert many["stats"] == one["stats"]  # files, chunks, fingerprints, common fingerprints
    keys = ["name", "kind", "license", "files", "chunks", "commit"]
    assert [{k: s[k] for k in keys} for s in many["sources"]] == [
        {k: s[k] for k in keys} for s in one["sources"]
    ]


def _copy(index: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "copy"
    shutil.copytree(index, dest)
    return dest


def _manifest(index: Path) -> dict[str, Any]:
    return dict(json.loads((index / "shards.json").read_text()))


def test_interrupted_add_resumes_keeping_complete_shards(
    sharded: Path,
    single: Path,
    corpus: Path,
    project: Path,
    tmp_path: Path,
    run_cli: Run,
    scan_json: Callable[..., Any],
) -> None:
    # The state a crash after two of three shards leaves: the source pending, two shards recorded.
    index = _copy(sharded, tmp_path)
    doc = _manifest(index)
    source = doc["sources"].pop()
    names = source["shards"]
    doc["pending"] = {"corpus": {k: v for k, v in source.items() if k not in ("complete", "skipped")}}
    del doc["shards"][names[2]]
    shutil.rmtree(index / "shards" / names[2])
    (index / "shards.json").write_text(json.dumps(doc))
    for p in index.glob("common-*.db"):
        p.unlink()
    code, _, err = run_cli("scan", project, "--index", index, "--no-ml", "--format", "json")
    assert code == 4 and "no complete source" in err and "resume" in err  # nothing half-written trusted
    summary = _add_ray(run_cli, corpus, index)
    assert summary["kept"] == names[:2] and summary["built"] == [names[2]]
    assert _findings(scan_json, project, index) == _findings(scan_json, project, single)


def test_readding_an_unchanged_source_rebuilds_nothing(
    sharded: Path, corpus: Path, tmp_path: Path, run_cli: Run
) -> None:
    index = _copy(sharded, tmp_path)
    summary = _add_ray(run_cli, corpus, index)
    assert summary["built"] == [] and len(summary["kept"]) == 3
    assert summary["unchanged"] == _manifest(sharded)["common"]["files"]


def test_index_embed_on_a_sharded_index_gives_the_single_index_its_semantic_findings(
    tmp_path_factory: pytest.TempPathFactory,
    single: Path,
    sharded: Path,
    project: Path,
    tmp_path: Path,
    run_cli: Run,
    scan_json: Callable[..., Any],
) -> None:
    pytest.importorskip("torch")
    from test_ml_train import trained_model

    model = trained_model(tmp_path_factory.mktemp("ml"))
    one, many = _copy(single, tmp_path / "one"), _copy(sharded, tmp_path / "many")
    for index in (one, many):
        code, out, err = run_cli("index", "embed", "--model", model, "--index", index, "--json", "--quiet")
        assert code == 0, err
        assert json.loads(out)["vectors"] > 0
    assert sum(r["vectors"] for r in _manifest(many)["shards"].values()) == json.loads(out)["vectors"]
    opts = ("--model", str(model), "--semantic-threshold", "0.000001", "--no-baseline")
    (project / "ranges.py").write_text(RANGES_REWRITE)
    try:
        _, single_report, _ = scan_json(project, one, *opts)
        _, sharded_report, _ = scan_json(project, many, *opts)
    finally:
        (project / "ranges.py").unlink()
    assert sharded_report["stats"]["semantic"]["status"] == "on"
    assert any(f["match_type"] == "semantic" for f in single_report["findings"])
    assert sharded_report["findings"] == single_report["findings"]


def test_removing_a_source_from_a_sharded_index_leaves_what_the_others_find(
    sharded: Path, project: Path, tmp_path: Path, run_cli: Run, scan_json: Callable[..., Any]
) -> None:
    index = _copy(sharded, tmp_path)
    extra = tmp_path / "extra"
    extra.mkdir()
    shutil.copy(STDLIB / "heapq.py", extra / "heapq.py")
    (extra / "records.py").write_text(f'"""Records."""\n{SHARED_HELPER}')
    code, out, err = run_cli(
        "index", "add", extra, "--name", "extra", "--index", index, "--no-ml", "--ray", "--json", "--quiet"
    )
    assert code == 0, err
    added = {f["origin"]["source"] for f in _findings(scan_json, project, index)}
    assert added == {"corpus", "extra"}
    extra_shards = _manifest(index)["sources"][-1]["shards"]

    code, out, err = run_cli("index", "remove", "extra", "--index", index)
    assert code == 0, err
    assert "removed extra (2 files)" in out
    assert _findings(scan_json, project, index) == _findings(scan_json, project, sharded)
    assert not any((index / "shards" / n).exists() for n in extra_shards)
    assert [s["name"] for s in _manifest(index)["sources"]] == ["corpus"]

    code, _, err = run_cli("index", "remove", "nope", "--index", index)
    assert code == 2 and "No source named 'nope'" in err and "corpus" in err
    code, _, err = run_cli("index", "remove", "corpus", "--index", index)
    assert code == 2 and "only source" in err


@pytest.mark.parametrize("damage", ["missing", "truncated", "garbage", "other-params", "swapped"])
def test_damaged_shard_is_named_exit_4(
    damage: str, sharded: Path, project: Path, tmp_path: Path, run_cli: Run
) -> None:
    index = _copy(sharded, tmp_path)
    names = _manifest(index)["shards"]
    victim = sorted(names)[1]
    db = index / "shards" / victim / "index.db"
    if damage == "missing":
        shutil.rmtree(db.parent)
    elif damage == "truncated":
        db.write_bytes(db.read_bytes()[:4096])
    elif damage == "garbage":
        db.write_bytes(b"\x17" * db.stat().st_size)
    elif damage == "other-params":
        conn = sqlite3.connect(db)
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'k'")
        conn.commit()
        conn.close()
        doc = _manifest(index)
        doc["shards"][victim]["bytes"] = db.stat().st_size
        (index / "shards.json").write_text(json.dumps(doc))
    else:  # another shard's database in its place
        other = sorted(names)[0]
        shutil.copy(index / "shards" / other / "index.db", db)
        doc = _manifest(index)
        doc["shards"][victim]["bytes"] = db.stat().st_size
        (index / "shards.json").write_text(json.dumps(doc))
    code, _, err = run_cli("scan", project, "--index", index, "--no-ml")
    assert code == 4, err
    assert victim in err and "Traceback" not in err
    if damage == "other-params":
        assert "other parameters" in err


def test_manifest_of_other_parameters_is_refused(
    sharded: Path, project: Path, tmp_path: Path, run_cli: Run
) -> None:
    index = _copy(sharded, tmp_path)
    doc = _manifest(index)
    doc["params"]["k"] = 99
    (index / "shards.json").write_text(json.dumps(doc))
    code, _, err = run_cli("scan", project, "--index", index, "--no-ml")
    assert code == 4 and "other parameters" in err


def test_ray_on_a_single_index_is_a_usage_error(
    single: Path, corpus: Path, tmp_path: Path, run_cli: Run
) -> None:
    pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'codeguard[ray]')")
    index = _copy(single, tmp_path)
    code, _, err = run_cli("index", "add", corpus, "--index", index, "--no-ml", "--ray")
    assert code == 2 and "unsharded" in err


def test_without_ray_installed_ray_is_a_usage_error_naming_the_extra(corpus: Path, tmp_path: Path) -> None:
    code = "import sys; sys.modules['ray'] = None; from codeguard.cli import main; main()"
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "index",
            "add",
            str(corpus),
            "--index",
            str(tmp_path / "i"),
            "--no-ml",
            "--ray",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2, out.stderr
    assert "codeguard[ray]" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "i").exists()


def test_sharded_lookup_ignores_what_one_index_ignores(single: Path, sharded: Path, project: Path) -> None:
    """Rarity is global: the helper's fingerprints (28 files, 20 at most per shard) are common."""
    from codeguard.engine.analyze import analyze
    from codeguard.index.shards import open_index

    hashes: set[int] = set()
    for f in sorted(project.iterdir()):
        a = analyze(f.name, f.read_bytes(), "python")
        assert not isinstance(a, Skip)
        hashes |= {int(h) for h in a.hashes.tolist() + a.raw_hashes.tolist()}
    helper = analyze("h.py", SHARED_HELPER.encode(), "python")
    assert not isinstance(helper, Skip)
    got = {}
    for name, path in [("single", single), ("sharded", sharded)]:
        store = open_index(path)
        got[name] = [(h, store.load_file(f).path, p) for h, f, p in store.lookup(hashes)]
        assert store.common_among(helper.hashes.tolist())
        store.close()
    assert got["sharded"] == got["single"]


def _descendants(pid: int) -> list[int]:
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        for child in Path(f"/proc/{pid}/task/{tid}/children").read_text().split():
            out += [int(child), *_descendants(int(child))]
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the Ray processes through /proc")
def test_cluster_going_away_mid_run_names_the_shard_and_the_rerun_resumes(
    corpus: Path,
    single: Path,
    project: Path,
    tmp_path: Path,
    run_cli: Run,
    scan_json: Callable[..., Any],
    ray_cluster: None,
) -> None:
    index = tmp_path / "index"
    # A CLI of its own starts its own local cluster (the second Ray start-up of this module);
    # Ray gives up on a lost cluster after 5 s instead of 60.
    env = {**os.environ, "RAY_gcs_rpc_server_reconnect_timeout_s": "5"}
    args = [sys.executable, "-m", "codeguard", *map(str, _add_args(corpus, index, 4))]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            manifest = index / "shards.json"
            if manifest.is_file() and json.loads(manifest.read_text() or "{}").get("shards"):
                break
            time.sleep(0.2)
        gone = [
            p for p in _descendants(proc.pid) if Path(f"/proc/{p}/comm").read_text().strip() in RAY_DAEMONS
        ]
        assert len(gone) == 2, "the cluster's GCS and raylet run under the CLI"
        for p in gone:
            os.kill(p, signal.SIGKILL)
        _, err = proc.communicate(timeout=240)
    finally:
        proc.kill()
    assert proc.returncode == 4, err
    doc = _manifest(index)
    built = set(doc["shards"])
    unbuilt = [n for n in doc["pending"]["corpus"]["shards"] if n not in built]
    assert built and unbuilt
    assert f"went away while building shard {unbuilt[0]}" in err and "resume" in err
    assert "Traceback" not in err
    summary = _add_ray(run_cli, corpus, index, shard_files=4)
    assert set(summary["kept"]) == built and set(summary["built"]) == set(unbuilt)
    assert _findings(scan_json, project, index) == _findings(scan_json, project, single)
