"""What one ingest run did, in numbers: its `summary.json`, the flow's artifact and the CLI's table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import pandas as pd

from nrskg.contracts import FAILED_PREFIX, LOADED, NOT_REACHED, SKIPPED, UNSUPPORTED
from nrskg.errors import error_chain
from pipeline.versions import EDITED

COMPLETED = "completed"
FAILED = "failed"
INTERRUPTED = "interrupted"  # stopped by a signal (Ctrl-C, SIGTERM); resumed like a failed run


@dataclass
class IngestSummary:
    """What one run did; written to summary.json and published as the run's artifact.

    `run_dir` is None when a completed run loaded nothing (no run folder is written then; a run that stopped
    always writes one). `documents_new` counts the documents loaded, `documents_edited` those of them that
    replaced an earlier text; `documents_unsupported` the files not read for their suffix. `warning` says
    that the corpus held nothing to read: such a run completes (a scheduled run over an empty incoming folder
    is not an error), but its summary must not read like a normal success.
    """

    run_dir: str | None
    model_version: str
    min_confidence: float  # applied to every document this run loads, and recorded on it in the graph
    status: str = COMPLETED
    error: str | None = None
    warning: str | None = None
    # The last run of this corpus, unfinished, whose loaded documents are skipped now.
    resumes: str | None = None
    corpus: str | None = None  # the folder or file read, resolved: which runs a later one resumes
    documents_seen: int = 0
    documents_new: int = 0
    documents_edited: int = 0
    documents_skipped: int = 0
    documents_failed: int = 0
    documents_unsupported: int = 0
    documents_not_reached: int = 0
    sentences: int = 0
    triples: int = 0
    entities: int = 0
    relations: int = 0
    graph: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


class IngestRecord(NamedTuple):
    """What a run leaves: its summary and every input's status."""

    summary: IngestSummary
    manifest: pd.DataFrame


def attach(error: BaseException, record: IngestRecord | None) -> None:
    """Let the error a stopped run raises carry what the run recorded (`record_of` reads it back)."""
    error.ingest_record = record  # type: ignore[attr-defined]


def record_of(error: BaseException) -> IngestRecord | None:
    """What a stopped run recorded (its summary and manifest), carried by the error it raised or one that
    error led to (Prefect turns SIGTERM into its own error, then sends it again once the flow has ended)."""
    records = (getattr(e, "ingest_record", None) for e in error_chain(error))
    return next((record for record in records if record is not None), None)


def count(summary: IngestSummary, manifest: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> None:
    """Fill in the documents by status and the rows of the run's `sentences`, `triples`, `entities` and
    `relations` tables."""
    status = manifest["status"].astype(str)
    loaded = status == LOADED
    summary.documents_seen, summary.documents_new = len(manifest), int(loaded.sum())
    summary.documents_edited = int((loaded & (manifest["reason"] == EDITED)).sum())
    summary.documents_skipped = int((status == SKIPPED).sum())
    summary.documents_failed = int(status.str.startswith(FAILED_PREFIX).sum())
    summary.documents_unsupported = int((status == UNSUPPORTED).sum())
    summary.documents_not_reached = int((status == NOT_REACHED).sum())
    summary.sentences, summary.triples = len(tables["sentences"]), len(tables["triples"])
    summary.entities, summary.relations = len(tables["entities"]), len(tables["relations"])


def summary_rows(summary: IngestSummary) -> list[tuple[str, str]]:
    """(what, value) rows of a run, for the run's artifact, its log and the CLI's table."""
    g = summary.graph
    documents = (
        f"{summary.documents_seen} seen: {summary.documents_new} loaded ({summary.documents_edited} edited), "
        f"{summary.documents_skipped} skipped, {summary.documents_failed} failed"
    )
    if summary.documents_unsupported:
        documents += f", {summary.documents_unsupported} not read (unsupported suffix)"
    if summary.documents_not_reached:
        documents += f", {summary.documents_not_reached} not reached"
    graph = (
        f"+{g.get('nodes_created', 0)} / -{g.get('nodes_deleted', 0)} nodes, "
        f"+{g.get('relationships_created', 0)} / -{g.get('relationships_deleted', 0)} relationships"
    )
    stages = ", ".join(f"{k} {v:.1f}" for k, v in summary.seconds.items() if k != "total" and v >= 0.05)
    outcome = {FAILED: [("status", f"{FAILED}: {summary.error}")], INTERRUPTED: [("status", INTERRUPTED)]}
    resumes = [("resumes", summary.resumes)] if summary.resumes else []
    warning = [("warning", summary.warning)] if summary.warning else []
    return [
        *outcome.get(summary.status, []),
        *warning,
        *resumes,
        ("model", f"{summary.model_version} (min confidence {summary.min_confidence:g})"),
        ("documents", documents),
        ("sentences", str(summary.sentences)),
        ("triples", str(summary.triples)),
        ("entities", str(summary.entities)),
        ("relations", str(summary.relations)),
        ("graph", graph),
        ("seconds", f"{summary.seconds.get('total', 0.0):.1f} ({stages})"),
        ("run folder", summary.run_dir or "none (nothing new to load)"),
    ]
