"""The ``codeguard train`` command (registered on the main CLI by ``codeguard.cli``)."""

from __future__ import annotations

from pathlib import Path

import click

from codeguard.errors import CodeguardError
from codeguard.ml import DATA_KINDS


@click.command(
    "train",
    help="Fine-tune an encoder (BERT/RoBERTa family, local files only) for clone detection and "
    "export it as an int8 ONNX model directory that scanning loads. Needs: pip install 'codeguard[train]'.",
)
@click.option(
    "--base", required=True, help="Local model directory (or a name in the local Hugging Face cache)."
)
@click.option(
    "--data",
    "data_specs",
    multiple=True,
    required=True,
    metavar="KIND:PATH",
    help=f"Training data, repeatable: KIND:PATH[:N], KIND one of {', '.join(DATA_KINDS)}, N caps what is "
    "taken from it (a bare *.jsonl is pairs).",
)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--lora", is_flag=True, help="Train LoRA adapters (peft) instead of all weights; merged on export."
)
@click.option(
    "--epochs", default=1, show_default=True, type=click.IntRange(0), help="Encoder epochs (0: head only)."
)
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(2))
@click.option("--lr", default=5e-5, show_default=True, type=click.FloatRange(0, min_open=True))
@click.option(
    "--warmup", default=0.1, show_default=True, type=click.FloatRange(0, 1), help="Fraction of steps."
)
@click.option("--max-length", default=256, show_default=True, type=click.IntRange(8))
@click.option(
    "--embed-max-length",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Tokens per text the exported model reads when indexing and scanning (0: --max-length); "
    "fewer embed faster.",
)
@click.option("--max-steps", default=0, show_default=True, type=click.IntRange(0), help="0: no cap.")
@click.option(
    "--limit", default=0, show_default=True, type=click.IntRange(0), help="Pairs per data source (0: all)."
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option(
    "--precision",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "bf16", "fp16", "fp32"]),
    help="auto: bf16 autocast where the CPU/GPU has it (fp16 with loss scaling on a GPU without bf16).",
)
@click.option(
    "--checkpoint-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the training state is saved (default: .OUT.checkpoints beside --out); removed when "
    "the model is written.",
)
@click.option(
    "--checkpoint-every",
    default=50,
    show_default=True,
    type=click.IntRange(1),
    help="Encoder steps between checkpoints (an interruption loses at most these).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the interrupted run from its checkpoint (same options as that run).",
)
@click.option("--eval-every", default=0, show_default=True, type=click.IntRange(0), help="0: once per epoch.")
@click.option(
    "--head-inputs",
    default="scalar",
    show_default=True,
    type=click.Choice(["scalar", "full"]),
    help="scalar: the head sees cosine + fingerprint evidence (generalizes); full: also |a-b| and a*b "
    "(CodeXGLUE's set-up; learns the training set's topics).",
)
@click.option(
    "--head-only",
    is_flag=True,
    help="--base is a model made by codeguard train: keep its encoder, fit the head again into --out.",
)
@click.option(
    "--threads", default=0, show_default=True, type=click.IntRange(0), help="torch threads (0: default)."
)
@click.option(
    "--model-id", default="", help="Id recorded in the model card (default: derived from the recipe)."
)
def train_command(
    base: str,
    data_specs: tuple[str, ...],
    out_dir: Path,
    lora: bool,
    epochs: int,
    batch_size: int,
    lr: float,
    warmup: float,
    max_length: int,
    embed_max_length: int,
    max_steps: int,
    limit: int,
    seed: int,
    precision: str,
    checkpoint_dir: Path | None,
    checkpoint_every: int,
    resume: bool,
    eval_every: int,
    head_inputs: str,
    head_only: bool,
    threads: int,
    model_id: str,
) -> None:
    """Fine-tune and export; a missing extra or bad input is a usage error (exit 2)."""
    from codeguard.ml.data import load_data, parse_data_specs
    from codeguard.ml.train import TrainConfig, require_training_deps, train

    try:
        parse_data_specs(data_specs)  # bad input is reported before anything heavy happens
        require_training_deps()
        data = load_data(data_specs, limit=limit, seed=seed)
        click.echo(f"training data: {data.summary()}", err=True)
        config = TrainConfig(
            base=base,
            lora=lora,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            warmup=warmup,
            max_length=max_length,
            embed_max_length=embed_max_length,
            max_steps=max_steps,
            seed=seed,
            precision=precision,
            eval_every=eval_every,
            threads=threads,
            model_id=model_id,
            data_specs=list(data_specs),
            head_inputs=head_inputs,
            checkpoint_dir=str(checkpoint_dir or out_dir.parent / f".{out_dir.name}.checkpoints"),
            checkpoint_every=checkpoint_every,
            resume=resume,
        )
        if head_only:
            from codeguard.ml.train import refit_head

            card = refit_head(Path(base), out_dir, data, config, log=lambda msg: click.echo(msg, err=True))
        else:
            card = train(data, out_dir, config, log=lambda msg: click.echo(msg, err=True)).card
    except CodeguardError as exc:
        click.echo(f"codeguard: error: {exc}", err=True)
        raise SystemExit(exc.exit_code) from None
    scores = card.scores.get("validation_int8", {})
    click.echo(
        f"wrote {out_dir} ({card.model_id}); validation int8: "
        + ", ".join(f"{k} {v:.3f}" for k, v in sorted(scores.items()))
        + f"; threshold {card.threshold:.3f}"
    )
