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
from codeguard.ml.card import HeadInfo, ModelCard, ModelUnavailable, describe_base
from codeguard.ml.data import Pair, TrainingData, describe_data_spec, evidence
from codeguard.ml.head import EXTRA_FEATURES, PairHead, pair_features

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
    max_length: int = 256  # tokens per text in training
    # Tokens per text the exported model reads at index and scan time (the card's max_length);
    # 0: max_length. Embedding time grows with it (see bench/encoder_speed.py).
    embed_max_length: int = 0
    seed: int = 0
    temperature: float = 0.05
    head_hidden: int = 128
    val_fraction: float = 0.1
    patience: int = 3  # head epochs without validation improvement before stopping
    max_steps: int = 0  # 0: no cap; else stop after this many encoder optimizer steps
    head_epochs: int = 40
    val_limit: int = 1000  # validation pairs the encoder is scored on (both sides encoded)
    eval_every: int = 0  # encoder validation every N steps (0: once per epoch)
    data_specs: list[str] = field(default_factory=list)  # the --data arguments, for the card
    precision: str = "auto"  # "auto" (bf16 autocast where the hardware has it), "bf16", "fp16", "fp32"
    head_inputs: str = "scalar"  # "scalar": cosine + fingerprint evidence; "full": + |a-b|, a*b
    balance_sources: bool = True  # every data source weighs the same in the head's loss
    lora_r: int = 8
    lora_alpha: int = 16
    pooling: str = "mean"
    model_id: str = ""
    device: str = ""  # "" picks cuda when available
    threads: int = 0  # torch CPU threads; 0 keeps torch's default
    checkpoint_dir: str = ""  # "" : no checkpoints
    checkpoint_every: int = 50  # encoder steps between checkpoints
    resume: bool = False  # continue from the checkpoint in checkpoint_dir


# Fields of the recipe that may differ between a run and its resumption (the rest must match).
RESUMABLE_CHANGES = ("resume", "checkpoint_dir", "checkpoint_every", "threads", "device")
CHECKPOINT_FILE = "checkpoint.pt"


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


