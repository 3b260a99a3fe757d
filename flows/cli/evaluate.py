"""`nrskg evaluate`: micro and per-relation P/R/F1 of a checkpoint on a data set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from extractor.datasets import FORMATS, load
from extractor.evaluate import evaluate
from extractor.infer import AUTO_BATCH, Extractor
from flows.cli._app import app, cli_errors


@app.command("evaluate")
@cli_errors
def evaluate_cli(
    model: Annotated[Path, typer.Option("--model", help="A checkpoint directory written by `nrskg train`.")],
    data: Annotated[Path, typer.Option("--data", help="A data file or folder.")],
    fmt: Annotated[str, typer.Option("--format", help=f"One of {', '.join(FORMATS)}.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")] = "auto",
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size", min=0, help="Sentences per batch; 0: fill batches to the device's budget."
        ),
    ] = AUTO_BATCH,
    min_confidence: Annotated[
        float,
        typer.Option(
            "--min-confidence",
            min=0.0,
            max=1.0,
            help="Score only triples at or above this confidence (0: every decoded triple).",
        ),
    ] = 0.0,
) -> None:
    """Exact (subject, relation, object) match per sentence."""
    examples = [example for doc in load(data, fmt) for example in doc.examples]
    extractor = Extractor.load(model, device, batch_size)
    report = evaluate(extractor, examples, progress=not as_json, min_confidence=min_confidence)
    typer.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2) if as_json else report.to_text())
