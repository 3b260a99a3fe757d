"""`nrskg evaluate`: micro and per-relation P/R/F1 of a checkpoint on a data set."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from extractor import trained_on
from extractor.configuration import TrainConfig, load_config
from extractor.datasets import FORMATS, Document, relation_schema
from extractor.datasets.corpora import load_renamed
from extractor.evaluate import evaluate
from extractor.infer import AUTO_BATCH, Extractor
from extractor.model import CONFIG_NAME
from extractor.schema import Example
from extractor.splitting import WindowConfig
from flows.cli._app import app, cli_errors
from flows.cli._options import BatchSize, Checkpoint, Device
from nrskg.errors import DataFormatError, ModelError

log = logging.getLogger(__name__)


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
    unseen: Annotated[
        bool,
        typer.Option(
            "--unseen", help="Score only the sentences the model was not trained on (held-out quality)."
        ),
    ] = False,
) -> None:
    """Exact (subject, relation, object) match per sentence, the data's relations renamed as the model was
    trained (`--relation-aliases`), then the model's operating point: precision and recall at its own minimum
    confidence, and the recall where these sentences reach the precision that minimum confidence was chosen
    for. Sentences the model was trained on are counted (`seen_in_training`), and left out with --unseen."""
    extractor = Extractor.load(model, device, batch_size)
    trained = load_config(Path(model) / CONFIG_NAME)[1] or TrainConfig()
    # The relation names the model predicts: the data's after the renamings it was trained with.
    docs = load_renamed(data, fmt, trained.relation_aliases, WindowConfig.of(extractor.config))
    _check_relations(extractor.config.relations, [r.name for r in relation_schema(docs)], data)
    examples, seen = _held_out(docs, Path(model), data, unseen)
    report = evaluate(
        extractor, examples, not as_json, min_confidence, target_precision=trained.target_precision
    )
    as_dict = {**report.to_json(), "seen_in_training": seen}
    typer.echo(json.dumps(as_dict, ensure_ascii=False, indent=2) if as_json else report.to_text())


def _held_out(
    docs: list[Document], model: Path, data: Path, unseen: bool
) -> tuple[list[Example], int | None]:
    """The sentences to score and how many of the data's the model was trained on (None: not recorded).

    Scores on training sentences are no estimate of quality on new text, so they are named (a warning), or,
    with `unseen`, left out."""
    examples = [example for doc in docs for example in doc.examples]
    seen = trained_on.read(model)
    if seen is None:
        if unseen:
            raise ModelError(
                f"{model} does not record the sentences it was trained on, so --unseen cannot leave them out",
                hint="Score it on documents kept out of its training, or train it again",
            )
        return examples, None
    fresh = trained_on.unseen(docs, seen)
    count = len(examples) - len(fresh)
    if unseen:
        if not fresh:
            raise DataFormatError(
                f"{data}: the model was trained on all {len(examples)} of its sentences",
                hint="Score it on documents kept out of its training, or drop --unseen to score these",
            )
        log.info("%d of %d sentences the model was trained on left out", count, len(examples))
        return fresh, count
    if count:
        log.warning(
            "%s: the model was trained on %d of its %d sentences, so these scores overstate its quality on "
            "new text (--unseen scores only the others)", data, count, len(examples),
        )  # fmt: skip
    return examples, count


def _check_relations(predicted: list[str], annotated: list[str], data: Path) -> None:
    """Refuse data whose relation types the model never predicts (every score would be 0, saying nothing of
    the model); where some are shared, warn of the types the model does not know."""
    if annotated and not set(annotated) & set(predicted):
        raise DataFormatError(
            f"{data}: none of its relation types ({', '.join(annotated)}) is one the model predicts "
            f"({', '.join(predicted)})",
            hint="Score it on data annotated with the same types, or train with --relation-aliases OLD=NEW",
        )
    unknown = sorted(set(annotated) - set(predicted))
    if unknown:
        log.warning(
            "%s: the model does not predict %s; their triples count as missed", data, ", ".join(unknown)
        )
