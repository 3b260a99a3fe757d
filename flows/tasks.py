"""Prefect tasks: each wraps one coarse step of the pipeline (a corpus or a chunk, never one sentence).

Prefect costs tens of milliseconds per task run, so tasks stay coarse. Retries sit only where a retry can
help: Neo4j reads and writes (a server restart, a leader switch), and only on errors that may pass; refused
credentials, a bad URI or a bad query fail at once. Extraction holds a slot of the `gpu` global
concurrency limit so that parallel runs do not oversubscribe the device, and its result is cached on its
inputs (sentence texts + model version), so a run that failed while loading re-runs without re-extracting.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import neo4j
import pandas as pd
import torch
from prefect import get_client, task
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectNotFound
from prefect.tasks import exponential_backoff

from extractor.configuration import NRSOneRelConfig
from extractor.infer import Extractor, triples_frame
from extractor.registry import ModelEntry
from flows.preflight import preflight
from graph import documents as graph_documents
from graph.connection import driver
from graph.schema import GraphSchema, ensure_schema
from graph.settings import Neo4jSettings
from graph.types import GraphBatch, WriteCounters
from graph.writer import replace_documents
from nrskg.contracts import doc_id_of_sentence
from nrskg.errors import GraphError, ModelError, PermanentGraphError
from pipeline.dedup import deduplicate
from pipeline.graph_batch import to_graph_batch
from pipeline.reading import Corpus, Document, read_corpus
from pipeline.sentences import split_corpus
from pipeline.settings import PipelineSettings

log = logging.getLogger(__name__)

GPU_LIMIT = "gpu"
"""Global concurrency limit held while a model runs. Create it on a Prefect server with
`prefect gcl create gpu --limit 1`; where it does not exist (ephemeral mode) no slot is taken."""
# The driver itself retries a transaction for `Neo4jSettings.transaction_retry_s`; these retries are for
# longer outages, and keep a dead server from holding a run for minutes.
NEO4J_RETRIES = 2
NEO4J_BACKOFF = exponential_backoff(backoff_factor=2)
EXTRACT_CACHE_EXPIRY = timedelta(days=7)


def _transient(_task: Any, _run: Any, state: Any) -> bool:
    """Retry only failures of the connection or the server's transient errors; a refused credential, a bad
    URI, a bad query or an unknown relation type fails the same way every time."""
    try:
        state.result()
    except PermanentGraphError:
        return False
    except GraphError as e:
        if isinstance(e.__cause__, neo4j.exceptions.ConfigurationError):
            return False
        transient = (neo4j.exceptions.TransientError, neo4j.exceptions.DriverError, OSError)
        return isinstance(e.__cause__, transient)
    except Exception:  # noqa: BLE001 - any other error is not worth a retry
        return False
    return False


def _neo4j_task(name: str) -> Any:
    """A task that talks to Neo4j: retried on errors that may pass, never on the others."""
    return task(
        name=name, retries=NEO4J_RETRIES, retry_delay_seconds=NEO4J_BACKOFF, retry_condition_fn=_transient
    )


@functools.cache
def run_driver(settings: Neo4jSettings) -> neo4j.Driver:
    """One driver (one connection pool) per server for the whole process, shared by every task that talks to
    Neo4j: opening a driver per task call cost a new connection and handshake each time. Closed at exit."""
    drv = driver(settings)
    atexit.register(drv.close)
    return drv


@task(name="preflight")
def check_first(model: str | None, registry: str, device: str, neo4j: Neo4jSettings) -> ModelEntry:
    """Neo4j, model and device checked before anything is read or extracted (no retries: fail in seconds)."""
    return preflight(model, registry, device, neo4j)


@_neo4j_task("ensure-schema")
def graph_ready(neo4j: Neo4jSettings) -> None:
    """Constraints and indexes, once per run before the first load (every load relies on them)."""
    ensure_schema(run_driver(neo4j), database=neo4j.database)


@task(name="read-corpus")
def read(corpus: str, settings: PipelineSettings) -> Corpus:
    return read_corpus(corpus, settings.read, settings.normalise)


@_neo4j_task("loaded-versions")
def loaded_versions(doc_ids: list[str], neo4j: Neo4jSettings) -> dict[str, graph_documents.LoadedVersion]:
    """The text and model version each of `doc_ids` was last loaded with (absent: not in the graph)."""
    return graph_documents.loaded_versions(run_driver(neo4j), doc_ids, database=neo4j.database)


@_neo4j_task("stale-documents")
def stale_documents(model_version: str, neo4j: Neo4jSettings) -> pd.DataFrame:
    """Documents in the graph not (yet) extracted by `model_version`: doc_id, source, model_version."""
    return graph_documents.stale_documents(run_driver(neo4j), model_version, database=neo4j.database)


@_neo4j_task("graph-sentences")
def graph_sentences(doc_ids: list[str], neo4j: Neo4jSettings) -> pd.DataFrame:
    """The stored sentences of `doc_ids`, so re-extraction needs no access to the original files."""
    return graph_documents.sentences_of(run_driver(neo4j), doc_ids, database=neo4j.database)


@task(name="split-sentences")
def split(documents: list[Document], settings: PipelineSettings) -> pd.DataFrame:
    return split_corpus(documents, settings.sentences)


def _extract_cache_key(_context: Any, parameters: dict[str, Any]) -> str:
    """Same sentences, same model version, same threshold -> same triples; the key hashes exactly those."""
    digest = hashlib.sha256(f"{parameters['model_version']}\x02{parameters.get('min_confidence')}".encode())
    sentences: pd.DataFrame = parameters["sentences"]
    for sent_id, text in zip(sentences["sent_id"], sentences["text"], strict=True):
        digest.update(f"\x00{sent_id}\x01{text}".encode())
    return f"extract-{digest.hexdigest()}"


@task(
    name="extract",
    cache_key_fn=_extract_cache_key,
    cache_expiration=EXTRACT_CACHE_EXPIRY,
    persist_result=True,
    result_serializer="pickle",
)
def extract(
    sentences: pd.DataFrame,
    model_dir: str,
    model_version: str,
    device: str,
    batch_size: int,
    threads: int = 0,
    min_confidence: float | None = None,
) -> pd.DataFrame:
    """Triples of every sentence (DESIGN.md step 3, plus doc_id); holds a `gpu` slot while the model runs.

    `batch_size` 0 lets the extractor fill each batch to the device's budget (`extractor.batching`);
    `threads` > 0 caps torch's CPU threads (parallel workers share the cores); `min_confidence` None: the
    model's own threshold.
    """
    if threads > 0:
        torch.set_num_threads(threads)
    if sentences.empty:
        return triples_frame([], [], model_version).assign(doc_id=pd.Series(dtype="string"))
    with _gpu_slot():
        extractor = _extractor(model_dir, device, batch_size)
        if extractor.model_version != model_version:  # replaced since this process loaded it
            _extractor.cache_clear()
            extractor = _extractor(model_dir, device, batch_size)
        if extractor.model_version != model_version:
            raise ModelError(
                f"{model_dir} holds model {extractor.model_version}; this run started with {model_version}",
                hint="The model was replaced during the run; run the command again",
            )
        found = extractor.extract(sentences["text"].tolist(), progress=True, min_confidence=min_confidence)
    frame = triples_frame(sentences["sent_id"].tolist(), found, model_version)
    return frame.assign(doc_id=frame["sent_id"].map(doc_id_of_sentence))


@contextlib.contextmanager
def _gpu_slot() -> Iterator[None]:
    """Hold a `gpu` slot where the limit exists; elsewhere Prefect warns on every run that it does not."""
    try:
        with get_client(sync_client=True) as client:
            client.read_global_concurrency_limit_by_name(GPU_LIMIT)
    except ObjectNotFound:
        log.debug("no %r concurrency limit on this Prefect server: extraction takes no slot", GPU_LIMIT)
        yield
        return
    with concurrency(GPU_LIMIT, occupy=1):
        yield


@functools.lru_cache(maxsize=1)
def _extractor(model_dir: str, device: str, batch_size: int) -> Extractor:
    """The loaded model, kept for the next chunk in this process (a worker loads it once, not per chunk).

    One model at a time: a long-lived worker that moves to another model frees the first.
    """
    return Extractor.load(model_dir, device=device, batch_size=batch_size)


@task(name="dedup")
def dedup(triples: pd.DataFrame, sentences: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return deduplicate(triples, sentences)


@task(name="graph-batch")
def graph_batch(
    documents: pd.DataFrame, sentences: pd.DataFrame, entities: pd.DataFrame, relations: pd.DataFrame
) -> GraphBatch:
    return to_graph_batch(documents, sentences, entities, relations)


def graph_schema(config: NRSOneRelConfig) -> GraphSchema:
    """The whitelist of relationship types and labels: exactly the model's relations and entity types."""
    return GraphSchema.from_names(config.relations, sorted({*config.head_types, *config.tail_types}))


@_neo4j_task("load")
def load(
    batch: GraphBatch, doc_ids: list[str], model_version: str, schema: GraphSchema, neo4j: Neo4jSettings
) -> WriteCounters:
    """Write the documents' extraction in one transaction, replacing what they said before (an older model
    or an older text).

    Idempotent: loading the same batch again creates nothing, so a retry after a lost commit is safe.
    Call `graph_ready` once first.
    """
    return replace_documents(
        run_driver(neo4j), doc_ids, batch, model_version, schema, batch_size=neo4j.batch_size,
        database=neo4j.database,
    )  # fmt: skip
