"""`codeguard eval`: run the clone benchmarks with a scorer (registered by codeguard.cli)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from codeguard.errors import CodeguardError

BENCHMARK_NAMES = ("poj104", "bcb", "gcj", "soco")


def summary_rows(results: list[dict[str, Any]]) -> list[tuple[str, str, str, str, str]]:
    """(benchmark, metric, ours, published, protocol) rows for a results list."""
    rows = []
    for r in results:
        value = r["value"]
        ours = f"{value:.2f}" if r["metric"].endswith("(%)") else f"{value:.3f}"
        if r["benchmark"] == "poj104":
            ours += f" (ties {r['ties_worst']:.2f}–{r['ties_best']:.2f})"
        published = ", ".join(f"{k} {v}" for k, v in r.get("published", {}).items()) or "n/a"
        if r["benchmark"] == "poj104":
            how = f"test {r['n_programs']} programs, variant {r['variant']} (chosen on valid)"
        elif r["benchmark"] == "soco":
            how = "all same-language pairs, thresholds cross-language"
        else:
            t = r["threshold"]
            how = f"{r['n_pairs']} pairs, variant {r['variant']}, t={t if t is None else f'{t:.3g}'} (valid)"
        rows.append((r["benchmark"], r["metric"], ours, published, how))
    return rows


def markdown_table(results: list[dict[str, Any]]) -> str:
    """Results as a markdown table next to the published numbers."""
    lines = ["| benchmark | metric | codeguard | published | protocol |", "| --- | --- | --- | --- | --- |"]
    lines += ["| " + " | ".join(row) + " |" for row in summary_rows(results)]
    return "\n".join(lines)


@click.command(name="eval")
@click.option(
    "--benchmark",
    "benchmarks",
    type=click.Choice([*BENCHMARK_NAMES, "all"]),
    multiple=True,
    default=("all",),
    show_default=True,
    help="Benchmark to run (repeatable).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=2),
    default=None,
    help="Cap items (programs or pairs) per split, for a quick run.",
)
@click.option(
    "--scorer",
    "scorer_name",
    type=click.Choice(["fingerprint", "model", "combined"]),
    default="fingerprint",
    show_default=True,
    help="Scorer to evaluate: fingerprints, the --model encoder's cosine, or both combined "
    "(weights chosen on validation data).",
)
@click.option(
    "--model",
    "model_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Model directory (from `codeguard train`) for --scorer model/combined.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full results as JSON.")
def eval_command(
    benchmarks: tuple[str, ...], limit: int | None, scorer_name: str, model_dir: Path | None, as_json: bool
) -> None:
    """Score clone benchmarks (POJ-104, BigCloneBench, GCJ, SOCO).

    The datasets are read in place from the directory $CODEGUARD_DATA, else ../shared/data
    beside the codeguard source checkout, else /work/shared/data: one folder per dataset
    (poj104, bigclonebench-codexglue, gcj-deepsim, soco-fire2014-train). Nothing is downloaded.
    """
    from codeguard.evaluate.benchmarks import BENCHMARKS, to_json
    from codeguard.evaluate.scorers import MODEL_SCORERS, SCORERS, model_scorers

    if scorer_name in MODEL_SCORERS and model_dir is None:
        raise click.UsageError(f"--scorer {scorer_name} needs --model DIR")
    names = BENCHMARK_NAMES if "all" in benchmarks else tuple(dict.fromkeys(benchmarks))
    results = []
    try:
        factories = dict(SCORERS)
        if scorer_name in MODEL_SCORERS:
            factories.update(model_scorers(str(model_dir)))
        for name in names:
            results.append(BENCHMARKS[name](factories[scorer_name], limit=limit))
    except CodeguardError as exc:
        click.echo(f"codeguard: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    if as_json:
        payload = to_json(
            {
                "scorer": scorer_name,
                "model": None if model_dir is None else str(model_dir),
                "limit": limit,
                "results": results,
            }
        )
        click.echo(json.dumps(payload, indent=2, sort_keys=True))
    else:
        click.echo(markdown_table(results))
