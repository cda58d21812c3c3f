"""``codeguard train``: fine-tune a Hugging Face encoder for clone search and pair classification.

Objectives (summed every step): in-batch InfoNCE over positive pairs (symmetric, temperature
``temperature``) shapes the embedding space for FAISS retrieval; BCE over labelled positive and
negative pairs trains the pair head (:mod:`codeguard.ml.head`) together with the encoder, as in
the CodeXGLUE BigCloneBench set-up. AdamW with linear warmup and decay; early stopping on the
validation loss; optional LoRA (peft), merged before export. The result is exported by
:mod:`codeguard.ml.export` into the directory that scanning loads.

torch, transformers and peft are imported inside the functions: importing this module is cheap
and works without the ``train`` extra (``codeguard train`` then says how to install it).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import platform
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codeguard.errors import UsageError
from codeguard.ml.card import HeadInfo, ModelCard
from codeguard.ml.data import Pair, TrainingData, evidence
from codeguard.ml.head import EXTRA_FEATURES, PairHead

TRAIN_EXTRA_HINT = "pip install 'codeguard[train]'"


@dataclass
class TrainConfig:
    """The recipe; recorded verbatim in the model card."""

    base: str
    lora: bool = False
    epochs: int = 3
    batch_size: int = 32
    lr: float = 5e-5
    head_lr: float = 1e-3
    warmup: float = 0.1  # fraction of all steps
    weight_decay: float = 0.01
    max_length: int = 256
    seed: int = 0
    temperature: float = 0.05
    head_hidden: int = 128
    val_fraction: float = 0.1
    patience: int = 2
    max_steps: int = 0  # 0: no cap; else stop after this many optimizer steps
    lora_r: int = 8
    lora_alpha: int = 16
    pooling: str = "mean"
    model_id: str = ""
    device: str = ""  # "" picks cuda when available
    threads: int = 0  # torch CPU threads; 0 keeps torch's default


@dataclass
class TrainResult:
    """Where the model went and how it scored."""

    out_dir: Path
    card: ModelCard
    history: list[dict[str, float]] = field(default_factory=list)


def require_training_deps() -> None:
    """Raise a :class:`UsageError` naming the extra when torch or transformers is missing."""
    missing = []
    for name in ("torch", "transformers", "onnx"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise UsageError(f"training needs {', '.join(missing)}: {TRAIN_EXTRA_HINT}")


def load_base(base: str) -> tuple[Any, Any]:
    """(model, fast tokenizer) of a local Hugging Face encoder (a path, or a name in the local cache)."""
    from transformers import AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True, use_fast=True)
        model = AutoModel.from_pretrained(base, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"cannot load base model {base!r} from local files ({exc}); pass a directory with "
            "config.json, weights and tokenizer files (no download is attempted)"
        ) from None
    if not getattr(tokenizer, "is_fast", False):
        raise UsageError(f"{base}: no fast tokenizer (tokenizer.json) available; scanning needs one")
    return model, tokenizer


def train(
    data: TrainingData,
    out_dir: Path,
    config: TrainConfig,
    log: Callable[[str], None] = lambda _msg: None,
) -> TrainResult:
    """Fine-tune ``config.base`` on ``data``, export it to ``out_dir`` and return its card."""
    require_training_deps()
    import torch

    from codeguard.ml.encoder import Encoder
    from codeguard.ml.export import export_model

    started = time.time()
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = torch.device(config.device or ("cuda" if torch.cuda.is_available() else "cpu"))

    labelled = [p for p in data.pairs]
    if len({p.label for p in labelled}) < 2:
        raise UsageError("training needs labelled pairs of both kinds (label 0 and label 1)")
    rng = random.Random(config.seed)
    rng.shuffle(labelled)
    n_val = max(2, int(len(labelled) * config.val_fraction))
    val, train_pairs = labelled[:n_val], labelled[n_val:]
    if not train_pairs:
        raise UsageError(f"only {len(labelled)} labelled pairs: too few to hold out a validation split")
    log(f"data: {len(train_pairs)} train pairs, {len(val)} validation pairs, {len(data.clusters)} clusters")
    train_extra = _evidence(train_pairs)
    val_extra = _evidence(val)

    model, tokenizer = load_base(config.base)
    dim = int(model.config.hidden_size)
    if config.lora:
        model = _with_lora(model, config)
    model.to(device)
    head = _torch_head(dim, config.head_hidden, len(EXTRA_FEATURES)).to(device)

    steps_per_epoch = math.ceil(len(train_pairs) / config.batch_size)
    total = steps_per_epoch * config.epochs
    if config.max_steps:
        total = min(total, config.max_steps)
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in model.parameters() if p.requires_grad], "lr": config.lr},
            {"params": head.parameters(), "lr": config.head_lr},
        ],
        weight_decay=config.weight_decay,
    )
    warmup_steps = int(total * config.warmup)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: (
            (s + 1) / max(1, warmup_steps)
            if s < warmup_steps
            else max(0.0, (total - s) / max(1, total - warmup_steps))
        ),
    )

    def encode(texts: list[str]) -> Any:
        batch = tokenizer(
            texts, padding=True, truncation=True, max_length=config.max_length, return_tensors="pt"
        )
        mask = batch["attention_mask"].to(device)
        tokens = model(input_ids=batch["input_ids"].to(device), attention_mask=mask).last_hidden_state
        if config.pooling == "cls":
            vec = tokens[:, 0]
        else:
            m = mask.unsqueeze(-1).to(tokens.dtype)
            vec = (tokens * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(vec, dim=-1)

    def evaluate() -> dict[str, float]:
        model.eval()
        head.eval()
        probs = []
        with torch.no_grad():
            for lo in range(0, len(val), config.batch_size):
                part = val[lo : lo + config.batch_size]
                ea, eb = encode([p.a for p in part]), encode([p.b for p in part])
                extra = torch.from_numpy(val_extra[lo : lo + config.batch_size]).to(device)
                probs.append(torch.sigmoid(head(ea, eb, extra)).cpu().numpy())
        model.train()
        head.train()
        return pair_scores(np.concatenate(probs), np.array([p.label for p in val]))

    bce = torch.nn.BCEWithLogitsLoss()
    history: list[dict[str, float]] = []
    best: tuple[float, Any, Any] | None = None
    bad_epochs = step = 0
    model.train()
    for epoch in range(config.epochs):
        order = rng.sample(range(len(train_pairs)), len(train_pairs))
        positives = _positive_pairs(train_pairs, data, rng)
        losses = []
        for b in range(steps_per_epoch):
            if config.max_steps and step >= config.max_steps:
                break
            idx = order[b * config.batch_size : (b + 1) * config.batch_size]
            part = [train_pairs[i] for i in idx]
            ea, eb = encode([p.a for p in part]), encode([p.b for p in part])
            extra = torch.from_numpy(train_extra[idx]).to(device)
            labels = torch.tensor([float(p.label) for p in part], device=device)
            loss_head = bce(head(ea, eb, extra), labels)
            pos = (
                [positives[(b * config.batch_size + k) % len(positives)] for k in range(len(part))]
                if positives
                else []
            )
            loss_con = torch.zeros((), device=device)
            if len(pos) >= 2:
                qa, qb = encode([x for x, _ in pos]), encode([y for _, y in pos])
                logits = qa @ qb.T / config.temperature
                target = torch.arange(len(pos), device=device)
                ce = torch.nn.functional.cross_entropy
                loss_con = (ce(logits, target) + ce(logits.T, target)) / 2
            loss = loss_con + loss_head
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(model.parameters()) + list(head.parameters()), 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            losses.append((loss_con.item(), loss_head.item()))
            if step == 1 or step % 25 == 0:
                log(
                    f"step {step}/{total}: contrastive {loss_con.item():.3f}, bce {loss_head.item():.3f}, "
                    f"{(time.time() - started):.0f} s"
                )
        scores = evaluate()
        con, hd = (np.mean([x[0] for x in losses]), np.mean([x[1] for x in losses])) if losses else (0.0, 0.0)
        row = {
            "epoch": epoch + 1,
            "step": step,
            "train_contrastive": float(con),
            "train_bce": float(hd),
        } | scores
        history.append(row)
        log(json.dumps(row, sort_keys=True))
        if best is None or scores["loss"] < best[0] - 1e-4:
            best = (scores["loss"], _cpu_state(model), _cpu_state(head))
            bad_epochs = 0
        else:
            bad_epochs += 1
            if bad_epochs >= config.patience:
                log(f"early stop after epoch {epoch + 1}: no validation improvement in {bad_epochs} epochs")
                break
        if config.max_steps and step >= config.max_steps:
            break
    assert best is not None
    model.load_state_dict(best[1])
    head.load_state_dict(best[2])
    if config.lora:
        model = model.merge_and_unload()
    model.to("cpu").eval()
    head.to("cpu").eval()

    recipe = asdict(config) | {
        "data": data.summary(),
        "train_pairs": len(train_pairs),
        "val_pairs": len(val),
        "steps": step,
        "seconds": round(time.time() - started, 1),
        "history": history,
        "objectives": ["in-batch InfoNCE on positive pairs", "BCE pair head on labelled pairs"],
        "torch": torch.__version__,
        "machine": platform.machine(),
    }
    model_id = config.model_id or _model_id(config)
    card = ModelCard(
        model_id=model_id,
        base=config.base,
        dim=dim,
        max_length=config.max_length,
        pooling=config.pooling,
        head=HeadInfo(hidden=config.head_hidden, extra_features=list(EXTRA_FEATURES)),
        recipe=recipe,
        scores={"validation_torch": min(history, key=lambda r: r["loss"])},
    )
    export_model(model, tokenizer, _numpy_head(head, config.head_hidden), card, out_dir)

    # Score what scanning will actually run: the int8 ONNX model through the runtime encoder.
    enc = Encoder.load(out_dir)
    ea, eb = enc.embed([p.a for p in val]), enc.embed([p.b for p in val])
    probs = enc.pair_probability(ea, eb, val_extra)
    card.scores["validation_int8"] = pair_scores(probs, np.array([p.label for p in val]))
    with torch.no_grad():
        ref = encode([p.a for p in val]).numpy()
    card.scores["int8_vs_fp32_cosine_mean"] = float(np.mean(np.sum(ref * ea, axis=1)))
    card.save(out_dir)
    return TrainResult(out_dir=Path(out_dir), card=card, history=history)


def pair_scores(probs: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """BCE loss, accuracy, precision/recall/F1 of label 1 at ``threshold``, and ROC AUC."""
    p = np.clip(probs.astype(np.float64), 1e-7, 1 - 1e-7)
    y = labels.astype(np.float64)
    pred = p >= threshold
    tp = float(np.sum(pred & (y == 1)))
    precision = tp / max(1.0, float(pred.sum()))
    recall = tp / max(1.0, float((y == 1).sum()))
    ranks = np.argsort(np.argsort(p)) + 1.0
    n_pos, n_neg = float((y == 1).sum()), float((y == 0).sum())
    auc = (
        (ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg) if n_pos and n_neg else float("nan")
    )
    return {
        "loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
        "accuracy": float(np.mean(pred == (y == 1))),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "auc": float(auc),
    }


def _evidence(pairs: list[Pair]) -> np.ndarray:
    return np.stack([evidence(p.a, p.b, p.language) for p in pairs]).astype(np.float32)


def _positive_pairs(pairs: list[Pair], data: TrainingData, rng: random.Random) -> list[tuple[str, str]]:
    """This epoch's contrastive positives: labelled positives plus pairs drawn inside clusters."""
    out = [(p.a, p.b) for p in pairs if p.label == 1]
    for c in data.clusters:
        members = rng.sample(c.members, len(c.members))
        out += [(members[i], members[i + 1]) for i in range(0, len(members) - 1, 2)]
    rng.shuffle(out)
    return out


