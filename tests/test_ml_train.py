"""Training and export end to end on a tiny BERT built in the test (no download, no hub).

The tiny model is a real transformers BertModel with a WordPiece vocabulary written here; it is
trained for a few steps on synthetic clone pairs made from real standard-library functions, then
exported to int8 ONNX and loaded by the scan-time encoder.
"""

from __future__ import annotations

import json
import random
import re
import string
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np
import pytest

from codeguard.ml.data import TrainingData, functions_from_tree, synthetic_pairs

STDLIB = Path(sysconfig.get_paths()["stdlib"])
# Real functions of several shapes; a few dozen pairs come out of them.
SOURCES = ["textwrap.py", "heapq.py", "bisect.py", "colorsys.py"]
WORDS = (
    "def return if else elif for while in not and or is None True False self import from class "
    "lambda yield with as try except raise pass break continue len range list dict int str append"
).split()

_CACHE: dict[str, Path] = {}


def make_tiny_bert(root: Path, hidden: int = 32) -> Path:
    """A randomly initialised 2-layer, ``hidden``-wide BERT with a WordPiece vocabulary, saved to ``root``."""
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("torch")
    root.mkdir(parents=True, exist_ok=True)
    chars = [c for c in string.printable if not c.isspace()]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *chars, *("##" + c for c in chars)]
    (root / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf-8")
    tokenizer = transformers.BertTokenizerFast(vocab=str(root / "vocab.txt"), do_lower_case=False)
    config = transformers.BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=128,
    )
    import torch

    # One thread: a 32-wide model gains nothing from more, and OpenMP spinning on a busy 2-core
    # machine made training 10x slower (42 s instead of 4 s measured here).
    torch.set_num_threads(1)
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(root)
    tokenizer.save_pretrained(root)
    return root


def tiny_data(seed: int = 0) -> TrainingData:
    functions = [f for name in SOURCES for f in functions_from_tree(STDLIB / name)]
    return TrainingData(pairs=synthetic_pairs(functions[:40], random.Random(seed)))


def untrained_model(root: Path, hidden: int, model_id: str) -> Path:
    """A tiny BERT of width ``hidden`` exported as it is (untrained head), under ``model_id``."""
    from transformers import AutoModel, AutoTokenizer

    from codeguard.ml.card import HeadInfo, ModelCard
    from codeguard.ml.export import export_model
    from codeguard.ml.head import PairHead

    base = make_tiny_bert(root / f"tiny-bert-{hidden}", hidden)
    tok = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    model = AutoModel.from_pretrained(str(base), local_files_only=True).eval()
    head = PairHead(w2=np.zeros((2 * hidden + 1, 1), np.float32), b2=np.zeros(1, np.float32))
    card = ModelCard(
        model_id=model_id,
        base="tiny-bert",
        dim=hidden,
        max_length=64,
        pooling="mean",
        head=HeadInfo(hidden=0),
    )
    return export_model(model, tok, head, card, root / f"model-{hidden}")


