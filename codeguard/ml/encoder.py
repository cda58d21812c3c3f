"""The scan-time encoder: int8 ONNX through ONNX Runtime, tokenized by ``tokenizers``.

Imports only NumPy, onnxruntime and tokenizers (never torch): measured here, loading and the
first embedding take 0.27 s instead of 4.6 s with torch. Texts are cut at the card's max_length
tokens and run one per ONNX run, the longest first, over worker threads; a text repeated in a
call is embedded once. A text's vector is the same whichever texts it is embedded with.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codeguard.ml.card import ONNX_FILE, TOKENIZER_FILE, ModelCard, ModelUnavailable, load_card
from codeguard.ml.head import PairHead, load_head, pair_features

# One text per ONNX run. Dynamic int8 quantization scales activations per batch tensor, so in a
# batch a text's vector depends on its batch mates and their padding (cosine down to 0.969
# against the same text alone, measured with the shipped model on stdlib code): verdicts near
# the threshold would flip with what else is scanned. Alone, every text gets the same vector
# wherever it is embedded. Batching bought nothing either: the encoder is compute-bound (300
# stdlib chunks, length-sorted batches of 8 against one text per run, 2 threads: 45.8 against
# 45.9 chunks per CPU-second; ONNX Runtime's profile: int8 matrix products 51% of the time,
# attention 16%, layer norms 10%). Texts are spread over worker threads instead, each ONNX
# run on one core: 110.8 chunks/s on 2 cores against 70.5 for one run at a time on two cores
# (stdlib functions, measured here), with identical vectors. What does make it faster is reading
# fewer tokens (the card's max_length; 128 instead of 256 was 1.6x faster but cost POJ-104 23
# MAP@R points, so the shipped card keeps 256: see bench/encoder_speed.py).
DEFAULT_BATCH_SIZE = 1
MAX_WORKERS = 4
# Characters of a text tokenized per token it may keep: the encoder reads max_length tokens, but
# tokenizing all of a long chunk (up to MAX_TEXT_BYTES) and then truncating it took a third of
# the embedding time here. Real code has 3-4 characters per token, so 5 per token almost always
# yields max_length tokens; a prefix that yields fewer is tokenized again whole.
PREFIX_CHARS_PER_TOKEN = 5


@dataclass
class Encoder:
    """A loaded model directory: tokenizer, ONNX session, pair head and card.

    Loaded with ``lazy=True``, the card and the pair head are read at once and the tokenizer and
    ONNX session (onnxruntime's import and the session build: about 0.15 s of a pre-commit scan
    here) on the first call that embeds or tokenizes: a scan whose chunks are all in the
    embedding cache never needs them."""

    card: ModelCard
    session: Any  # onnxruntime.InferenceSession (None until opened, when lazy)
    tokenizer: Any  # tokenizers.Tokenizer (None until opened, when lazy)
    head: PairHead
    _input_names: tuple[str, ...] = ()
    workers: int = 1
    model_dir: Path | None = None
    seconds_open: float | None = None  # time the tokenizer and session took to load

    @property
    def dim(self) -> int:
        return self.card.dim

    @classmethod
    def load(cls, model_dir: str | Path, threads: int = 0, lazy: bool = False) -> Encoder:
        """Load ``model_dir``; raise :class:`ModelUnavailable` saying what is wrong and what to do.

        ``threads``: texts embedded in parallel, one core each (0: the CPU count, at most 4).
        ``lazy``: open the tokenizer and the ONNX session when first needed (the errors about
        them are raised then).
        """
        model_dir = Path(model_dir)
        card = load_card(model_dir)
        for name in (ONNX_FILE, TOKENIZER_FILE):
            if not (model_dir / name).is_file():
                raise ModelUnavailable(f"{model_dir / name} is missing; re-export the model")
        workers = threads or min(
            MAX_WORKERS,
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
        )
        runtime = None if lazy else _open_runtime(model_dir, card)
        head = load_head(model_dir, card.dim, card.head.hidden, len(card.head.extra_features))
        enc = cls(
            card=card, session=None, tokenizer=None, head=head, workers=max(1, workers), model_dir=model_dir
        )
        if runtime is not None:
            enc._set_runtime(*runtime)
        return enc

    def open(self) -> None:
        """Load the tokenizer and the ONNX session (once)."""
        if self.session is None:
            self._set_runtime(*_open_runtime(Path(self.model_dir or "."), self.card))

    def _set_runtime(self, tokenizer: Any, session: Any, inputs: tuple[str, ...], seconds: float) -> None:
        self.tokenizer, self.session, self._input_names = tokenizer, session, inputs
        self.seconds_open = seconds

    def embed(
        self,
        texts: Sequence[str],
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_length: int = 0,
        prefix: bool = True,
    ) -> np.ndarray:
        """Unit vectors (float32, [len(texts), dim]) for ``texts``, truncated to max_length tokens
        (the card's, unless ``max_length``; ``prefix``: tokenize only what can be kept)."""
        out = np.zeros((len(texts), self.card.dim), dtype=np.float32)
        if not texts:
            return out
        row_of: dict[str, int] = {}
        rows = [row_of.setdefault(t, len(row_of)) for t in texts]
        if len(row_of) < len(texts):  # repeats (the same function in two files): embed each once
            unique: np.ndarray = self.embed(list(row_of), batch_size, max_length, prefix)[rows]
            return unique
        self.open()
        encodings = self.tokenize(texts, max_length or self.card.max_length, prefix)
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(-lengths, kind="stable")
        batches = [order[lo : lo + batch_size] for lo in range(0, len(order), batch_size)]

        def run(idx: np.ndarray) -> None:
            width = max(1, int(lengths[idx].max()))
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = lengths[i]
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._input_names:
                feeds["token_type_ids"] = np.zeros_like(ids)
            tokens = self.session.run(None, feeds)[0]
            out[idx] = pool(tokens, mask, self.card.pooling)

        if self.workers > 1 and len(batches) > 1:
            from concurrent.futures import ThreadPoolExecutor

            # ONNX Runtime releases the GIL while it runs; each batch writes its own rows.
            with ThreadPoolExecutor(self.workers) as pool_:
                list(pool_.map(run, batches))
        else:
            for idx in batches:
                run(idx)
        return out

    def tokenize(self, texts: Sequence[str], max_length: int, prefix: bool = True) -> list[Any]:
        """Encodings of ``texts`` truncated to ``max_length`` tokens, the same as tokenizing each
        whole text; with ``prefix``, a long text is cut first at a whitespace after
        PREFIX_CHARS_PER_TOKEN * max_length characters (tokenizers split words at whitespace, so
        the prefix's tokens begin the text's tokens) and tokenized whole only if that yields fewer
        than ``max_length`` tokens."""
        self.open()
        if max_length != self.card.max_length:
            self.tokenizer.enable_truncation(max_length)
        try:
            if not prefix:
                return list(self.tokenizer.encode_batch(list(texts)))
            cut = PREFIX_CHARS_PER_TOKEN * max_length
            heads = [t if len(t) <= cut else _head(t, cut) for t in texts]
            encodings = list(self.tokenizer.encode_batch(heads))
            short = [
                i for i, h in enumerate(heads) if h is not texts[i] and len(encodings[i].ids) < max_length
            ]
            for i, e in zip(short, self.tokenizer.encode_batch([texts[i] for i in short])):
                encodings[i] = e
            return encodings
        finally:
            if max_length != self.card.max_length:
                self.tokenizer.enable_truncation(self.card.max_length)

    def pair_probability(
        self, emb_a: np.ndarray, emb_b: np.ndarray, extra_features: np.ndarray | None = None
    ) -> np.ndarray:
        """P(clone) for aligned rows of embeddings; ``extra_features`` as named in the card (0 if None;
        ignored by a head that takes none, as a model trained on embeddings alone)."""
        n_extra = len(self.card.head.extra_features)
        features = pair_features(emb_a, emb_b, extra_features if n_extra else None, n_extra)
        return self.head.probability(features)


def _open_runtime(model_dir: Path, card: ModelCard) -> tuple[Any, Any, tuple[str, ...], float]:
    """(tokenizer, ONNX session, its input names, seconds it took) of a model directory."""
    import time

    import onnxruntime as ort
    from tokenizers import Tokenizer

    t0 = time.perf_counter()
    try:
        tokenizer = Tokenizer.from_file(str(model_dir / TOKENIZER_FILE))
    except Exception as exc:  # noqa: BLE001 - the Rust side raises plain Exception
        raise ModelUnavailable(f"{model_dir / TOKENIZER_FILE} is corrupt ({exc})") from None
    tokenizer.no_padding()
    tokenizer.enable_truncation(card.max_length)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(
            str(model_dir / ONNX_FILE), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors
        raise ModelUnavailable(
            f"{model_dir / ONNX_FILE} cannot be loaded ({exc}); re-export the model"
        ) from None
    inputs = tuple(i.name for i in session.get_inputs())
    if "input_ids" not in inputs or "attention_mask" not in inputs:
        raise ModelUnavailable(f"{model_dir / ONNX_FILE} does not take input_ids/attention_mask: {inputs}")
    out_dim = session.get_outputs()[0].shape[-1]
    if isinstance(out_dim, int) and out_dim != card.dim:
        raise ModelUnavailable(
            f"{model_dir / ONNX_FILE} produces {out_dim}-dimensional embeddings but the card says "
            f"{card.dim}; the files come from different models"
        )
    return tokenizer, session, inputs, time.perf_counter() - t0


def _head(text: str, cut: int) -> str:
    """``text`` up to the start of the first whitespace run at or after ``cut``."""
    end = cut
    while end < len(text) and not text[end].isspace():
        end += 1
    while end > 0 and text[end - 1].isspace():
        end -= 1
    return text[:end] if end > 0 else text


def pool(tokens: np.ndarray, mask: np.ndarray, pooling: str) -> np.ndarray:
    """Pool token embeddings [b, t, d] under ``mask`` [b, t] and L2-normalize each row."""
    tokens = tokens.astype(np.float32, copy=False)
    if pooling == "cls":
        vec = tokens[:, 0, :]
    else:
        m = mask[:, :, None].astype(np.float32)
        vec = (tokens * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
    norms = np.linalg.norm(vec, axis=1, keepdims=True)
    unit: np.ndarray = (vec / np.maximum(norms, 1e-12)).astype(np.float32)
    return unit
