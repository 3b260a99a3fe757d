"""`nrskg train`: train NRS-OneRel on a data set and write a checkpoint directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from extractor.configuration import LOSSES, NRSOneRelConfig, TrainConfig
from extractor.datasets import FORMATS
from extractor.encoders import TINY
from extractor.train import train
from flows.cli._app import app, cli_errors
from flows.train_options import options_in, train_config


@app.command("train")
@cli_errors
def train_cli(
    data: Annotated[Path, typer.Option("--data", help="A data file or folder.")],
    fmt: Annotated[str, typer.Option("--format", help=f"One of {', '.join(FORMATS)}.")],
    out: Annotated[Path, typer.Option("--out", help="Checkpoint directory to write.")],
    encoder: Annotated[
        str, typer.Option("--encoder", help="A local HF directory, a cached hub id, or 'tiny'.")
    ] = TINY,
    ns: Annotated[
        int | None, typer.Option("--ns", min=1, help="Relation types scored per sentence (or per batch).")
    ] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", min=1)] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1)] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Learning rate of the head.")] = None,
    encoder_lr: Annotated[
        float | None, typer.Option("--encoder-lr", help="Learning rate of the encoder.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    max_steps: Annotated[
        int | None, typer.Option("--max-steps", min=1, help="Stop after this many steps.")
    ] = None,
    val_fraction: Annotated[
        float | None,
        typer.Option("--val-fraction", min=0.0, max=0.9, help="Documents held out for validation."),
    ] = None,
    tokenization: Annotated[str | None, typer.Option("--tokenization", help="'char' or 'subword'.")] = None,
    device: Annotated[str | None, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")] = None,
    positive_weight: Annotated[
        float | None,
        typer.Option("--positive-weight", min=1.0, help="Loss weight of marked cells (softmax/bce losses)."),
    ] = None,
    loss: Annotated[
        str | None,
        typer.Option("--loss", help=f"One of {', '.join(LOSSES)} (default {NRSOneRelConfig.loss})."),
    ] = None,
    ns_scope: Annotated[
        str | None,
        typer.Option(
            "--ns-scope", help="Sample negative relation types per 'sentence' (default) or 'batch'."
        ),
    ] = None,
    d_e: Annotated[int | None, typer.Option("--d-e", min=1, help="Width of the pair representation.")] = None,
    window_chars: Annotated[
        int | None, typer.Option("--window-chars", min=8, help="Characters per training window.")
    ] = None,
    eval_every: Annotated[
        int | None,
        typer.Option("--eval-every", min=1, help="Steps between evaluations (default: per epoch)."),
    ] = None,
    patience: Annotated[
        int | None, typer.Option("--patience", min=1, help="Evaluations without improvement before stopping.")
    ] = None,
    curves: Annotated[
        bool,
        typer.Option("--curves", help="Also score a training sample at each evaluation (metrics.jsonl)."),
    ] = False,
    target_precision: Annotated[
        float | None,
        typer.Option(
            "--target-precision",
            min=0.0,
            max=1.0,
            help="Validation precision the default min confidence must reach "
            f"(default {TrainConfig.target_precision}).",
        ),
    ] = None,
) -> None:
    """Train and keep the checkpoint with the best validation F1; defaults suit the encoder kind."""
    config = train_config(encoder, **options_in(locals()))
    result = train(data, fmt, encoder, out, config)
    typer.echo(
        f"{result.out_dir}: model {result.model_version}, best F1 {result.best_val_f1:.4f} "
        f"({result.metrics['selected_on']}), train F1 {result.train_f1:.4f}, "
        f"{result.steps} steps in {result.wall_time_s:.1f} s; "
        f"default min confidence {result.metrics['min_confidence']['min_confidence']:.2f}"
    )
