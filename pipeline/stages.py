"""The coarse steps of a run that reach the extractor and the graph, as plain functions of plain values.

Each step works on a corpus or a chunk of documents, never one sentence, so that a flow can run each as one
task (and an extraction in another process). A process keeps one Neo4j driver per server and the model it
loaded last, so a worker opens one connection pool and loads the model once, not once per chunk.
"""

from __future__ import annotations

import atexit
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import neo4j
import pandas as pd
import torch

from extractor.infer import Extractor, triples_frame
from extractor.registry import model_config
from extractor.splitting import WindowConfig
from graph import documents as graph_documents
from graph.connection import driver
from graph.schema import GraphSchema, ensure_schema
from graph.settings import Neo4jSettings
from graph.types import GraphBatch, WriteCounters
from graph.writer import replace_documents
from nrskg.contracts import doc_id_of_sentence
from nrskg.errors import ModelError, PipelineError
from pipeline.dedup import deduplicate
from pipeline.graph_batch import to_graph_batch
from pipeline.reading import Corpus, Document, doc_ids_named, read_corpus
from pipeline.sentences import split_corpus
from pipeline.settings import PipelineSettings
from pipeline.versions import Extracted


@dataclass(frozen=True)
class Extraction:
    """How a run extracts: the model (its directory, and the version the run started with) and where.

    `batch_size` 0 lets the extractor fill each batch to the device's budget (`extractor.batching`);
    `threads` > 0 caps torch's CPU threads (parallel workers share the cores); `min_confidence` None keeps
    what the model's own calibrated threshold keeps.
    """

    model_dir: str
    model_version: str
    device: str = "auto"
    batch_size: int = 0
    threads: int = 0
    min_confidence: float | None = None


@functools.cache
def run_driver(settings: Neo4jSettings) -> neo4j.Driver:
    """One driver (one connection pool) per server for the whole process, shared by every step that talks
    to Neo4j: a driver per call cost a new connection and handshake each time. Closed at exit."""
    drv = driver(settings)
    atexit.register(drv.close)
    return drv


def graph_schema(model_dir: str) -> GraphSchema:
    """The whitelist of relationship types and labels: exactly the model's relations and entity types."""
    config = model_config(model_dir)
    return GraphSchema.from_names(config.relations, sorted({*config.head_types, *config.tail_types}))


def extracted(extraction: Extraction) -> Extracted:
    """How `extraction` filters, as the graph records it on each document it loads: the model version and
    the minimum confidence applied (the given one, else the model's own, calibrated in training), with the
    model's own beside it for documents loaded before thresholds were recorded. Resolved once per run: the
    model's config is read here, not at every chunk."""
    own = model_config(extraction.model_dir).min_confidence
    given = extraction.min_confidence
    return Extracted(extraction.model_version, own if given is None else given, own)


def graph_ready(settings: Neo4jSettings) -> None:
    """Constraints and indexes, once per run before the first load (every load relies on them)."""
    ensure_schema(run_driver(settings), database=settings.database)


def read(corpus: str, settings: PipelineSettings) -> Corpus:
    return read_corpus(corpus, settings.read, settings.normalise)


def loaded_versions(doc_ids: list[str], settings: Neo4jSettings) -> dict[str, graph_documents.LoadedVersion]:
    """The text and model version each of `doc_ids` was last loaded with (absent: not in the graph)."""
    return graph_documents.loaded_versions(run_driver(settings), doc_ids, database=settings.database)


def stale_documents(current: Extracted, settings: Neo4jSettings) -> pd.DataFrame:
    """Documents in the graph not (yet) extracted as `current` extracts (its model version and minimum
    confidence): doc_id, source, model_version."""
    return graph_documents.stale_documents(
        run_driver(settings), current.model_version, current.min_confidence, current.model_default,
        database=settings.database,
    )  # fmt: skip


