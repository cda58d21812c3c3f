"""The semantic layer in scans: FAISS candidates, the pair head's verdict, `semantic` findings.

Plumbing is tested with the tiny BERT trained in tests/test_ml_train.py (its verdicts mean
nothing, so these tests force the threshold); what the shipped model must decide is tested in
tests/test_default_model.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import MERGE_INTERVALS, Corpus

pytest.importorskip("torch")

from test_ml_train import trained_model, untrained_model  # noqa: E402

# merge_intervals rewritten: same meaning, other structure and names (no shared 15-token run).
REWRITTEN = '''\
def combine_ranges(spans):
    """Join ranges that touch or overlap."""
    out = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1]:
            prev_lo, prev_hi = out.pop()
            out.append((prev_lo, hi if hi > prev_hi else prev_hi))
        else:
            out.append((lo, hi))
    return out
'''


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_model(tmp_path_factory.mktemp("ml"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "ranges.py").write_text(REWRITTEN)
    (root / "copied.py").write_text(MERGE_INTERVALS)
    return root


def _semantic(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["match_type"] == "semantic"]


def test_rewrite_found_only_by_the_model(
    model: Path, reference_corpus: Corpus, index_dir: Path, project: Path, add_json: Any, scan_json: Any
) -> None:
    add_json(reference_corpus.root, index_dir, "--model", model)
    _, report, _ = scan_json(project, index_dir, "--model", model, "--semantic-threshold", "0.000001")
    sem = _semantic(report)
    assert [f["path"] for f in sem] == ["ranges.py"], report["findings"]
    f = sem[0]
    assert f["origin"]["path"] in {"intervals.py", "text/distance.py", "graph.py"}
    assert 0 < f["probability"] <= 1 and f["probability"] == f["score"]
    assert f["fragments"][0]["lines"] == [1, 10]
    # The verbatim copy is a fingerprint finding and is not reported twice.
    exact = [x for x in report["findings"] if x["path"] == "copied.py"]
    assert [x["match_type"] for x in exact] == ["exact"] and exact[0]["probability"] >= 0.9
    stats = report["stats"]["semantic"]
    assert stats["status"] == "on" and stats["method"] == "exact" and stats["vectors"] > 0

    # --no-ml: fingerprints only.
    _, plain, _ = scan_json(project, index_dir, "--no-ml")
    assert not _semantic(plain) and plain["stats"]["semantic"]["status"].startswith("off")

    # Without --semantic-threshold: semantic pairs are reported from the same calibrated P(copy)
    # that decides fingerprint pairs, but never below 0.9 (same meaning alone is weak evidence).
    _, default, _ = scan_json(project, index_dir, "--model", model, "--min-probability", "0.7")
    stats = default["stats"]["semantic"]
    assert stats["threshold"] == 0.9 and stats["threshold_from"].startswith("semantic default")
    assert "verdict" in stats["decision"]
    assert all(x["probability"] >= 0.9 for x in _semantic(default))
    _, strict, _ = scan_json(project, index_dir, "--model", model, "--min-probability", "0.95")
    stats = strict["stats"]["semantic"]
    assert stats["threshold"] == 0.95 and stats["threshold_from"] == "--min-probability"


def test_rescan_embeds_only_changed_chunks(
    model: Path, reference_corpus: Corpus, index_dir: Path, project: Path, add_json: Any, scan_json: Any
) -> None:
    add_json(reference_corpus.root, index_dir, "--model", model)
    scan_json(project, index_dir, "--model", model)
    _, again, _ = scan_json(project, index_dir, "--model", model)
    stats = again["stats"]["semantic"]
    assert stats["embedded"] == 0 and stats["cache_hits"] == stats["chunks_considered"] > 0
    (project / "ranges.py").write_text(REWRITTEN.replace("out = []", "out = list()"))
    _, changed, _ = scan_json(project, index_dir, "--model", model)
    assert changed["stats"]["semantic"]["embedded"] == 1


def test_a_rescan_of_unchanged_chunks_never_loads_the_encoder(
    model: Path, reference_corpus: Corpus, index_dir: Path, project: Path, add_json: Any, tmp_path: Path
) -> None:
    """All chunks in the embedding cache: onnxruntime and tokenizers are not even imported, and
    the findings are those of the scan that embedded them."""
    add_json(reference_corpus.root, index_dir, "--model", model)
    env = os.environ | {"CODEGUARD_EMBEDDING_CACHE": str(tmp_path / "embeddings.sqlite")}
    code = (
        "import runpy, sys\n"
        "sys.argv = ['codeguard', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('codeguard', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('loaded', 'onnxruntime' in sys.modules, 'tokenizers' in sys.modules, file=sys.stderr)\n"
    )
    args = ["scan", str(project), "--index", str(index_dir), "--model", str(model), "--format", "json"]

    def scan() -> tuple[dict[str, Any], str]:
        run = subprocess.run(
            [sys.executable, "-c", code, *args, "--fail-on", "none"], capture_output=True, text=True, env=env
        )
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout), run.stderr

    first, err = scan()
    assert first["stats"]["semantic"]["embedded"] > 0 and "loaded True True" in err
    assert first["stats"]["semantic"]["seconds_encoder_open"] >= 0
    again, err = scan()
    stats = again["stats"]["semantic"]
    assert stats["embedded"] == 0 and stats["cache_hits"] == stats["chunks_considered"] > 0
    assert "loaded False False" in err and "seconds_encoder_open" not in stats
    assert again["findings"] == first["findings"]


def test_index_embedded_by_another_model_or_dimension_is_exit_4(
    model: Path,
    reference_corpus: Corpus,
    index_dir: Path,
    project: Path,
    add_json: Any,
    run_cli: Callable[..., tuple[int, str, str]],
    tmp_path: Path,
) -> None:
    add_json(reference_corpus.root, index_dir, "--model", model)
    other = tmp_path / "other-model"
    shutil.copytree(model, other)
    card = json.loads((other / "codeguard-model.json").read_text())
    card["model_id"] = "another-model"
    (other / "codeguard-model.json").write_text(json.dumps(card))
    code, _, err = run_cli("scan", project, "--index", index_dir, "--model", other)
    assert code == 4
    assert "embedded with model" in err and "another-model" in err and "--no-ml" in err
    # A broken model directory is exit 4 too, and --no-ml still scans.
    (other / "model.onnx").write_bytes(b"not onnx")
    assert run_cli("scan", project, "--index", index_dir, "--model", other)[0] == 4
    assert run_cli("scan", project, "--index", index_dir, "--no-ml", "--fail-on", "none")[0] == 0
    assert run_cli("scan", project, "--index", index_dir, "--no-ml", "--model", model)[0] == 2
    # A real model, 48 dimensions instead of 32, that even claims the index's model id.
    wide = untrained_model(tmp_path, 48, json.loads((model / "codeguard-model.json").read_text())["model_id"])
    code, _, err = run_cli("scan", project, "--index", index_dir, "--model", wide)
    assert code == 4, err
    assert "(32 dimensions)" in err and "(48 dimensions)" in err and "Traceback" not in err
    assert "--no-ml" in err and f"codeguard index embed --model {wide}" in err
    more = tmp_path / "more"
    more.mkdir()
    (more / "extra.py").write_text(project.joinpath("ranges.py").read_text())
    code, _, err = run_cli("index", "add", more, "--name", "more", "--index", index_dir, "--model", wide)
    assert code == 4 and "dim 32" in err and "dim 48" in err and "Traceback" not in err, err


def test_index_without_embeddings_scans_with_fingerprints(
    model: Path, reference_corpus: Corpus, index_dir: Path, project: Path, add_json: Any, scan_json: Any
) -> None:
    add_json(reference_corpus.root, index_dir, "--no-ml")
    _, report, _ = scan_json(project, index_dir, "--model", model)
    assert not _semantic(report)
    assert "no embeddings" in report["stats"]["semantic"]["status"]
    assert [f["match_type"] for f in report["findings"]] == ["exact"]


def test_text_and_sarif_reports_show_semantic_findings(
    model: Path,
    reference_corpus: Corpus,
    index_dir: Path,
    project: Path,
    add_json: Any,
    run_cli: Callable[..., tuple[int, str, str]],
    tmp_path: Path,
) -> None:
    add_json(reference_corpus.root, index_dir, "--model", model)
    args = ("--index", index_dir, "--model", model, "--semantic-threshold", "0.000001", "--fail-on", "none")
    code, out, _ = run_cli("scan", project / "ranges.py", *args)
    assert code == 0 and "SEMANTIC" in out and "P(copy)" in out
    code, out, _ = run_cli("scan", project, *args, "--format", "sarif")
    results = json.loads(out)["runs"][0]["results"]
    sem = [r for r in results if r["properties"]["match_type"] == "semantic"]
    assert sem and 0 < sem[0]["properties"]["probability"] <= 1
    html = tmp_path / "r.html"
    assert run_cli("scan", project, *args, "--format", "html", "--output", html)[0] == 0
    assert "semantic" in html.read_text().lower()


def test_semantic_findings_are_capped_at_note(
    model: Path, reference_corpus: Corpus, index_dir: Path, project: Path, add_json: Any, scan_json: Any
) -> None:
    add_json(reference_corpus.root, index_dir, "--model", model, "--license", "GPL-3.0-only")
    _, report, _ = scan_json(
        project, index_dir, "--model", model, "--semantic-threshold", "0.000001", "--project-license", "MIT"
    )
    levels = {f["match_type"]: (f["level"], f["policy"]["reason"]) for f in report["findings"]}
    assert levels["exact"][0] == "error"
    level, reason = levels["semantic"]
    assert level == "note" and "P(copy) =" in reason and "review" in reason
