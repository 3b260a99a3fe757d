"""The ingest flow: corpus folder -> documents -> sentences -> triples -> dedup -> Neo4j, with a run folder.

Every input ends with a recorded status in the run's manifest (`loaded`, `skipped`, `failed:<reason>`).
A document is its source; documents already in the graph with the same text (content hash) and model version
are skipped, and an edited one, or one loaded by an older model version, is replaced (the load swaps its
extraction in one transaction). A run that finds nothing to load writes no run folder.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import pandas as pd
from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows import logs, tasks
from flows.models import model_config, resolve_model
from graph.settings import Neo4jSettings
from graph.types import WriteCounters
from pipeline import runs
from pipeline.dedup import TRIPLE_COLUMNS
from pipeline.reading import NEW, with_status
from pipeline.sentences import SENTENCE_COLUMNS
from pipeline.settings import PipelineSettings
from pipeline.versions import EDITED, plan_loads

log = logging.getLogger(__name__)
logs.send_to_flow_runs()

LOADED = "loaded"
SKIPPED = "skipped"


@dataclass
class IngestSummary:
    """What one run did; written to summary.json and published as the run's artifact.

    `run_dir` is None when nothing was loaded (no run folder is written then). `documents_new` counts the
    documents loaded, `documents_edited` those of them that replaced an earlier text.
    """

    run_dir: str | None
    model_version: str
    documents_seen: int = 0
    documents_new: int = 0
    documents_edited: int = 0
    documents_skipped: int = 0
    documents_failed: int = 0
    sentences: int = 0
    triples: int = 0
    entities: int = 0
    relations: int = 0
    graph: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


@flow(name="ingest", log_prints=True)
def ingest(
    corpus: str,
    model: str | None = None,
    registry: str = "models",
    runs_root: str = "runs",
    device: str = "auto",
    batch_size: int = 0,
    chunk_documents: int = 500,
    neo4j: Neo4jSettings | None = None,
    pipeline: PipelineSettings | None = None,
) -> IngestSummary:
    """Ingest every readable document under `corpus` (`model`: a model directory, else the registry's).

    Documents go through split -> extract -> dedup -> load in chunks; each chunk's load is one transaction
    and its extraction is cached, so a run that failed half-way is simply run again: loaded chunks are
    skipped and the chunk that failed re-uses its cached triples.
    """
    neo4j = neo4j or Neo4jSettings.from_env()
    pipeline = pipeline or PipelineSettings()
    entry = resolve_model(model, registry)
    schema = tasks.graph_schema(model_config(entry))
    summary = IngestSummary(run_dir=None, model_version=entry.version)
    clock = functools.partial(_timed, summary.seconds)
    started = time.perf_counter()

    with clock("read"):
        corpus_read = tasks.read(corpus, pipeline)
    loaded = tasks.loaded_versions([d.doc_id for d in corpus_read.documents], neo4j)
    manifest, todo_ids = plan_loads(corpus_read.manifest, loaded, entry.version)
    to_load = set(todo_ids)
    todo = [d for d in corpus_read.documents if d.doc_id in to_load]
    new_rows = manifest[manifest["status"] == NEW]
    summary.documents_edited = int((new_rows["reason"] == EDITED).sum())

    parts: dict[str, list[pd.DataFrame]] = {"sentences": [], "triples": []}
    counters = WriteCounters()
    for start in range(0, len(todo), chunk_documents):
        chunk = todo[start : start + chunk_documents]
        ids = [d.doc_id for d in chunk]
        with clock("split"):
            sentences = tasks.split(chunk, pipeline)
        with clock("extract"):
            triples = tasks.extract(sentences, entry.path, entry.version, device, batch_size)
        with clock("dedup"):
            entities, relations = tasks.dedup(triples, sentences)
            batch = tasks.graph_batch(new_rows[new_rows["doc_id"].isin(ids)], sentences, entities, relations)
        with clock("load"):
            counters += tasks.load(batch, ids, entry.version, schema, neo4j)
        manifest = with_status(manifest, ids, LOADED)
        parts["sentences"].append(sentences)
        parts["triples"].append(triples)

    sentences = _concat(parts["sentences"], SENTENCE_COLUMNS)
    triples = _concat(parts["triples"], [*TRIPLE_COLUMNS, "doc_id"])
    entities, relations = tasks.dedup(triples, sentences)
    counts = runs.table_counts(manifest, sentences, triples, entities, relations)
    documents = counts["documents"]
    summary.documents_seen, summary.documents_new = documents["seen"], documents[LOADED]
    summary.documents_skipped, summary.documents_failed = documents[SKIPPED], documents["failed"]
    summary.sentences, summary.triples = counts["sentences"], counts["triples"]
    summary.entities, summary.relations = counts["entities"], counts["relations"]
    summary.graph = counters.model_dump()
    if todo:  # a run that loads nothing leaves no folder behind; its statuses are in the log and artifact
        with clock("write run folder"):
            run_dir = runs.create_run(runs_root)
            for name, frame in (("manifest", manifest), ("sentences", sentences), ("triples", triples),
                                ("entities", entities), ("relations", relations)):  # fmt: skip
                runs.write_table(run_dir, name, frame)
        summary.run_dir = str(run_dir)
    summary.seconds["total"] = round(time.perf_counter() - started, 3)
    if summary.run_dir:
        runs.write_summary(summary.run_dir, asdict(summary))
    _report(summary, manifest)
    return summary


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


@contextmanager
def _timed(into: dict[str, float], stage: str) -> Iterator[None]:
    """Add the wall time of the block to `into[stage]`, so the summary can split a run's time by stage."""
    started = time.perf_counter()
    yield
    into[stage] = round(into.get(stage, 0.0) + time.perf_counter() - started, 3)


def summary_rows(summary: IngestSummary) -> list[tuple[str, str]]:
    """(what, value) rows of a run, for the run's artifact, its log and the CLI's table."""
    g = summary.graph
    documents = (
        f"{summary.documents_seen} seen: {summary.documents_new} loaded ({summary.documents_edited} edited), "
        f"{summary.documents_skipped} skipped, {summary.documents_failed} failed"
    )
    graph = (
        f"+{g.get('nodes_created', 0)} / -{g.get('nodes_deleted', 0)} nodes, "
        f"+{g.get('relationships_created', 0)} / -{g.get('relationships_deleted', 0)} relationships"
    )
    stages = ", ".join(f"{k} {v:.1f}" for k, v in summary.seconds.items() if k != "total" and v >= 0.05)
    return [
        ("model", summary.model_version),
        ("documents", documents),
        ("sentences", str(summary.sentences)),
        ("triples", str(summary.triples)),
        ("entities", str(summary.entities)),
        ("relations", str(summary.relations)),
        ("graph", graph),
        ("seconds", f"{summary.seconds.get('total', 0.0):.1f} ({stages})"),
        ("run folder", summary.run_dir or "none (nothing new to load)"),
    ]


def _report(summary: IngestSummary, manifest: pd.DataFrame) -> None:
    """The counts and every document's status into the flow run's logs (not the terminal, where the CLI
    prints the table), and two artifacts: a markdown table of counts and a table of statuses."""
    rows = summary_rows(summary)
    log.info("ingest: %s", "; ".join(f"{name} {value}" for name, value in rows), extra=logs.RUN_LOG_ONLY)
    for row in manifest.itertuples(index=False):
        reason = f" ({row.reason})" if row.reason else ""
        log.info("document %s: %s%s", row.source, row.status, reason, extra=logs.RUN_LOG_ONLY)
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    create_markdown_artifact(
        key="ingest-summary",
        markdown=f"# Ingest with model {summary.model_version}\n\n| what | value |\n|---|---|\n{table}\n",
        description=f"run folder {summary.run_dir}",
    )
    create_table_artifact(
        key="ingest-manifest",
        table=manifest[["source", "status", "reason"]].astype(str).to_dict(orient="records"),
        description="one row per input",
    )