def _with_lora(model: Any, config: TrainConfig) -> Any:
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise UsageError(f"--lora needs peft: {TRAIN_EXTRA_HINT}") from None
    # BERT and RoBERTa name their attention projections query/key/value.
    lora = LoraConfig(
        r=config.lora_r, lora_alpha=config.lora_alpha, target_modules=["query", "value"], lora_dropout=0.1
    )
    return get_peft_model(model, lora)


def _torch_head(dim: int, hidden: int, n_extra: int) -> Any:
    import torch

    class TorchPairHead(torch.nn.Module):
        """The torch twin of :class:`codeguard.ml.head.PairHead` (same input layout)."""

        def __init__(self) -> None:
            super().__init__()
            n_in = 2 * dim + 1 + n_extra
            self.lin1 = torch.nn.Linear(n_in, hidden) if hidden else None
            self.lin2 = torch.nn.Linear(hidden or n_in, 1)

        def forward(self, a: Any, b: Any, extra: Any) -> Any:
            cos = (a * b).sum(-1, keepdim=True)
            x = torch.cat([(a - b).abs(), a * b, cos, extra], dim=-1)
            if self.lin1 is not None:
                x = torch.relu(self.lin1(x))
            return self.lin2(x).squeeze(-1)

    return TorchPairHead()


def _numpy_head(head: Any, hidden: int) -> PairHead:
    def arr(t: Any) -> np.ndarray:
        out: np.ndarray = t.detach().cpu().numpy().astype(np.float32)
        return out

    if hidden:
        return PairHead(
            w1=arr(head.lin1.weight).T,
            b1=arr(head.lin1.bias),
            w2=arr(head.lin2.weight).T,
            b2=arr(head.lin2.bias),
        )
    return PairHead(w2=arr(head.lin2.weight).T, b2=arr(head.lin2.bias))


def _cpu_state(module: Any) -> dict[str, Any]:
    return {k: v.detach().cpu().clone() for k, v in copy.copy(module.state_dict()).items()}


def _model_id(config: TrainConfig) -> str:
    digest = hashlib.sha256(json.dumps(asdict(config), sort_keys=True).encode()).hexdigest()[:10]
    return f"codeguard-{Path(config.base.rstrip('/')).name}-{digest}"
