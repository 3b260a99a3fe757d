"""One ingest run as plain code: plan -> chunks -> statuses -> resume -> summary.

Every input ends with a recorded status in the run's manifest (`loaded`, `skipped`, `failed:<reason>`, and
`not_reached` when the run stopped first). A document is its source; documents already in the graph with the
same text (content hash) and model version are skipped, and an edited one, or one loaded by an older model
version, is replaced (the load swaps its extraction in one transaction). A run that finds nothing to load
writes no run folder. A run that stops (an error, or Ctrl-C) still writes its manifest and a summary with
`status` `failed` (and the error) or `interrupted`, so the folder says which chunks were committed; running
the same command again resumes, because the documents those chunks loaded are skipped.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

import pandas as pd

from graph.settings import Neo4jSettings
from graph.types import WriteCounters
from nrskg.contracts import (
    FAILED_PREFIX,
    LOADED,
    NEW,
    NOT_REACHED,
    SKIPPED,
    TRIPLE_COLUMNS,
    UNSUPPORTED,
    failed,
)
from nrskg.errors import NrskgError, PipelineError, interrupted
from pipeline import runs, stages
from pipeline.dedup import deduplicate
from pipeline.reading import MANIFEST_COLUMNS, Document, accepted_suffixes, with_status
from pipeline.sentences import SENTENCE_COLUMNS
from pipeline.settings import PipelineSettings
from pipeline.stages import Extraction
from pipeline.summary import COMPLETED, FAILED, INTERRUPTED, IngestRecord, IngestSummary, attach, count
from pipeline.versions import plan_loads

log = logging.getLogger(__name__)


def ingest_corpus(
    corpus: str,
    extraction: Extraction,
    neo4j: Neo4jSettings,
    *,
    runs_root: str = "runs",
    settings: PipelineSettings | None = None,
    chunk_documents: int = 500,
    workers: int = 1,
    steps: ModuleType = stages,
) -> IngestRecord:
    """Ingest every readable document under `corpus` with the model of `extraction`.

    Documents go through split -> extract -> dedup -> load in chunks of `chunk_documents`; each chunk's load
    is one transaction, so a run that stopped half-way is simply run again: loaded chunks are skipped. Up to
    `workers` chunks' extractions are in flight while earlier chunks are loaded in order. A stopped run is
    recorded in the run folder (manifest and summary) before its error is raised again with the record
    attached (`pipeline.summary.record_of`); our own errors also say where the run stopped and how to resume.

    `steps` is the module whose functions run the stages: `pipeline.stages` as plain calls, or a module of
    the same names that runs them as Prefect tasks (retries, the `gpu` slot, a cache). Its `submit` starts a
    chunk's extraction and returns the call that waits for the triples.
    """
    steps.graph_ready(neo4j)
    run = _Run(
        runs_root, str(Path(corpus).resolve()), extraction, neo4j, settings or PipelineSettings(), steps
    )
    try:
        chunks = run.plan(corpus, chunk_documents)
        in_flight: deque[_Chunk] = deque()
        for number, chunk in enumerate(chunks, 1):
            in_flight.append(run.submit(number, chunk))
            if len(in_flight) >= workers:  # keep `workers` extractions running, no more
                run.load(in_flight.popleft())
        while in_flight:
            run.load(in_flight.popleft())
    except BaseException as e:  # Ctrl-C and SIGTERM too: the folder must say how far the run got
        error = run.stopped(e)
        if error is e:
            raise
        raise error from e
    return run.finish(folder=bool(chunks))  # a run that loads nothing leaves no folder behind


def unfinished_run(runs_root: str, corpus: str) -> str | None:
    """The latest run folder of `corpus` (resolved), if that run stopped or never finished (this run resumes
    its work). A run of another corpus in between neither hides it nor is resumed; a folder that does not say
    its corpus (no summary: killed before it could write one) is taken for this corpus's."""
    for run_dir in runs.run_folders(runs_root):
        try:
            summary = runs.read_summary(run_dir)
        except PipelineError:
            return str(run_dir)
        if summary.get("corpus", corpus) == corpus:
            return None if summary.get("status", COMPLETED) == COMPLETED else str(run_dir)
    return None