def load_base(base: str, attention: str | None = None) -> tuple[Any, Any]:
    """(model, fast tokenizer) of a local Hugging Face encoder (a path, or a name in the local cache).

    ``attention`` picks the attention implementation (transformers' default when None).
    """
    from transformers import AutoModel, AutoTokenizer

    extra: dict[str, Any] = {"attn_implementation": attention} if attention else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True, use_fast=True)
        model = AutoModel.from_pretrained(base, local_files_only=True, **extra)
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
    """Fine-tune ``config.base`` on ``data``, export it to ``out_dir`` and return its card.

    Two stages. (1) The encoder: symmetric in-batch InfoNCE over positive pairs drawn evenly from
    each data source, with same-group negatives masked (two functions of one BigCloneBench
    functionality are not each other's negatives). (2) The pair head, on the *exported int8*
    embeddings that scanning computes: each distinct function is embedded once, so the head sees
    every labelled pair (all 90k BigCloneBench training pairs) at the cost of a few minutes; its
    decision threshold is the F1-best one on the validation pairs.
    """
    require_training_deps()
    import torch

    from codeguard.ml.export import export_model

    started = time.time()
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = torch.device(config.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    amp = _autocast_dtype(config.precision, device, torch)

    labelled = list(data.pairs)
    if len({p.label for p in labelled}) < 2:
        raise UsageError("training needs labelled pairs of both kinds (label 0 and label 1)")
    rng = random.Random(config.seed)
    rng.shuffle(labelled)
    n_val = max(2, int(len(labelled) * config.val_fraction))
    val, train_pairs = labelled[:n_val], labelled[n_val:]
    if not train_pairs:
        raise UsageError(f"only {len(labelled)} labelled pairs: too few to hold out a validation split")
    # Validating the encoder runs it over both sides of every pair: a bounded sample is enough.
    enc_val = val[: config.val_limit] if config.val_limit else val
    log(
        f"data: {len(train_pairs)} train pairs, {len(val)} validation pairs, {len(data.clusters)} clusters; "
        f"device {device}, autocast {amp or 'off'}"
    )

    # On CPU, eager attention beats SDPA on padded bf16 batches (10.5 s vs 12 s per 64 x 256
    # tokens, forward + backward, measured here); GPUs keep the default.
    model, tokenizer = load_base(config.base, "eager" if device.type == "cpu" else None)
    dim = int(model.config.hidden_size)
    if config.lora:
        model = _with_lora(model, config)
    model.to(device)

    sources = _positive_sources(train_pairs, data)
    n_positives = sum(len(v) for v in sources.values())
    log("contrastive positives: " + ", ".join(f"{k} {len(v)}" for k, v in sorted(sources.items())))
    steps_per_epoch = math.ceil(n_positives / config.batch_size) if n_positives else 0
    total = steps_per_epoch * config.epochs
    if config.max_steps:
        total = min(total, config.max_steps)
    history: list[dict[str, float]] = []

    def encode(texts: list[str]) -> Any:
        batch = tokenizer(
            texts, padding=True, truncation=True, max_length=config.max_length, return_tensors="pt"
        )
        mask = batch["attention_mask"].to(device)
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            tokens = model(input_ids=batch["input_ids"].to(device), attention_mask=mask).last_hidden_state
        tokens = tokens.float()
        if config.pooling == "cls":
            vec = tokens[:, 0]
        else:
            m = mask.unsqueeze(-1).to(tokens.dtype)
            vec = (tokens * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(vec, dim=-1)

    def validate() -> dict[str, float]:
        """Cosine-similarity AUC on the validation pairs: how well the embeddings alone separate."""
        model.eval()
        sims = []
        with torch.no_grad():
            for lo in range(0, len(enc_val), config.batch_size):
                part = enc_val[lo : lo + config.batch_size]
                sims.append((encode([p.a for p in part]) * encode([p.b for p in part])).sum(-1).cpu().numpy())
        model.train()
        return {"cosine_auc": auc(np.concatenate(sims), np.array([p.label for p in enc_val]))}

    best_state: dict[str, Any] | None = None
    if total:
        optimizer = torch.optim.AdamW(
            [p for p in model.parameters() if p.requires_grad], lr=config.lr, weight_decay=config.weight_decay
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
        eval_every = config.eval_every or steps_per_epoch
        # fp16 (CUDA without bf16) needs loss scaling; bf16 and fp32 do not.
        scaler = torch.amp.GradScaler(device.type, enabled=amp == torch.float16)
        losses: list[float] = []
        resumed = load_checkpoint(config) if config.resume else None
        if resumed is None:
            row = {"step": 0} | validate()
            history.append(row)
            log(json.dumps(row, sort_keys=True))
            best, best_state, first = row["cosine_auc"], _cpu_state(model), 1
        else:
            model.load_state_dict(resumed["model"])
            optimizer.load_state_dict(resumed["optimizer"])
            scheduler.load_state_dict(resumed["scheduler"])
            scaler.load_state_dict(resumed["scaler"])
            rng.setstate(_tuples(resumed["rng"]))
            torch.set_rng_state(resumed["torch_rng"])
            history, losses = resumed["history"], resumed["losses"]
            best, best_state, first = resumed["best"], resumed["best_state"], resumed["step"] + 1
            log(f"resumed from step {resumed['step']} of {total} ({_checkpoint_path(config)})")
        ce = torch.nn.functional.cross_entropy
        model.train()  # validate() leaves it so; a resumed run has not validated yet (dropout on)
        for step in range(first, total + 1):
            batch = _draw_positives(sources, config.batch_size, rng)
            qa, qb = encode([x for x, _, _ in batch]), encode([y for _, y, _ in batch])
            logits = qa @ qb.T / config.temperature
            groups = [g for _, _, g in batch]
            same = torch.tensor(
                [[bool(g) and g == h and i != j for j, h in enumerate(groups)] for i, g in enumerate(groups)],
                device=device,
            )
            logits = logits.masked_fill(same, float("-inf"))
            target = torch.arange(len(batch), device=device)
            loss = (ce(logits, target) + ce(logits.T, target)) / 2
            optimizer.zero_grad()
            scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            losses.append(loss.item())
            if step == 1 or step % 25 == 0:
                log(f"step {step}/{total}: contrastive {loss.item():.3f}, {(time.time() - started):.0f} s")
            if step % eval_every == 0 or step == total:
                row = {"step": step, "train_contrastive": float(np.mean(losses))} | validate()
                losses = []
                history.append(row)
                log(json.dumps(row, sort_keys=True))
                if row["cosine_auc"] > best:
                    best, best_state = row["cosine_auc"], _cpu_state(model)
            if config.checkpoint_dir and (step % config.checkpoint_every == 0 or step == total):
                save_checkpoint(
                    config,
                    {
                        "step": step,
                        "recipe": _resume_key(config),
                        "model": _cpu_state(model),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(),
                        "scaler": scaler.state_dict(),
                        "rng": rng.getstate(),
                        "torch_rng": torch.get_rng_state(),
                        "history": history,
                        "losses": losses,
                        "best": best,
                        "best_state": best_state,
                    },
                )
        model.load_state_dict(best_state)
    if config.lora:
        model = model.merge_and_unload()
    model.to("cpu").eval()
    encoder_seconds = round(time.time() - started, 1)

    model_id = config.model_id or _model_id(config)
    card = ModelCard(
        model_id=model_id,
        base=describe_base(config.base),
        dim=dim,
        max_length=config.embed_max_length or config.max_length,
        pooling=config.pooling,
        head=HeadInfo(hidden=config.head_hidden, extra_features=list(EXTRA_FEATURES)),
    )
    n_in = 2 * dim + 1 + len(EXTRA_FEATURES)
    placeholder = PairHead(
        w1=np.zeros((n_in, config.head_hidden), np.float32) if config.head_hidden else None,
        b1=np.zeros(config.head_hidden, np.float32) if config.head_hidden else None,
        w2=np.zeros((config.head_hidden or n_in, 1), np.float32),
        b2=np.zeros(1, np.float32),
    )
    export_model(model, tokenizer, placeholder, card, out_dir)

    # Stage 2: the head, on what scanning computes (the int8 ONNX encoder), one embedding per text.
    with torch.no_grad():
        ref = encode([p.a for p in enc_val]).numpy()
    card.recipe = recipe_of(config) | {
        "data": data.summary(),
        "train_pairs": len(train_pairs),
        "val_pairs": len(val),
        "encoder_steps": total,
        "encoder_seconds": encoder_seconds,
        "history": history,
        "autocast": str(amp) if amp else "off",
        "objectives": [
            "encoder: in-batch InfoNCE on positive pairs, same-group negatives masked",
            "head: BCE on every labelled pair over frozen int8 embeddings + fingerprint evidence",
        ],
        "torch": torch.__version__,
        "machine": platform.machine(),
    }
    card.scores = {"encoder_validation": max(history, key=lambda r: r["cosine_auc"])} if history else {}
    fit_head_stage(out_dir, card, train_pairs, val, config, log, reference=(enc_val, ref))
    card.recipe["seconds"] = round(time.time() - started, 1)
    card.save(out_dir)
    if config.checkpoint_dir:
        # The model is complete: its training state is no longer needed.
        _checkpoint_path(config).unlink(missing_ok=True)
    return TrainResult(out_dir=Path(out_dir), card=card, history=history)


def fit_head_stage(
    out_dir: Path,
    card: ModelCard,
    train_pairs: list[Pair],
    val: list[Pair],
    config: TrainConfig,
    log: Callable[[str], None],
    reference: tuple[list[Pair], np.ndarray] | None = None,
) -> None:
    """Fit and save the pair head of the exported model in ``out_dir`` and fill in ``card``.

    Every distinct text is embedded once by the int8 ONNX encoder (what scanning runs).
    ``config.head_inputs`` "scalar" (the default) lets the head see only the cosine and the
    fingerprint containment and Jaccard; "full" adds ``|a-b|`` and ``a*b`` (768 inputs), as in
    CodeXGLUE's set-up. The full head scores BigCloneBench higher by learning where its ten
    functionalities lie in embedding space, and misjudges code outside them (a rewrite of an
    interval merge scored 0.79 against a topological sort, 0.57 against its origin): scanning
    needs the head that generalizes.
    """
    from codeguard.ml.encoder import Encoder

    t0 = time.time()
    enc = Encoder.load(out_dir)
    texts = sorted({t for p in [*train_pairs, *val] for t in (p.a, p.b)})
    log(f"embedding {len(texts)} distinct texts with the exported int8 encoder")
    vectors = enc.embed(texts)
    row_of = {t: i for i, t in enumerate(texts)}
    embed_seconds = time.time() - t0
    fp_cache: dict[tuple[str, str], np.ndarray] = {}
    features = {
        name: pair_features(
            vectors[[row_of[p.a] for p in part]],
            vectors[[row_of[p.b] for p in part]],
            np.stack([evidence(p.a, p.b, p.language, fp_cache) for p in part]).astype(np.float32),
            len(EXTRA_FEATURES),
        )
        for name, part in (("train", train_pairs), ("val", val))
    }
    dim = card.dim
    keep = np.arange(2 * dim, features["train"].shape[1]) if config.head_inputs == "scalar" else None
    weights = _source_weights(train_pairs) if config.balance_sources else None
    head, head_history = _fit_head(
        features["train"] if keep is None else features["train"][:, keep],
        np.array([p.label for p in train_pairs], np.float32),
        features["val"] if keep is None else features["val"][:, keep],
        np.array([p.label for p in val], np.float32),
        config,
        log,
        weights,
    )
    if keep is not None:
        head = _embed_head(head, keep, features["train"].shape[1])
    card.head = HeadInfo(hidden=config.head_hidden, extra_features=list(EXTRA_FEATURES))
    head.save(out_dir)
    val_labels = np.array([p.label for p in val])
    probs = head.probability(features["val"])
    card.threshold = best_threshold(probs, val_labels)
    by_source: dict[str, dict[str, float]] = {}
    for source in sorted({p.source for p in val}):
        idx = [i for i, p in enumerate(val) if p.source == source]
        by_source[source or "pairs"] = pair_scores(probs[idx], val_labels[idx], card.threshold)
    card.recipe |= {
        "embed_seconds": round(embed_seconds, 1),
        "head_seconds": round(time.time() - t0, 1),
        "head_history": head_history,
        "head_inputs": config.head_inputs,
    }
    card.scores |= {
        "validation_int8": pair_scores(probs, val_labels, card.threshold),
        "validation_int8_by_source": by_source,
    }
    if reference is not None:
        ref_pairs, ref = reference
        cos = np.sum(ref * vectors[[row_of[p.a] for p in ref_pairs]], axis=1)
        card.scores["int8_vs_fp32_cosine_mean"] = float(np.mean(cos))
    card.save(out_dir)


def recipe_of(config: TrainConfig) -> dict[str, Any]:
    """The recipe as the card records it: base and data sources by name and version, not path."""
    return asdict(config) | {
        "base": describe_base(config.base),
        "data_specs": [describe_data_spec(spec) for spec in config.data_specs],
    }


def refit_head(
    model_dir: Path, out_dir: Path, data: TrainingData, config: TrainConfig, log: Callable[[str], None]
) -> ModelCard:
    """Copy an exported model to ``out_dir`` and fit its head again (the encoder is kept)."""
    import shutil

    from codeguard.ml.card import load_card

    card = load_card(model_dir)
    if Path(out_dir).resolve() != Path(model_dir).resolve():
        if Path(out_dir).exists():
            shutil.rmtree(out_dir)
        shutil.copytree(model_dir, out_dir)
    labelled = list(data.pairs)
    rng = random.Random(config.seed)
    rng.shuffle(labelled)
    n_val = max(2, int(len(labelled) * config.val_fraction))
    val, train_pairs = labelled[:n_val], labelled[n_val:]
    card.recipe = dict(card.recipe) | {"head_refit": recipe_of(config) | {"data": data.summary()}}
    fit_head_stage(Path(out_dir), card, train_pairs, val, config, log)
    return card


def _source_weights(pairs: list[Pair]) -> np.ndarray:
    """Per-pair loss weights giving every data source the same total weight (mean 1)."""
    counts: dict[str, int] = {}
    for p in pairs:
        counts[p.source] = counts.get(p.source, 0) + 1
    w = np.array([1.0 / counts[p.source] for p in pairs], np.float32)
    out: np.ndarray = (w * len(pairs) / w.sum()).astype(np.float32)
    return out


def _embed_head(head: PairHead, keep: np.ndarray, n_in: int) -> PairHead:
    """A head trained on columns ``keep`` of the input, as a head over all ``n_in`` columns."""
    first = head.w1 if head.w1 is not None else head.w2
    full = np.zeros((n_in, first.shape[1]), np.float32)
    full[keep] = first
    if head.w1 is not None:
        return PairHead(w1=full, b1=head.b1, w2=head.w2, b2=head.b2)
    return PairHead(w2=full, b2=head.b2)


def _checkpoint_path(config: TrainConfig) -> Path:
    return Path(config.checkpoint_dir) / CHECKPOINT_FILE


def _resume_key(config: TrainConfig) -> dict[str, Any]:
    """What a resumed run must share with the run that wrote the checkpoint."""
    return {k: v for k, v in asdict(config).items() if k not in RESUMABLE_CHANGES}


def save_checkpoint(config: TrainConfig, state: dict[str, Any]) -> None:
    """Write the training state atomically: an interruption leaves the previous checkpoint whole."""
    import torch

    path = _checkpoint_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_checkpoint(config: TrainConfig) -> dict[str, Any]:
    """The state saved by :func:`save_checkpoint`; a missing one is a usage error (exit 2), a
    corrupt one or one of another recipe :class:`ModelUnavailable` (exit 4)."""
    import torch

    if not config.checkpoint_dir:
        raise UsageError("--resume needs the checkpoint directory of the interrupted run (--checkpoint-dir)")
    path = _checkpoint_path(config)
    if not path.is_file():
        raise UsageError(f"--resume: no checkpoint at {path}; train without --resume to start afresh")
    try:
        # weights_only: tensors and plain containers, never arbitrary pickled objects.
        state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
        step, recipe = int(state["step"]), state["recipe"]
        missing = {"model", "optimizer", "scheduler", "scaler", "rng", "torch_rng", "best_state"} - set(state)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a damaged file
        raise ModelUnavailable(
            f"checkpoint {path} is corrupt ({type(exc).__name__}: {str(exc)[:200]}); delete it and "
            "train without --resume (the steps since the run started are lost)"
        ) from None
    if missing:
        raise ModelUnavailable(f"checkpoint {path} is corrupt: it lacks {', '.join(sorted(missing))}")
    current = _resume_key(config)
    if recipe != current:
        changed = sorted(k for k in set(recipe) | set(current) if recipe.get(k) != current.get(k))
        raise UsageError(
            f"checkpoint {path} (step {step}) was written by another recipe (differs in: "
            f"{', '.join(changed)}); resume with the options of the interrupted run, or train "
            "without --resume"
        )
    return state


def _tuples(value: Any) -> Any:
    """random.Random state back from a checkpoint (lists where tuples were)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def _autocast_dtype(precision: str, device: Any, torch: Any) -> Any:
    """bf16 autocast where the hardware has it (measured 1.9x faster on an AVX512-BF16 CPU);
    fp16 (with loss scaling) on a CUDA GPU without bf16, or when asked for."""
    if precision == "fp32":
        return None
    if device.type == "cuda":
        if precision == "fp16":
            return torch.float16
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if precision == "fp16":
        raise UsageError("--precision fp16 needs a CUDA GPU (on a CPU use bf16 or fp32)")
    if precision == "bf16":
        return torch.bfloat16
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return torch.bfloat16 if ("avx512_bf16" in flags or "amx_bf16" in flags) else None


def _positive_sources(pairs: list[Pair], data: TrainingData) -> dict[str, list[tuple[str, str, str]]]:
    """Contrastive positives (a, b, group) by data source: labelled positives and cluster pairs."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for p in pairs:
        if p.label == 1:
            out.setdefault(p.source or "pairs", []).append((p.a, p.b, p.group))
    for k, c in enumerate(data.clusters):
        group = c.group or f"cluster:{k}"
        members = c.members
        out.setdefault(c.source or "clusters", []).extend(
            (members[i], members[j], group) for i in range(len(members)) for j in range(i + 1, len(members))
        )
    return out


def _draw_positives(
    sources: dict[str, list[tuple[str, str, str]]], n: int, rng: random.Random
) -> list[tuple[str, str, str]]:
    """``n`` positives, each from a source chosen uniformly (a small source is not drowned out)."""
    names = sorted(k for k, v in sources.items() if v)
    return [rng.choice(sources[rng.choice(names)]) for _ in range(n)]


def _fit_head(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    config: TrainConfig,
    log: Callable[[str], None],
    weights: np.ndarray | None = None,
) -> tuple[PairHead, list[dict[str, float]]]:
    """Train the pair head with AdamW + BCE (``weights`` per pair); keep the epoch with the best
    validation loss."""
    import torch

    gen = torch.Generator().manual_seed(config.seed)
    n_in = x_train.shape[1]
    layers: list[Any] = []
    if config.head_hidden:
        layers += [torch.nn.Linear(n_in, config.head_hidden), torch.nn.ReLU()]
    layers.append(torch.nn.Linear(config.head_hidden or n_in, 1))
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.AdamW(net.parameters(), lr=config.head_lr, weight_decay=config.weight_decay)
    bce = torch.nn.BCEWithLogitsLoss()
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    xv, yv = torch.from_numpy(x_val), torch.from_numpy(y_val)
    wt = torch.from_numpy(weights if weights is not None else np.ones(len(x_train), np.float32))
    history: list[dict[str, float]] = []
    best: tuple[float, Any] | None = None
    bad = 0
    for epoch in range(1, config.head_epochs + 1):
        net.train()
        order = torch.randperm(len(xt), generator=gen)
        for lo in range(0, len(order), 256):
            idx = order[lo : lo + 256]
            per_pair = torch.nn.functional.binary_cross_entropy_with_logits(
                net(xt[idx]).squeeze(-1), yt[idx], reduction="none"
            )
            loss = (per_pair * wt[idx]).mean()
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
        net.eval()
        with torch.no_grad():
            val_loss = float(bce(net(xv).squeeze(-1), yv))
            train_loss = float(bce(net(xt).squeeze(-1), yt))
        history.append({"epoch": epoch, "train_bce": train_loss, "val_bce": val_loss})
        if best is None or val_loss < best[0] - 1e-4:
            best, bad = (val_loss, _cpu_state(net)), 0
        else:
            bad += 1
            if bad >= config.patience:
                break
    assert best is not None
    net.load_state_dict(best[1])
    log(f"head: best validation BCE {best[0]:.4f} after {len(history)} epochs")

    def arr(t: Any) -> np.ndarray:
        out: np.ndarray = t.detach().cpu().numpy().astype(np.float32)
        return out

    if config.head_hidden:
        lin1, lin2 = net[0], net[2]
        head = PairHead(w1=arr(lin1.weight).T, b1=arr(lin1.bias), w2=arr(lin2.weight).T, b2=arr(lin2.bias))
        return head, history
    return PairHead(w2=arr(net[0].weight).T, b2=arr(net[0].bias)), history


def best_threshold(probs: np.ndarray, labels: np.ndarray) -> float:
    """The probability threshold with the best F1 on these pairs (0.5 when there is no positive)."""
    order = np.argsort(-probs, kind="stable")
    y = labels[order].astype(np.float64)
    n_pos = y.sum()
    if not n_pos:
        return 0.5
    tp = np.cumsum(y)
    predicted = np.arange(1, len(y) + 1)
    f1 = 2 * tp / (predicted + n_pos)
    k = int(np.argmax(f1))
    return float(min(max(probs[order][k], 1e-6), 1 - 1e-6))


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC of ``scores`` for label 1 (rank statistic; NaN without both kinds)."""
    y = labels.astype(np.float64)
    ranks = np.argsort(np.argsort(scores, kind="stable")) + 1.0
    n_pos, n_neg = float((y == 1).sum()), float((y == 0).sum())
    if not n_pos or not n_neg:
        return float("nan")
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def pair_scores(probs: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """BCE loss, accuracy, precision/recall/F1 of label 1 at ``threshold``, and ROC AUC."""
    p = np.clip(probs.astype(np.float64), 1e-7, 1 - 1e-7)
    y = labels.astype(np.float64)
    pred = p >= threshold
    tp = float(np.sum(pred & (y == 1)))
    precision = tp / max(1.0, float(pred.sum()))
    recall = tp / max(1.0, float((y == 1).sum()))
    return {
        "loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
        "accuracy": float(np.mean(pred == (y == 1))),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "auc": auc(p, y),
    }


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


def _cpu_state(module: Any) -> dict[str, Any]:
    return {k: v.detach().cpu().clone() for k, v in copy.copy(module.state_dict()).items()}


def _model_id(config: TrainConfig) -> str:
    recipe = {k: v for k, v in recipe_of(config).items() if k not in RESUMABLE_CHANGES}
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:10]
    return f"codeguard-{Path(config.base.rstrip('/')).name}-{digest}"
