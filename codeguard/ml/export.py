"""Export a trained encoder to the scan-time format: int8 ONNX, tokenizer.json, head, card.

Needs the ``train`` extra (torch, onnx); torch is imported inside the functions only. The ONNX
graph outputs token embeddings; pooling and normalization happen in NumPy at scan time
(:func:`codeguard.ml.encoder.pool`), so one graph serves mean and CLS pooling.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from codeguard.ml.card import ONNX_FILE, TOKENIZER_FILE, ModelCard
from codeguard.ml.head import PairHead

OPSET = 17


def export_model(
    encoder: Any, tokenizer: Any, head: PairHead, card: ModelCard, out_dir: Path, quantize: bool = True
) -> Path:
    """Write ``out_dir`` (created or replaced atomically): model.onnx, tokenizer.json, head, card."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        fp32 = tmp / "model.fp32.onnx"
        export_onnx(encoder, fp32)
        if quantize:
            quantize_int8(fp32, tmp / ONNX_FILE)
            fp32.unlink()
        else:
            fp32.rename(tmp / ONNX_FILE)
            card.quantization = "none"
        save_tokenizer(tokenizer, tmp / TOKENIZER_FILE)
        head.save(tmp)
        card.save(tmp)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


class _TokenEmbeddings:
    """Factory for the module that maps (input_ids, attention_mask[, token_type_ids]) to tokens."""

    @staticmethod
    def build(encoder: Any, with_token_types: bool) -> Any:
        import torch

        class TokenEmbeddings(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.encoder = encoder

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> Any:
                kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
                if token_type_ids is not None:
                    kwargs["token_type_ids"] = token_type_ids
                return self.encoder(**kwargs).last_hidden_state

        return TokenEmbeddings()


def _takes_token_types(encoder: Any) -> bool:
    # RoBERTa-family models have a single token type; feeding zeros to BERT is what the tokenizer does.
    return int(getattr(encoder.config, "type_vocab_size", 0) or 0) > 1


def export_onnx(encoder: Any, path: Path) -> None:
    """fp32 ONNX of ``encoder`` with dynamic batch and sequence axes (TorchScript exporter)."""
    import torch

    # Eager attention traces to plain MatMul/Softmax: measured 16% faster int8 than the SDPA trace.
    set_attention = getattr(encoder, "set_attn_implementation", None)
    if set_attention is not None:
        try:
            set_attention("eager")
        except (ValueError, ImportError):
            pass
    with_types = _takes_token_types(encoder)
    module = _TokenEmbeddings.build(encoder, with_types).eval()
    ids = torch.ones((2, 8), dtype=torch.long)
    mask = torch.ones((2, 8), dtype=torch.long)
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if with_types else [])
    args: tuple[Any, ...] = (ids, mask) + ((torch.zeros_like(ids),) if with_types else ())
    dynamic = {n: {0: "batch", 1: "sequence"} for n in names}
    dynamic["token_embeddings"] = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(
            module,
            args,
            str(path),
            input_names=names,
            output_names=["token_embeddings"],
            dynamic_axes=dynamic,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def quantize_int8(src: Path, dst: Path) -> None:
    """Dynamic int8 quantization with per-channel weights (cosine 0.994 to fp32 measured on MiniLM)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), per_channel=True, weight_type=QuantType.QInt8)


def save_tokenizer(tokenizer: Any, path: Path) -> None:
    """Save the fast (Rust) tokenizer as one tokenizer.json, the only tokenizer format scanning reads."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise TypeError(
            f"{type(tokenizer).__name__} is not a fast tokenizer; no tokenizer.json can be written"
        )
    backend.save(str(path))