def _nothing_to_read(corpus: str, manifest: pd.DataFrame, settings: PipelineSettings) -> str:
    """Why a corpus gave no document: no files, only files of other suffixes, or only inputs that failed."""
    status = manifest["status"]
    unsupported, failures = (
        int((status == UNSUPPORTED).sum()),
        int(status.str.startswith(FAILED_PREFIX).sum()),
    )
    found = (
        f"{unsupported} files of other suffixes, {failures} inputs failed" if len(manifest) else "no files"
    )
    suffixes = accepted_suffixes(settings.read)
    return f"nothing to read in {corpus}: {found}; documents are read from {suffixes} files"


class _Chunk(NamedTuple):
    """A chunk whose extraction was started: its number (from 1), documents, sentences, triples to come."""

    number: int
    documents: list[Document]
    sentences: pd.DataFrame
    triples: Callable[[], pd.DataFrame]  # waits for the chunk's extraction


class _Run:
    """One run's state between its steps: the statuses, what was loaded, and where the run is, so that a
    stop can say which chunk and stage it hit."""

    def __init__(
        self, runs_root: str, corpus: str, extraction: Extraction, neo4j: Neo4jSettings,
        settings: PipelineSettings, steps: ModuleType,
    ) -> None:  # fmt: skip
        self.runs_root, self.extraction, self.neo4j, self.settings, self.steps = (
            runs_root, extraction, neo4j, settings, steps
        )  # fmt: skip
        self.schema = stages.graph_schema(extraction.model_dir)
        self.extracted = stages.extracted(extraction)
        self.summary = IngestSummary(
            None, extraction.model_version, self.extracted.min_confidence,
            resumes=unfinished_run(runs_root, corpus), corpus=corpus,
        )  # fmt: skip
        self.manifest = pd.DataFrame(columns=MANIFEST_COLUMNS)
        self.sentences: list[pd.DataFrame] = []
        self.triples: list[pd.DataFrame] = []
        self.counters = WriteCounters()
        self.stage, self.chunks, self.chunk = "read", 0, 0  # `chunk` counts from 1; 0 before the first
        self.doc_ids: list[str] = []
        self.started = time.perf_counter()

    def clock(self, stage: str) -> AbstractContextManager[None]:
        self.stage = stage
        return _timed(self.summary.seconds, stage)

    def plan(self, corpus: str, chunk_documents: int) -> list[list[Document]]:
        """Read the corpus, give every input its status, and cut the documents to load into chunks."""
        with self.clock("read"):
            read = self.steps.read(corpus, self.settings)
        if not read.documents:
            self.summary.warning = _nothing_to_read(corpus, read.manifest, self.settings)
            log.warning("%s", self.summary.warning)
        with self.clock("loaded versions"):
            loaded = self.steps.loaded_versions([d.doc_id for d in read.documents], self.neo4j)
        self.manifest, todo_ids = plan_loads(read.manifest, loaded, self.extracted)
        to_load = set(todo_ids)
        todo = [d for d in read.documents if d.doc_id in to_load]
        if self.summary.resumes:
            log.info(
                "resuming after the unfinished run %s: %d inputs skipped (loaded already, or copies of "
                "another), %d to do",
                self.summary.resumes, int((self.manifest["status"] == SKIPPED).sum()), len(todo),
            )  # fmt: skip
        chunks = [todo[start : start + chunk_documents] for start in range(0, len(todo), chunk_documents)]
        self.chunks = len(chunks)
        return chunks

    def at(self, number: int, documents: list[Document]) -> None:
        self.chunk, self.doc_ids = number, [d.doc_id for d in documents]

    def submit(self, number: int, documents: list[Document]) -> _Chunk:
        """Split a chunk and start its extraction."""
        self.at(number, documents)
        with self.clock("split"):
            sentences = self.steps.split(documents, self.extraction)
        return _Chunk(number, documents, sentences, self.steps.submit(sentences, self.extraction))

    def load(self, chunk: _Chunk) -> None:
        """Wait for a chunk's triples, then dedup and load it; its documents become `loaded`."""
        self.at(chunk.number, chunk.documents)
        with self.clock("extract"):
            triples = chunk.triples()
        with self.clock("dedup"):
            waiting = self.manifest[self.manifest["status"] == NEW]
            documents = waiting[waiting["doc_id"].isin(self.doc_ids)]
            batch = self.steps.dedup(documents, chunk.sentences, triples)
        with self.clock("load"):
            self.counters += self.steps.load(batch, self.doc_ids, self.extracted, self.schema, self.neo4j)
        self.manifest = with_status(self.manifest, self.doc_ids, LOADED)
        self.sentences.append(chunk.sentences)
        self.triples.append(triples)

    def stopped(self, error: BaseException) -> BaseException:
        """Record the stop (statuses, summary, run folder); return the error to raise, carrying the record.

        The documents of the chunk that failed get `failed:<stage>` and the error, later ones `not_reached`.
        A signal is no failure of the documents: after Ctrl-C, or SIGTERM (which Prefect raises as a
        `BaseException` of its own), every document not loaded is `not_reached`.
        """
        stopped_by_signal = interrupted(error)
        reason = INTERRUPTED if stopped_by_signal else str(error) or type(error).__name__
        self.summary.status, self.summary.error = (INTERRUPTED if stopped_by_signal else FAILED), reason
        if not stopped_by_signal:
            self.manifest = with_status(self.manifest, self.doc_ids, failed(self.stage), reason)
        waiting = self.manifest.loc[self.manifest["status"] == NEW, "doc_id"]
        self.manifest = with_status(
            self.manifest, waiting, NOT_REACHED, "the run stopped before this document"
        )
        record = None
        try:
            record = self.finish(folder=True)
        except Exception:  # noqa: BLE001 - the run's own error is the one to report
            log.exception("could not record the stopped run in %s", self.summary.run_dir or self.runs_root)
        error = self._rewritten(error)
        attach(error, record)
        return error

    def _rewritten(self, error: BaseException) -> BaseException:
        """Our error again, saying where the run stopped and how to resume; anything else as it is."""
        if not isinstance(error, NrskgError):
            return error
        where = f"at stage {self.stage}"
        if self.chunk:
            where = f"in chunk {self.chunk} of {self.chunks} ({len(self.doc_ids)} documents), {where}"
        done = self.summary.documents_new + self.summary.documents_skipped
        statuses = f" ({self.summary.run_dir}/manifest.parquet has each document's status)"
        again = (
            f"run the same command again: the {done} documents already loaded are skipped"
            f"{statuses if self.summary.run_dir else ''}"
        )
        hint = f"{error.hint}; then {again}" if error.hint else again[0].upper() + again[1:]
        return type(error)(f"ingest stopped {where}: {error.args[0] if error.args else error}", hint=hint)

    def finish(self, *, folder: bool) -> IngestRecord:
        """The run's counts and, with `folder`, a new run folder with the summary and the tables of what was
        loaded."""
        run_dir = runs.create_run(self.runs_root) if folder else None
        self.summary.run_dir = str(run_dir) if run_dir else None
        with _timed(self.summary.seconds, "dedup"):
            tables = {
                "sentences": _concat(self.sentences, SENTENCE_COLUMNS),
                "triples": _concat(self.triples, [*TRIPLE_COLUMNS, "doc_id"]),
            }
            tables["entities"], tables["relations"] = deduplicate(tables["triples"], tables["sentences"])
        count(self.summary, self.manifest, tables)
        self.summary.graph = self.counters.model_dump()
        if run_dir is not None:
            with _timed(self.summary.seconds, "write run folder"):
                for name, frame in {"manifest": self.manifest, **tables}.items():
                    runs.write_table(run_dir, name, frame)
        self.summary.seconds["total"] = round(time.perf_counter() - self.started, 3)
        if run_dir is not None:
            runs.write_summary(run_dir, asdict(self.summary))
        return IngestRecord(self.summary, self.manifest)


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


@contextmanager
def _timed(into: dict[str, float], stage: str) -> Iterator[None]:
    """Add the wall time of the block to `into[stage]`, so the summary can split a run's time by stage."""
    started = time.perf_counter()
    yield
    into[stage] = round(into.get(stage, 0.0) + time.perf_counter() - started, 3)
