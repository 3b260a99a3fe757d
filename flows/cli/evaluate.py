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
from flows.cli._options import BatchSize, Checkpoint, Device


@app.command("evaluate")
@cli_errors
def evaluate_cli(
    model: Checkpoint,
    data: Annotated[Path, typer.Option("--data", help="A data file or folder.")],
    fmt: Annotated[str, typer.Option("--format", help=f"One of {', '.join(FORMATS)}.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
    device: Device = "auto",
    batch_size: BatchSize = AUTO_BATCH,
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
