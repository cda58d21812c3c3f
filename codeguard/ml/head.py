"""The pair head: classifies (query, candidate) from both embeddings plus cheap evidence.

As in the CodeXGLUE BigCloneBench set-up, both functions are encoded and their representations
classified; the input is ``[|a-b|, a*b, cos(a, b), *extra]`` where ``extra`` is cheap lexical
evidence (fingerprint containment and Jaccard) that the matcher already has. Pure NumPy: the same
arithmetic as the torch module in :mod:`codeguard.ml.train`, which writes the weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codeguard.ml.card import HEAD_FILES, ModelUnavailable

# The cheap evidence the head knows how to take, in input order.
EXTRA_FEATURES = ("containment", "jaccard")


def fingerprint_evidence(hashes_a: np.ndarray, hashes_b: np.ndarray) -> np.ndarray:
    """[containment, jaccard] of two fingerprint sets; containment = shared / smaller set."""
    a, b = np.unique(hashes_a), np.unique(hashes_b)
    if len(a) == 0 or len(b) == 0:
        return np.zeros(2, dtype=np.float32)
    shared = len(np.intersect1d(a, b, assume_unique=True))
    return np.array([shared / min(len(a), len(b)), shared / (len(a) + len(b) - shared)], dtype=np.float32)


def pair_features(emb_a: np.ndarray, emb_b: np.ndarray, extra: np.ndarray | None, n_extra: int) -> np.ndarray:
    """The head's input rows for aligned batches of unit embeddings (shape [n, 2d + 1 + n_extra])."""
    a = np.atleast_2d(np.asarray(emb_a, dtype=np.float32))
    b = np.atleast_2d(np.asarray(emb_b, dtype=np.float32))
    if a.shape != b.shape:
        raise ValueError(f"embedding batches differ in shape: {a.shape} vs {b.shape}")
    if extra is None:
        extra = np.zeros((len(a), n_extra), dtype=np.float32)
    extra = np.asarray(extra, dtype=np.float32).reshape(len(a), -1)
    if extra.shape[1] != n_extra:
        raise ValueError(f"the head takes {n_extra} extra features per pair, got {extra.shape[1]}")
    cos = np.sum(a * b, axis=1, keepdims=True)
    return np.concatenate([np.abs(a - b), a * b, cos, extra], axis=1)


@dataclass
class PairHead:
    """MLP (``w1``/``b1`` then ``w2``/``b2``) or logistic regression (``w2``/``b2`` only)."""

    w2: np.ndarray  # [hidden or input, 1]
    b2: np.ndarray  # [1]
    w1: np.ndarray | None = None  # [input, hidden]
    b1: np.ndarray | None = None  # [hidden]

    @property
    def input_dim(self) -> int:
        return int((self.w1 if self.w1 is not None else self.w2).shape[0])

    def probability(self, features: np.ndarray) -> np.ndarray:
        """P(clone) for each feature row."""
        x = np.asarray(features, dtype=np.float32)
        if self.w1 is not None and self.b1 is not None:
            x = np.maximum(x @ self.w1 + self.b1, 0.0)
        logits = (x @ self.w2 + self.b2)[:, 0]
        probs: np.ndarray = (1.0 / (1.0 + np.exp(-np.clip(logits, -60.0, 60.0)))).astype(np.float32)
        return probs

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"w2": self.w2, "b2": self.b2}
        if self.w1 is not None and self.b1 is not None:
            out |= {"w1": self.w1, "b1": self.b1}
        return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}

    def save(self, model_dir: Path) -> Path:
        """Write ``head.npz`` (plain arrays, loadable with ``allow_pickle=False``)."""
        path = Path(model_dir) / "head.npz"
        np.savez(path, **self.arrays())  # type: ignore[arg-type]
        return path


def load_head(model_dir: Path, dim: int, hidden: int, n_extra: int) -> PairHead:
    """Load and shape-check the head weights of ``model_dir`` (safetensors or npz, never pickle)."""
    model_dir = Path(model_dir)
    path = next((model_dir / name for name in HEAD_FILES if (model_dir / name).is_file()), None)
    if path is None:
        raise ModelUnavailable(
            f"{model_dir} has no pair head ({' or '.join(HEAD_FILES)}); re-export the model"
        )
    try:
        if path.suffix == ".safetensors":
            from safetensors.numpy import load_file

            arrays = dict(load_file(str(path)))
        else:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
    except ImportError:
        raise ModelUnavailable(f"{path} needs the safetensors package (pip install safetensors)") from None
    except Exception as exc:  # noqa: BLE001 - any decoding failure means a corrupt file
        raise ModelUnavailable(f"{path} is corrupt ({exc}); re-export the model") from None
    n_in = 2 * dim + 1 + n_extra
    shapes = {"w2": (hidden or n_in, 1), "b2": (1,)}
    if hidden:
        shapes |= {"w1": (n_in, hidden), "b1": (hidden,)}
    for name, shape in shapes.items():
        got = arrays.get(name)
        if got is None or tuple(got.shape) != shape:
            found = None if got is None else tuple(got.shape)
            raise ModelUnavailable(
                f"{path}: {name} has shape {found}, expected {shape} for embedding dim {dim} "
                f"(the head does not belong to this encoder; re-export the model)"
            )
    f32 = {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items() if k in shapes}
    return PairHead(w2=f32["w2"], b2=f32["b2"], w1=f32.get("w1"), b1=f32.get("b1"))