def trained_model(root: Path) -> Path:
    """Train the tiny BERT once per session and export it; later callers get the same directory."""
    if "model" not in _CACHE:
        from codeguard.ml.train import TrainConfig, train

        base = make_tiny_bert(root / "tiny-bert")
        config = TrainConfig(
            base=str(base), epochs=2, batch_size=8, lr=1e-3, max_length=64, head_hidden=16, seed=0
        )
        result = train(tiny_data(), root / "model", config)
        _CACHE["model"] = result.out_dir
        _CACHE["base"] = base
    return _CACHE["model"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    return trained_model(tmp_path_factory.mktemp("ml"))


def test_synthetic_pairs_are_real_mutations() -> None:
    data = tiny_data()
    assert len(data.pairs) >= 24
    positives = [p for p in data.pairs if p.label == 1]
    negatives = [p for p in data.pairs if p.label == 0]
    assert positives and negatives
    # Every copy differs from its original and still parses (Python stays valid after mutation).
    assert all(p.a != p.b for p in positives)
    for p in positives:
        compile(p.b, "<copy>", "exec")


def test_export_writes_the_scan_time_format(model_dir: Path) -> None:
    names = sorted(p.name for p in model_dir.iterdir())
    assert names == ["codeguard-model.json", "head.npz", "model.onnx", "tokenizer.json"]
    card = json.loads((model_dir / "codeguard-model.json").read_text())
    assert card["dim"] == 32 and card["max_length"] == 64 and card["pooling"] == "mean"
    assert card["head"] == {"extra_features": ["containment", "jaccard"], "hidden": 16}
    # The card names its base, not the directory it was read from on this machine.
    assert card["base"] == card["recipe"]["base"] == "tiny-bert"
    assert str(model_dir.parent) not in json.dumps(card)
    recipe = card["recipe"]
    assert recipe["epochs"] == 2 and recipe["encoder_steps"] > 0 and recipe["history"]
    assert recipe["head_history"] and 0.0 < card["threshold"] < 1.0
    assert 0.0 <= card["scores"]["validation_int8"]["auc"] <= 1.0
    # The int8 graph really is quantized: it holds integer weight initializers.
    onnx = pytest.importorskip("onnx")
    graph = onnx.load(str(model_dir / "model.onnx")).graph
    assert any(init.data_type == onnx.TensorProto.INT8 for init in graph.initializer)


def test_int8_embeddings_agree_with_torch(model_dir: Path, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from transformers import AutoModel, AutoTokenizer

    from codeguard.ml.card import HeadInfo, ModelCard
    from codeguard.ml.encoder import Encoder
    from codeguard.ml.export import export_model
    from codeguard.ml.head import PairHead

    base = _CACHE["base"]
    tok = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    model = AutoModel.from_pretrained(str(base), local_files_only=True).eval()
    head = PairHead(w2=np.zeros((2 * 32 + 1, 1), np.float32), b2=np.zeros(1, np.float32))
    card = ModelCard(
        model_id="tiny", base=str(base), dim=32, max_length=64, pooling="mean", head=HeadInfo(hidden=0)
    )
    export_model(model, tok, head, card, tmp_path / "untrained")

    texts = [p.a for p in tiny_data(seed=1).pairs[:12]]
    got = Encoder.load(tmp_path / "untrained").embed(texts, batch_size=5)
    with torch.no_grad():
        batch = tok(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
        tokens = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        ref = torch.nn.functional.normalize((tokens * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    cosine = np.sum(got * ref, axis=1)
    assert got.shape == (12, 32)
    assert cosine.min() > 0.95, cosine
    # The trained model's own check, recorded in its card, uses the same comparison.
    assert (
        json.loads((model_dir / "codeguard-model.json").read_text())["scores"]["int8_vs_fp32_cosine_mean"]
        > 0.95
    )


def test_train_rejects_a_missing_base(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from codeguard.errors import UsageError
    from codeguard.ml.train import TrainConfig, train

    with pytest.raises(UsageError, match="cannot load base model"):
        train(tiny_data(), tmp_path / "out", TrainConfig(base=str(tmp_path / "nope")))


def test_data_spec_caps_each_source(tmp_path: Path) -> None:
    from codeguard.errors import UsageError
    from codeguard.ml.data import load_data, parse_data_specs

    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        (src / name).write_bytes((STDLIB / name).read_bytes())
    assert parse_data_specs([f"synthetic:{src}:7"]) == [("synthetic", src, 7)]
    data = load_data([f"synthetic:{src}:7"])
    assert len(data.pairs) == 14  # 7 functions: one copy and one unrelated negative each
    assert {p.source for p in data.pairs} == {"synthetic"}
    with pytest.raises(UsageError, match="KIND:PATH"):
        parse_data_specs(["nonsense:/tmp"])


def test_data_sources_are_named_by_name_and_version(tmp_path: Path) -> None:
    import platform

    from codeguard.ml.data import describe_data_spec

    assert (
        describe_data_spec(f"synthetic:{STDLIB}:3000")
        == f"synthetic:cpython-stdlib@{platform.python_version()}:3000"
    )
    pkg = tmp_path / "left-pad"
    pkg.mkdir()
    (pkg / "package.json").write_text('{"name": "left-pad", "version": "1.3.0"}')
    (pkg / "index.js").write_text("module.exports = (s, n) => s.padStart(n);\n")
    assert describe_data_spec(f"synthetic:{pkg}") == "synthetic:left-pad@1.3.0"
    data = tmp_path / "pairs.jsonl"
    data.write_text('{"a": "x", "b": "y", "label": 1}\n')
    first = describe_data_spec(f"pairs:{data}")
    assert first.startswith("pairs:pairs.jsonl@sha256:") and str(tmp_path) not in first
    data.write_text('{"a": "x", "b": "z", "label": 1}\n')
    assert describe_data_spec(f"pairs:{data}") != first  # another content, another version


def test_bcb_positives_are_grouped_by_connected_functions(tmp_path: Path) -> None:
    import gzip

    from codeguard.ml.data import load_bcb

    funcs = [{"idx": str(i), "func": f"int f{i}() {{ return {i}; }}"} for i in range(6)]
    with gzip.open(tmp_path / "data.jsonl.gz", "wt") as fh:
        fh.write("\n".join(json.dumps(f) for f in funcs))
    (tmp_path / "train_sampled.txt").write_text("0\t1\t1\n1\t2\t1\n3\t4\t1\n0\t5\t0\n")
    pairs = load_bcb(tmp_path).pairs
    group = {(p.a[5], p.b[5]): p.group for p in pairs}
    assert group[("0", "1")] == group[("1", "2")] != group[("3", "4")]
    assert group[("0", "5")] == ""


def test_best_threshold_maximizes_f1() -> None:
    from codeguard.ml.train import best_threshold, pair_scores

    probs = np.array([0.9, 0.8, 0.7, 0.4, 0.3, 0.2], np.float32)
    labels = np.array([1, 1, 0, 1, 0, 0])
    t = best_threshold(probs, labels)
    assert t == pytest.approx(0.4)
    assert pair_scores(probs, labels, t)["f1"] == pytest.approx(6 / 7)


def test_head_only_refit_keeps_the_encoder(model_dir: Path, tmp_path: Path) -> None:
    from codeguard.ml.card import load_card
    from codeguard.ml.encoder import Encoder
    from codeguard.ml.train import TrainConfig, refit_head

    config = TrainConfig(base=str(model_dir), head_hidden=16, head_inputs="scalar", seed=1)
    card = refit_head(model_dir, tmp_path / "refit", tiny_data(seed=3), config, log=lambda _m: None)
    old, new = Encoder.load(model_dir), Encoder.load(tmp_path / "refit")
    assert card.model_id == load_card(model_dir).model_id  # same encoder: indexes stay valid
    texts = ["def f(x):\n    return x + 1\n"]
    assert np.array_equal(old.embed(texts), new.embed(texts))
    # The scalar head ignores the embedding vectors themselves: only cosine and evidence count.
    assert new.head.w1 is not None and not new.head.w1[: 2 * 32].any() and new.head.w1[2 * 32 :].any()
    assert "validation_int8_by_source" in card.scores and 0 < card.threshold < 1


# -- checkpoints and --resume ------------------------------------------------------------------
def _train_cmd(base: Path, src: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "codeguard", "train", "--base", str(base), "--data", f"synthetic:{src}:20",
        "--out", str(out), "--epochs", "100", "--max-steps", "60", "--batch-size", "8", "--lr", "1e-3",
        "--max-length", "64", "--checkpoint-every", "5", "--threads", "1", "--precision", "fp32",
        "--model-id", "tiny-resume", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def train_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("resume")
    src = root / "src"
    src.mkdir()
    for name in SOURCES:
        (src / name).write_bytes((STDLIB / name).read_bytes())
    return make_tiny_bert(root / "tiny-bert"), src


def test_killed_training_resumes_from_its_checkpoint(train_inputs: tuple[Path, Path], tmp_path: Path) -> None:
    from codeguard.ml.encoder import Encoder

    base, src = train_inputs
    ref, out = tmp_path / "uninterrupted", tmp_path / "resumed"
    done = subprocess.run(_train_cmd(base, src, ref), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    checkpoint = tmp_path / ".resumed.checkpoints" / "checkpoint.pt"
    proc = subprocess.Popen(_train_cmd(base, src, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while not checkpoint.exists() and proc.poll() is None:
        time.sleep(0.005)
    proc.kill()  # SIGKILL: no handler runs, as when a machine goes away
    _, err = proc.communicate()
    assert checkpoint.exists() and not out.exists(), err.decode()[-2000:]
    resumed = subprocess.run(_train_cmd(base, src, out, "--resume"), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    step = int(re.search(r"resumed from step (\d+) of 60", resumed.stderr).group(1))  # type: ignore[union-attr]
    assert 5 <= step < 60 and step % 5 == 0
    assert not checkpoint.exists()  # the finished model no longer needs it
    # The resumed run is the uninterrupted one: same history, same weights, same vectors.
    cards = [json.loads((d / "codeguard-model.json").read_text()) for d in (ref, out)]
    assert cards[0]["recipe"]["history"] == cards[1]["recipe"]["history"]
    assert cards[0]["model_id"] == cards[1]["model_id"] == "tiny-resume"
    texts = [p.a for p in tiny_data(seed=2).pairs[:6]]
    assert np.array_equal(Encoder.load(ref).embed(texts), Encoder.load(out).embed(texts))


def test_resume_refuses_a_corrupt_or_foreign_checkpoint(
    train_inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    base, src = train_inputs
    out = tmp_path / "model"
    missing = subprocess.run(_train_cmd(base, src, out, "--resume"), capture_output=True, text=True)
    assert missing.returncode == 2 and "no checkpoint at" in missing.stderr, missing.stderr
    checkpoints = tmp_path / ".model.checkpoints"
    checkpoints.mkdir()
    (checkpoints / "checkpoint.pt").write_bytes(b"PK\x03\x04 half a zip file")
    corrupt = subprocess.run(_train_cmd(base, src, out, "--resume"), capture_output=True, text=True)
    assert corrupt.returncode == 4, corrupt.stderr
    assert "is corrupt" in corrupt.stderr and "train without --resume" in corrupt.stderr
    assert "Traceback" not in corrupt.stderr and not out.exists()
    # A checkpoint of another recipe (here: another learning rate) is refused, not mixed in.
    from codeguard.ml.train import TrainConfig, save_checkpoint

    other = TrainConfig(base=str(base), checkpoint_dir=str(checkpoints), lr=0.5)
    save_checkpoint(other, {"step": 5, "recipe": {"lr": 0.5}})
    foreign = subprocess.run(_train_cmd(base, src, out, "--resume"), capture_output=True, text=True)
    assert foreign.returncode in (2, 4) and "Traceback" not in foreign.stderr, foreign.stderr