def documents_named(names: list[str], settings: Neo4jSettings) -> list[str]:
    """The doc_ids of the documents in the graph that `names` name (doc_ids, or sources as ingest read them;
    a folder or a JSON lines file names every document read from it, as for `nrskg remove`). A name that is
    in the graph under none of these is a mistake to report, not a document to pass over."""
    driver = run_driver(settings)
    candidates = {name: doc_ids_named(name) for name in names}
    every = [doc_id for ids in candidates.values() for doc_id in ids]
    found = set(graph_documents.loaded_versions(driver, every, database=settings.database))
    missing = []
    for name, ids in candidates.items():
        if found & set(ids):
            continue
        under = graph_documents.documents_from(
            driver, [str(Path(name).expanduser().resolve())], settings.database
        )
        if under.empty:
            missing.append(name)
        every += under["doc_id"].tolist()
        found |= set(under["doc_id"])
    if missing:
        raise PipelineError(
            f"not in the graph: {', '.join(missing)}",
            hint="Name a document by its source as ingest read it (a file path, path#L12 or path#id=ID, or a "
            'folder for every document under it) or by its doc_id; `nrskg query "MATCH (d:Document) RETURN '
            'd.source, d.doc_id"` lists them',
        )
    return [doc_id for doc_id in dict.fromkeys(every) if doc_id in found]


def graph_sentences(doc_ids: list[str], settings: Neo4jSettings) -> pd.DataFrame:
    """The stored sentences of `doc_ids`, so re-extraction needs no access to the original files."""
    return graph_documents.sentences_of(run_driver(settings), doc_ids, database=settings.database)


def split(chunk: list[Document], extraction: Extraction) -> pd.DataFrame:
    """The chunk's sentences, long ones cut into the windows the extraction's model was trained on."""
    return split_corpus(chunk, WindowConfig.of(model_config(extraction.model_dir)))


def extract(sentences: pd.DataFrame, extraction: Extraction) -> pd.DataFrame:
    """The triples of every sentence (`TRIPLE_COLUMNS` plus doc_id), by the model the run started with."""
    if extraction.threads > 0:
        torch.set_num_threads(extraction.threads)
    if sentences.empty:
        return triples_frame([], [], extraction.model_version).assign(doc_id=pd.Series(dtype="string"))
    extractor = _extractor(extraction.model_dir, extraction.device, extraction.batch_size)
    if extractor.model_version != extraction.model_version:  # replaced since this process loaded it
        _extractor.cache_clear()
        extractor = _extractor(extraction.model_dir, extraction.device, extraction.batch_size)
    if extractor.model_version != extraction.model_version:
        raise ModelError(
            f"{extraction.model_dir} holds model {extractor.model_version}; "
            f"this run started with {extraction.model_version}",
            hint="The model was replaced during the run; run the command again",
        )
    found = extractor.extract(
        sentences["text"].tolist(), progress=True, min_confidence=extraction.min_confidence
    )
    frame = triples_frame(sentences["sent_id"].tolist(), found, extraction.model_version)
    return frame.assign(doc_id=frame["sent_id"].map(doc_id_of_sentence))


def submit(sentences: pd.DataFrame, extraction: Extraction) -> Callable[[], pd.DataFrame]:
    """Start a chunk's extraction: the call returned waits for its triples (here, runs the model then)."""
    return functools.partial(extract, sentences, extraction)


@functools.lru_cache(maxsize=1)
def _extractor(model_dir: str, device: str, batch_size: int) -> Extractor:
    """The loaded model, kept for the next chunk in this process; one at a time, so a long-lived worker
    that moves to another model frees the first."""
    return Extractor.load(model_dir, device=device, batch_size=batch_size)


def dedup(documents: pd.DataFrame, sentences: pd.DataFrame, triples: pd.DataFrame) -> GraphBatch:
    """The chunk as the graph writer takes it: its documents, sentences, entities and relations."""
    entities, relations = deduplicate(triples, sentences)
    return to_graph_batch(documents, sentences, entities, relations)


def load(
    batch: GraphBatch,
    doc_ids: list[str],
    current: Extracted,
    schema: GraphSchema,
    settings: Neo4jSettings,
) -> WriteCounters:
    """Write the documents' extraction in one transaction, replacing what they said before (an older model,
    another minimum confidence or an older text), and record the model version and minimum confidence it was
    made with. Idempotent: loading the same batch again creates nothing, so a retry after a lost commit is
    safe. Call `graph_ready` once first."""
    return replace_documents(
        run_driver(settings), doc_ids, batch, current.model_version, schema,
        batch_size=settings.batch_size, database=settings.database, min_confidence=current.min_confidence,
    )  # fmt: skip
