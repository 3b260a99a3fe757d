"""The ingest flow: the run of `pipeline.ingest` with its steps as Prefect tasks, its statuses and counts in
the flow run's logs, and two artifacts (counts, every document's status)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows import logs, tasks
from graph.settings import Neo4jSettings
from nrskg.contracts import DEFAULT_REGISTRY
from pipeline.ingest import ingest_corpus
from pipeline.reading import check_corpus
from pipeline.settings import PipelineSettings
from pipeline.stages import Extraction
from pipeline.summary import IngestRecord, IngestSummary, record_of, summary_rows

log = logging.getLogger("flows.ingest")  # not __name__: a Prefect worker imports this file as "ingest"
logs.send_to_flow_runs()

# Documents per status named one by one in the run's Prefect logs: shipping a log record per document cost
# 6 of the 82 s of a 4,481-document ingest (benchmarks/ingest.py); the artifact and manifest list them all.
LOGGED_PER_STATUS = 50
LOOPBACK = "127.0.0.1"  # where the Dask scheduler serves its health endpoint


def extraction_threads(device: str, workers: int) -> int:
    """CPU threads each parallel extraction may use (0: torch's default, for one worker or an accelerator):
    two workers with a thread per core each would fight over the cores."""
    if workers <= 1 or device not in ("auto", "cpu"):
        return 0
    return max(1, (os.cpu_count() or 1) // workers)


def with_dask(workers: int) -> Any:
    """The ingest flow on a local Dask cluster of `workers` processes (one thread each), so that chunks'
    extractions run in parallel; `workers` 1 keeps the default in-process runner."""
    if workers <= 1:
        return ingest
    from prefect_dask import DaskTaskRunner

    # No dashboard; the scheduler's own HTTP endpoint (health) on a free loopback port rather than the
    # dashboard's 8787, which a second run at the same time would find taken and warn about.
    cluster = {
        "n_workers": workers, "threads_per_worker": 1, "processes": True,
        "dashboard_address": None, "scheduler_kwargs": {"dashboard_address": f"{LOOPBACK}:0"},
    }  # fmt: skip
    runner = DaskTaskRunner(cluster_kwargs=cluster)
    return ingest.with_options(task_runner=runner)


@flow(name="ingest", log_prints=True)
def ingest(
    corpus: str,
    model: str | None = None,
    registry: str = DEFAULT_REGISTRY,
    runs_root: str = "runs",
    device: str = "auto",
    batch_size: int = 0,
    chunk_documents: int = 500,
    neo4j: Neo4jSettings | None = None,
    pipeline: PipelineSettings | None = None,
    workers: int = 1,
    min_confidence: float | None = None,
) -> IngestSummary:
    """Ingest every readable document under `corpus` (`model`: a model directory, else the registry's).

    The corpus, Neo4j, the model and the device are checked first. Each chunk's extraction is cached, so a
    run that failed half-way and is run again re-uses the triples of the chunk that failed. `workers` > 1
    keeps that many chunks' extractions in flight; run the flow with a parallel task runner (`with_dask`) to
    spread them over processes. `min_confidence` None keeps what the model's own calibrated threshold keeps.
    """
    pipeline = pipeline or PipelineSettings()
    check_corpus(Path(corpus), pipeline.read)
    neo4j = neo4j or Neo4jSettings.from_env()
    entry = tasks.check_first(model, registry, device, neo4j)
    threads = extraction_threads(device, workers)
    extraction = Extraction(entry.path, entry.version, device, batch_size, threads, min_confidence)
    try:
        record = ingest_corpus(
            corpus, extraction, neo4j, runs_root=runs_root, settings=pipeline,
            chunk_documents=chunk_documents, workers=workers, steps=tasks,
        )  # fmt: skip
    except BaseException as e:
        stopped = record_of(e)
        if stopped is not None:
            _report(stopped)
        raise
    _report(record)
    return record.summary


def _report(record: IngestRecord) -> None:
    """The counts and the documents' statuses (`LOGGED_PER_STATUS` named per status) into the flow run's logs
    (not the terminal, where the CLI prints the table), and two artifacts: a markdown table of counts and a
    table of every document's status."""
    summary, manifest = record
    rows = summary_rows(summary)
    log.info("ingest: %s", "; ".join(f"{name} {value}" for name, value in rows), extra=logs.RUN_LOG_ONLY)
    for status, documents in manifest.groupby("status", sort=False):
        for row in documents.head(LOGGED_PER_STATUS).itertuples(index=False):
            reason = f" ({row.reason})" if row.reason else ""
            log.info("document %s: %s%s", row.source, row.status, reason, extra=logs.RUN_LOG_ONLY)
        if len(documents) > LOGGED_PER_STATUS:
            log.info(
                "... and %d more documents %s (the ingest-manifest artifact and the run's manifest.parquet "
                "list every document)", len(documents) - LOGGED_PER_STATUS, status, extra=logs.RUN_LOG_ONLY,
            )  # fmt: skip
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
