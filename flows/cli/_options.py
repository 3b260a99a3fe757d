"""Options that several commands share, spelled once (light imports only: the CLI starts before torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Checkpoint = Annotated[Path, typer.Option("--model", help="A checkpoint directory written by `nrskg train`.")]
Device = Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")]
BatchSize = Annotated[
    int,
    typer.Option("--batch-size", min=0, help="Sentences per batch; 0: fill batches to the device's budget."),
]

MinConfidence = Annotated[
    float | None,
    typer.Option(
        "--min-confidence",
        min=0.0,
        max=1.0,
        help="Keep triples at or above this confidence; default: the model's own, calibrated in training "
        "for validation precision >= 0.9 (0 keeps every decoded triple).",
    ),
]
