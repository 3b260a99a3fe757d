"""`nrskg extract`: triples with character offsets and confidences from a file of texts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from extractor.infer import AUTO_BATCH, extract_file
from flows.cli._app import app, cli_errors
from flows.cli._options import BatchSize, Checkpoint, Device, MinConfidence
from pipeline.reading import decode_text, json_texts


@app.command("extract")
@cli_errors
def extract_cli(
    model: Checkpoint,
    input_path: Annotated[
        Path,
        typer.Option(
            "--input",
            help='.txt or .md (one text per line), .jsonl ("text", optional "id"), .json (an object or '
            'a list of objects with "text") or a folder of those; read and decoded as ingest reads and '
            "decodes them, a bad JSON line named in a warning and left out. Each text is named by its source "
            "as ingest names documents: /abs/a.jsonl#id=ID, /abs/a.jsonl#L3 (a line with no id), "
            "/abs/a.txt#L3. A folder is read as ingest reads a corpus: hidden files are no inputs, a link to "
            "a file in it is read once, and a file of another suffix or one that is not text is named in a "
            "warning while the others are read; a folder with nothing to read gives an empty output and a "
            "warning, exit code 0.",
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Output .jsonl or .parquet, one row per triple, sent_id its text's source; offsets index "
            "the text (a line as written).",
        ),
    ],
    device: Device = "auto",
    batch_size: BatchSize = AUTO_BATCH,
    row_block: Annotated[
        int | None,
        typer.Option("--row-block", min=1, help="Score the table in blocks of rows to cap memory."),
    ] = None,
    min_confidence: MinConfidence = None,
) -> None:
    """Batched, length-bucketed extraction over all relation types."""
    frame = extract_file(
        model,
        input_path,
        out,
        device,
        batch_size,
        row_block,
        min_confidence,
        decode_text,
        json_texts,
    )
    typer.echo(f"{out}: {len(frame)} triples from {frame['sent_id'].nunique()} texts with triples")
