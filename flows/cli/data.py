"""`nrskg data stats`: counts and oracle recall of the public data sets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from extractor.configuration import NRSOneRelConfig
from extractor.datasets.report import ENV_ROOT, data_root, format_report, shared_data_report
from extractor.splitting import WindowConfig
from flows.cli._app import cli_errors, data_app

WINDOW = WindowConfig.of(NRSOneRelConfig())  # a new model's windows


@data_app.command("stats")
@cli_errors
def stats_cli(
    root: Annotated[
        Path | None,
        typer.Option(
            "--root",
            help=f"Holds diakg/, ruijin_round2/, cmeie/, duie/ (default ${ENV_ROOT} or ../shared/data).",
        ),
    ] = None,
    max_chars: Annotated[int, typer.Option("--max-chars", min=1, help="Window length.")] = WINDOW.max_chars,
    stride: Annotated[int, typer.Option("--stride", min=1, help="Step between windows.")] = WINDOW.stride,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Per-data-set counts and character-level oracle recall for DiaKG, Ruijin, CMeIE and DuIE."""
    if stride > max_chars:
        raise typer.BadParameter(f"--stride {stride} exceeds --max-chars {max_chars}")
    report = shared_data_report(data_root(root), WindowConfig(max_chars, stride))
    typer.echo(json.dumps(report, ensure_ascii=False, indent=2) if as_json else format_report(report))
