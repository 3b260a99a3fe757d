"""`nrskg pretrain`: continued masked-LM training of an encoder with whole-word masking (jieba words)."""

from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from extractor.datasets import FORMATS, load
from extractor.pretrain import PretrainConfig, entity_words, pretrain, write_user_dict
from extractor.texts import read_texts
from flows.cli._app import app, cli_errors
from nrskg.errors import DataFormatError
from pipeline.reading import decode_text, json_texts

DEFAULTS = PretrainConfig()


@app.command("pretrain")
@cli_errors
def pretrain_cli(
    encoder: Annotated[Path, typer.Option("--encoder", help="HuggingFace encoder directory to continue.")],
    texts: Annotated[
        Path,
        typer.Option(
            "--texts",
            help=".txt (a text per line), .jsonl ('text' or 'words'), .json (read as ingest reads it) "
            "or a folder.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Directory for the pretrained encoder.")],
    steps: Annotated[int, typer.Option(min=1)] = DEFAULTS.steps,
    batch_size: Annotated[int, typer.Option(min=1)] = DEFAULTS.batch_size,
    mask_prob: Annotated[float, typer.Option(min=0.01, max=0.9)] = DEFAULTS.mask_prob,
    lr: float = DEFAULTS.lr,
    max_chars: Annotated[
        int, typer.Option(min=8, help="Characters per training chunk.")
    ] = DEFAULTS.max_chars,
    user_dict: Annotated[Path | None, typer.Option("--user-dict", help="jieba user dictionary file.")] = None,
    user_dict_from: Annotated[
        Path | None,
        typer.Option("--user-dict-from", help="Labelled data whose entities form the dictionary."),
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help=f"Format of --user-dict-from: {', '.join(FORMATS)}.")
    ] = None,
    device: str = DEFAULTS.device,
    seed: int = DEFAULTS.seed,
) -> None:
    """Whole-word-masking MLM on raw domain text (the BERT-wwm recipe), before fine-tuning the extractor."""
    config = PretrainConfig(
        steps=steps, batch_size=batch_size, mask_prob=mask_prob, lr=lr, max_chars=max_chars,
        device=device, seed=seed,
    )  # fmt: skip
    if user_dict_from is not None and fmt is None:
        raise DataFormatError("--user-dict-from needs --format")
    with tempfile.TemporaryDirectory() as work:
        if user_dict_from is not None:
            user_dict = write_user_dict(entity_words(load(user_dict_from, fmt)), Path(work) / "user_dict.txt")
        texts_read = [text for _, text in read_texts(texts, decode_text, partial(json_texts, words=True))]
        result = pretrain(encoder, texts_read, out, config, user_dict)
    typer.echo(
        f"MLM loss {result.first_loss:.3f} -> {result.last_loss:.3f} over {result.steps} steps "
        f"({result.chunks} chunks, {result.wall_time_s:.0f} s); encoder written to {out}"
    )
