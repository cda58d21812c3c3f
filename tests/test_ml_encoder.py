"""The scan-time encoder: loading (and refusing) model directories, embedding, the pair head.

Error cases run everywhere; the cases that need a real model use the tiny BERT trained and
exported by ``test_ml_train`` (skipped where torch is absent).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from codeguard.errors import ExitCode
from codeguard.ml.card import ModelUnavailable, load_card
from codeguard.ml.head import fingerprint_evidence

pytest.importorskip("onnxruntime")
pytest.importorskip("tokenizers")

from codeguard.ml.encoder import Encoder  # noqa: E402


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    from test_ml_train import trained_model

    return trained_model(tmp_path_factory.mktemp("ml"))


@pytest.fixture
def copy_of(model_dir: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "model"
    shutil.copytree(model_dir, dst)
    return dst


def test_missing_model_dir_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="does not exist") as info:
        Encoder.load(tmp_path / "nowhere")
    assert info.value.exit_code == ExitCode.UNAVAILABLE == 4


def test_dir_without_card_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="codeguard-model.json is missing"):
        Encoder.load(tmp_path)


def test_corrupt_card_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "codeguard-model.json").write_text("{not json")
    with pytest.raises(ModelUnavailable, match="corrupt"):
        Encoder.load(tmp_path)


def test_invalid_card_reports_every_problem_at_once(tmp_path: Path) -> None:
    card = {
        "format_version": 1,
        "model_id": "m",
        "base": "b",
        "dim": -3,
        "max_length": "x",
        "pooling": "max",
        "head": {},
    }
    (tmp_path / "codeguard-model.json").write_text(json.dumps(card))
    with pytest.raises(ModelUnavailable) as info:
        load_card(tmp_path)
    msg = str(info.value)
    for fragment in (
        "max_length must be int",
        "pooling must be one of",
        "dim must be positive",
        "head.hidden",
        "head.extra_features",
    ):
        assert fragment in msg


def test_fingerprint_evidence() -> None:
    a = np.array([1, 2, 3, 4], dtype=np.int64)
    assert fingerprint_evidence(a, a).tolist() == [1.0, 1.0]
    assert fingerprint_evidence(a, np.array([3, 4, 5, 6, 7, 8, 9, 10])).tolist() == pytest.approx([0.5, 0.2])
    assert fingerprint_evidence(a, np.array([9])).tolist() == [0.0, 0.0]
    assert fingerprint_evidence(a, np.array([], dtype=np.int64)).tolist() == [0.0, 0.0]


def test_embeddings_are_unit_vectors_independent_of_batching(model_dir: Path) -> None:
    enc = Encoder.load(model_dir)
    texts = [
        "def f(x):\n    return x + 1\n",
        "int main() { return 0; }",
        "x",
        "for i in range(10):\n    print(i)\n" * 3,
    ]
    emb = enc.embed(texts)
    assert emb.shape == (4, 32) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    # A text's vector does not depend on what else is embedded with it (scans are reproducible).
    alone = np.stack([enc.embed([t])[0] for t in texts])
    assert np.array_equal(emb, alone)
    assert np.array_equal(enc.embed(texts[::-1])[::-1], emb)
    # Explicit batches pad and share int8 activation scales: close, not identical.
    batched = enc.embed(texts, batch_size=2)
    assert np.sum(batched * alone, axis=1).min() > 0.9
    assert enc.embed([]).shape == (0, 32)


def test_long_input_is_truncated_to_max_length(model_dir: Path) -> None:
    enc = Encoder.load(model_dir)
    long = "value = compute(value, 1)\n" * 400  # thousands of tokens; positions stop at 128
    ids = enc.tokenizer.encode(long).ids
    assert len(ids) == 64
    emb = enc.embed([long, long[:200]])
    assert np.isfinite(emb).all()


def test_pair_probability(model_dir: Path) -> None:
    enc = Encoder.load(model_dir)
    a = enc.embed(["def add(a, b):\n    return a + b\n", "def mul(a, b):\n    return a * b\n"])
    b = enc.embed(["def plus(x, y):\n    return x + y\n", "class Stack:\n    pass\n"])
    p = enc.pair_probability(a, b, np.array([[1.0, 1.0], [0.0, 0.0]], dtype=np.float32))
    assert p.shape == (2,) and ((p >= 0) & (p <= 1)).all()
    assert enc.pair_probability(a, b).shape == (2,)  # evidence defaults to zeros
    with pytest.raises(ValueError, match="extra features"):
        enc.pair_probability(a, b, np.zeros((2, 5), dtype=np.float32))


def test_loading_and_embedding_never_import_torch(model_dir: Path) -> None:
    code = (
        "import sys; from codeguard.ml.encoder import Encoder; "
        f"e = Encoder.load({str(model_dir)!r}); v = e.embed(['def f(): pass']); "
        "p = e.pair_probability(v, v); "
        "print(v.shape, sorted(m for m in ('torch', 'transformers', 'peft', 'onnx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(1, 32) []"


@pytest.mark.parametrize("victim", ["model.onnx", "tokenizer.json", "head.npz"])
def test_missing_file_is_unavailable(copy_of: Path, victim: str) -> None:
    (copy_of / victim).unlink()
    with pytest.raises(ModelUnavailable, match="missing|no pair head"):
        Encoder.load(copy_of)


@pytest.mark.parametrize("victim", ["model.onnx", "tokenizer.json", "head.npz"])
def test_corrupt_file_is_unavailable(copy_of: Path, victim: str) -> None:
    (copy_of / victim).write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ModelUnavailable, match="corrupt|cannot be loaded"):
        Encoder.load(copy_of)


@pytest.mark.parametrize("victim", ["model.onnx", "tokenizer.json"])
def test_a_lazy_encoder_opens_the_session_and_says_what_is_wrong_when_first_needed(
    copy_of: Path, victim: str
) -> None:
    (copy_of / victim).write_bytes(b"\x00garbage" * 10)
    enc = Encoder.load(copy_of, lazy=True)  # card and pair head are fine: nothing else is read
    assert (enc.session, enc.tokenizer, enc.seconds_open) == (None, None, None)
    assert enc.pair_probability(
        np.ones((1, enc.dim), np.float32), np.ones((1, enc.dim), np.float32)
    ).shape == (1,)
    with pytest.raises(ModelUnavailable, match="corrupt|cannot be loaded"):
        enc.embed(["def f():\n    return 1\n"])


def test_a_lazy_encoder_embeds_as_an_eager_one(model_dir: Path) -> None:
    texts = ["def f(x):\n    return x + 1\n", "class A:\n    pass\n" * 30]
    eager = Encoder.load(model_dir)
    lazy = Encoder.load(model_dir, lazy=True)
    assert lazy.session is None and eager.session is not None
    assert np.array_equal(lazy.embed(texts), eager.embed(texts))
    assert lazy.session is not None and lazy.seconds_open is not None
    assert [e.ids for e in lazy.tokenize(texts, 8)] == [e.ids for e in eager.tokenize(texts, 8)]


def test_mismatched_embedding_dim_is_unavailable(copy_of: Path) -> None:
    card = json.loads((copy_of / "codeguard-model.json").read_text())
    card["dim"] = 384
    (copy_of / "codeguard-model.json").write_text(json.dumps(card))
    with pytest.raises(ModelUnavailable, match="32-dimensional embeddings but the card says 384"):
        Encoder.load(copy_of)


def test_head_of_another_model_is_unavailable(copy_of: Path) -> None:
    np.savez(
        copy_of / "head.npz",
        w1=np.zeros((10, 16), np.float32),
        b1=np.zeros(16, np.float32),
        w2=np.zeros((16, 1), np.float32),
        b2=np.zeros(1, np.float32),
    )
    with pytest.raises(ModelUnavailable, match="w1 has shape"):
        Encoder.load(copy_of)


def test_head_loads_from_safetensors(copy_of: Path, model_dir: Path) -> None:
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    with np.load(copy_of / "head.npz") as npz:
        safetensors_numpy.save_file({k: npz[k] for k in npz.files}, str(copy_of / "head.safetensors"))
    (copy_of / "head.npz").unlink()
    v = Encoder.load(model_dir).embed(["a = 1", "b = 2"])
    p1 = Encoder.load(copy_of).pair_probability(v[:1], v[1:])
    p2 = Encoder.load(model_dir).pair_probability(v[:1], v[1:])
    assert np.allclose(p1, p2)


def test_train_command_end_to_end(model_dir: Path, tmp_path: Path) -> None:
    from test_ml_train import _CACHE, tiny_data

    from codeguard.ml.cli import train_command

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        "".join(
            json.dumps({"a": p.a, "b": p.b, "label": p.label, "language": p.language}) + "\n"
            for p in tiny_data(seed=2).pairs[:24]
        )
    )
    args = [
        "--base",
        str(_CACHE["base"]),
        "--data",
        f"pairs:{pairs}",
        "--out",
        str(tmp_path / "m"),
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--max-length",
        "32",
        "--max-steps",
        "2",
    ]
    result = CliRunner().invoke(train_command, args)
    assert result.exit_code == 0, result.output
    assert Encoder.load(tmp_path / "m").embed(["x = 1"]).shape == (1, 32)
    assert load_card(tmp_path / "m").recipe["encoder_steps"] == 2


def test_train_command_bad_data_is_a_usage_error(tmp_path: Path) -> None:
    from codeguard.ml.cli import train_command

    result = CliRunner().invoke(
        train_command, ["--base", "x", "--data", "nonsense:/nowhere", "--out", str(tmp_path)]
    )
    assert result.exit_code == ExitCode.USAGE
    assert "KIND:PATH" in result.output


def test_train_command_without_torch_says_which_extra(tmp_path: Path) -> None:
    # A real interpreter in which torch cannot be imported, as in an install without the extra.
    code = (
        "import sys; sys.modules['torch'] = None; "
        "from codeguard.ml.cli import train_command; "
        f"train_command(['--base', 'x', '--data', 'pairs:{tmp_path}', '--out', '{tmp_path / 'o'}'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == ExitCode.USAGE
    assert "pip install 'codeguard[train]'" in out.stderr
