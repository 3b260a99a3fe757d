"""The ingest flow: corpus folder -> documents -> sentences -> triples -> dedup -> Neo4j, with a run folder.

Every input ends with a recorded status in the run's manifest (`loaded`, `skipped`, `failed:<reason>`, and
`not_reached` when the run stopped first). A document is its source; documents already in the graph with the
same text (content hash) and model version are skipped, and an edited one, or one loaded by an older model
version, is replaced (the load swaps its extraction in one transaction). A run that finds nothing to load
writes no run folder. A run that fails still writes its manifest and a summary with `status: failed` and the
error, so the folder says which chunks were committed; running the same command again resumes, because the
documents those chunks loaded are skipped.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.futures import PrefectFuture

from flows import logs, tasks
from flows.models import model_config
from graph.settings import Neo4jSettings
from graph.types import WriteCounters
from nrskg.contracts import LOADED, NEW, NOT_REACHED, SKIPPED, TRIPLE_COLUMNS, failed
from nrskg.errors import NrskgError, PipelineError
from pipeline import runs
from pipeline.reading import Document, with_status
from pipeline.sentences import SENTENCE_COLUMNS
from pipeline.settings import PipelineSettings
from pipeline.versions import EDITED, plan_loads

log = logging.getLogger("flows.ingest")  # not __name__: a Prefect worker imports this file as "ingest"
logs.send_to_flow_runs()

# Documents per status named one by one in the run's Prefect logs: shipping a log record per document cost
# 6 of the 82 s of a 4,481-document ingest (benchmarks/ingest.py); the artifact and manifest list them all.
LOGGED_PER_STATUS = 50
COMPLETED = "completed"
FAILED = "failed"


@dataclass
class IngestSummary:
    """What one run did; written to summary.json and published as the run's artifact.

    `run_dir` is None when a completed run loaded nothing (no run folder is written then; a failed run always
    writes one). `documents_new` counts the documents loaded, `documents_edited` those of them that replaced
    an earlier text.
    """

    run_dir: str | None
    model_version: str
    status: str = COMPLETED
    error: str | None = None
    resumes: str | None = None  # the unfinished run before this one, whose loaded documents are skipped now
    documents_seen: int = 0
    documents_new: int = 0
    documents_edited: int = 0
    documents_skipped: int = 0
    documents_failed: int = 0
    documents_not_reached: int = 0
    sentences: int = 0
    triples: int = 0
    entities: int = 0
    relations: int = 0
    graph: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class _Progress:
    """Where a run is, so that a failure can say which chunk and stage stopped it."""

    chunks: int = 0
    chunk: int = 0  # 1-based; 0 before the first chunk
    stage: str = "read"
    doc_ids: list[str] = field(default_factory=list)


@dataclass
class _Chunk:
    """A chunk whose extraction was submitted: its documents, its sentences, its triples to come."""

    number: int  # 1-based
    doc_ids: list[str]
    sentences: pd.DataFrame
    triples: PrefectFuture


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

    runner = DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True})
    return ingest.with_options(task_runner=runner)


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
    workers: int = 1,
    min_confidence: float | None = None,
) -> IngestSummary:
    """Ingest every readable document under `corpus` (`model`: a model directory, else the registry's).

    Neo4j, the model and the device are checked first. Documents then go through split -> extract -> dedup ->
    load in chunks; each chunk's load is one transaction and its extraction is cached, so a run that failed
    half-way is simply run again: loaded chunks are skipped and the chunk that failed re-uses its cached
    triples. A failure is recorded in the run folder (manifest and summary) before it is raised.

    `workers` > 1 keeps that many chunks' extractions in flight as task runs while earlier chunks are
    deduplicated and loaded in order; run the flow with a parallel task runner (`with_dask`) to spread them
    over processes. `min_confidence` None keeps what the model's own calibrated threshold keeps.
    """
    neo4j = neo4j or Neo4jSettings.from_env()
    pipeline = pipeline or PipelineSettings()
    entry = tasks.check_first(model, registry, device, neo4j)
    tasks.graph_ready(neo4j)
    schema = tasks.graph_schema(model_config(entry))
    unfinished = _unfinished_run(runs_root)
    summary = IngestSummary(run_dir=None, model_version=entry.version, resumes=unfinished)
    progress = _Progress()
    started = time.perf_counter()

    def clock(stage: str) -> AbstractContextManager[None]:
        progress.stage = stage
        return _timed(summary.seconds, stage)

    manifest: pd.DataFrame | None = None
    parts: dict[str, list[pd.DataFrame]] = {"sentences": [], "triples": []}
    counters = WriteCounters()
    todo: list[Document] = []
    try:
        with clock("read"):
            corpus_read = tasks.read(corpus, pipeline)
        with clock("loaded versions"):
            loaded = tasks.loaded_versions([d.doc_id for d in corpus_read.documents], neo4j)
        manifest, todo_ids = plan_loads(corpus_read.manifest, loaded, entry.version)
        to_load = set(todo_ids)
        todo = [d for d in corpus_read.documents if d.doc_id in to_load]
        new_rows = manifest[manifest["status"] == NEW]
        if unfinished:
            log.info(
                "resuming after the unfinished run %s: %d documents already loaded are skipped, %d to do",
                unfinished, int((manifest["status"] == SKIPPED).sum()), len(todo),
            )  # fmt: skip
        chunks = [todo[start : start + chunk_documents] for start in range(0, len(todo), chunk_documents)]
        progress.chunks = len(chunks)
        threads = extraction_threads(device, workers)
        in_flight: deque[_Chunk] = deque()

        def finish(job: _Chunk) -> None:
            """Wait for a chunk's triples, then dedup and load it (chunks finish in order)."""
            nonlocal manifest, counters
            progress.chunk, progress.doc_ids = job.number, job.doc_ids
            with clock("extract"):
                triples = job.triples.result()
            with clock("dedup"):
                entities, relations = tasks.dedup(triples, job.sentences)
                documents = new_rows[new_rows["doc_id"].isin(job.doc_ids)]
                batch = tasks.graph_batch(documents, job.sentences, entities, relations)
            with clock("load"):
                counters += tasks.load(batch, job.doc_ids, entry.version, schema, neo4j)
            manifest = with_status(manifest, job.doc_ids, LOADED)
            parts["sentences"].append(job.sentences)
            parts["triples"].append(triples)

        for number, chunk in enumerate(chunks, 1):
            progress.chunk, progress.doc_ids = number, [d.doc_id for d in chunk]
            with clock("split"):
                sentences = tasks.split(chunk, pipeline)
            future = tasks.extract.submit(
                sentences, entry.path, entry.version, device, batch_size, threads, min_confidence
            )
            in_flight.append(_Chunk(number, progress.doc_ids, sentences, future))
            if len(in_flight) >= workers:  # keep `workers` extractions running, no more
                finish(in_flight.popleft())
        while in_flight:
            finish(in_flight.popleft())
    except BaseException as e:  # Ctrl-C too: the folder must say how far the run got
        if manifest is not None:
            manifest = _stopped(manifest, progress, e)
        summary.status, summary.error = FAILED, str(e)
        try:
            _finish(runs_root, summary, manifest, parts, counters, started, folder=True)
        except Exception:  # noqa: BLE001 - the run's own error is the one to report
            log.exception("could not record the failed run in %s", summary.run_dir or runs_root)
        error = _run_error(e, progress, summary)
        if error is e:
            raise
        raise error from e
    # A run that loads nothing leaves no folder behind; its statuses are in the log and artifacts.
    _finish(runs_root, summary, manifest, parts, counters, started, folder=bool(todo))
    return summary


def _finish(
    runs_root: str,
    summary: IngestSummary,
    manifest: pd.DataFrame | None,
    parts: dict[str, list[pd.DataFrame]],
    counters: WriteCounters,
    started: float,
    *,
    folder: bool,
) -> None:
    """The run's counts; with `folder`, a new run folder with the tables of what was loaded and the summary
    (completed or failed); then the run's log lines and artifacts."""
    run_dir = runs.create_run(runs_root) if folder else None
    summary.run_dir = str(run_dir) if run_dir else None
    if manifest is not None:
        with _timed(summary.seconds, "dedup"):
            sentences = _concat(parts["sentences"], SENTENCE_COLUMNS)
            triples = _concat(parts["triples"], [*TRIPLE_COLUMNS, "doc_id"])
            entities, relations = tasks.dedup(triples, sentences)
        if run_dir is not None:
            with _timed(summary.seconds, "write run folder"):
                for name, frame in (("manifest", manifest), ("sentences", sentences), ("triples", triples),
                                    ("entities", entities), ("relations", relations)):  # fmt: skip
                    runs.write_table(run_dir, name, frame)
        counts = runs.table_counts(manifest, sentences, triples, entities, relations)
        documents = counts["documents"]
        summary.documents_seen, summary.documents_new = documents["seen"], documents[LOADED]
        edited = (manifest["status"] == LOADED) & (manifest["reason"] == EDITED)
        summary.documents_edited = int(edited.sum())
        summary.documents_skipped, summary.documents_failed = documents[SKIPPED], documents["failed"]
        summary.documents_not_reached = documents[NOT_REACHED]
        summary.sentences, summary.triples = counts["sentences"], counts["triples"]
        summary.entities, summary.relations = counts["entities"], counts["relations"]
    summary.graph = counters.model_dump()
    summary.seconds["total"] = round(time.perf_counter() - started, 3)
    if run_dir is not None:
        runs.write_summary(run_dir, asdict(summary))
    if manifest is not None:
        _report(summary, manifest)


def _stopped(manifest: pd.DataFrame, progress: _Progress, error: BaseException) -> pd.DataFrame:
    """The documents of the chunk that failed get `failed:<stage>` and the error; later ones `not_reached`."""
    reason = str(error) or type(error).__name__
    manifest = with_status(manifest, progress.doc_ids, failed(progress.stage), reason)
    waiting = manifest.loc[manifest["status"] == NEW, "doc_id"]
    return with_status(manifest, waiting, NOT_REACHED, "the run stopped before this document")


def _run_error(e: BaseException, progress: _Progress, summary: IngestSummary) -> BaseException:
    """Our error again, saying where the run stopped and how to resume; anything else (a bug) as it is."""
    if not isinstance(e, NrskgError):
        return e
    where = f"at stage {progress.stage}"
    if progress.chunk:
        where = f"in chunk {progress.chunk} of {progress.chunks} ({len(progress.doc_ids)} documents), {where}"
    statuses = f" ({summary.run_dir}/manifest.parquet has each document's status)" if summary.run_dir else ""
    again = (
        f"run the same command again: the {summary.documents_new + summary.documents_skipped} documents "
        f"already loaded are skipped{statuses}"
    )
    hint = f"{e.hint}; then {again}" if e.hint else again[0].upper() + again[1:]
    return type(e)(f"ingest stopped {where}: {e.args[0] if e.args else e}", hint=hint)


def _unfinished_run(runs_root: str) -> str | None:
    """The latest run folder, if that run failed or never finished (this run then resumes its work)."""
    latest = runs.latest_run(runs_root)
    if latest is None:
        return None
    try:
        finished = runs.read_summary(latest).get("status", COMPLETED) != FAILED
    except PipelineError:  # no summary: killed before it could write one
        finished = False
    return None if finished else str(latest)


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
    if summary.documents_not_reached:
        documents += f", {summary.documents_not_reached} not reached"
    graph = (
        f"+{g.get('nodes_created', 0)} / -{g.get('nodes_deleted', 0)} nodes, "
        f"+{g.get('relationships_created', 0)} / -{g.get('relationships_deleted', 0)} relationships"
    )
    stages = ", ".join(f"{k} {v:.1f}" for k, v in summary.seconds.items() if k != "total" and v >= 0.05)
    outcome = [("status", f"{FAILED}: {summary.error}")] if summary.status == FAILED else []
    if summary.resumes:
        outcome.append(("resumes", summary.resumes))
    return [
        *outcome,
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
    """The counts and the documents' statuses (`LOGGED_PER_STATUS` named per status) into the flow run's logs
    (not the terminal, where the CLI prints the table), and two artifacts: a markdown table of counts and a
    table of every document's status."""
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
