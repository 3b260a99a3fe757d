"""The run's stages (`pipeline.stages`, a corpus or a chunk each: a task run costs tens of milliseconds) as
Prefect tasks of the same names, so that `pipeline.ingest` runs them as its steps.

Retries sit only where a retry can help: Neo4j reads and writes, on errors that may pass (a server restart, a
leader switch); refused credentials, a bad URI or a bad query fail at once. Extraction holds a slot of the
`gpu` global concurrency limit so that parallel runs share the device, and its result is cached on its
inputs, so a run that failed while loading re-runs without re-extracting.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import neo4j
import pandas as pd
from prefect import get_client, task
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectNotFound
from prefect.tasks import exponential_backoff

from nrskg.errors import GraphError, PermanentGraphError
from pipeline import stages
from pipeline.preflight import preflight
from pipeline.stages import Extraction

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
    except GraphError as e:
        cause = e.__cause__
        if isinstance(e, PermanentGraphError) or isinstance(cause, neo4j.exceptions.ConfigurationError):
            return False
        return isinstance(cause, neo4j.exceptions.TransientError | neo4j.exceptions.DriverError | OSError)
    except Exception:  # noqa: BLE001 - any other error is not worth a retry
        return False
    return False


def _neo4j_task(step: Callable[..., Any], name: str) -> Any:
    """A step that talks to Neo4j: retried on errors that may pass, never on the others."""
    return task(step, name=name, retries=NEO4J_RETRIES, retry_delay_seconds=NEO4J_BACKOFF,
                retry_condition_fn=_transient)  # fmt: skip


# Neo4j, model and device checked before anything is read or extracted (no retries: fail in seconds).
check_first = task(preflight, name="preflight")
graph_ready = _neo4j_task(stages.graph_ready, "ensure-schema")
read = task(stages.read, name="read-corpus")
loaded_versions = _neo4j_task(stages.loaded_versions, "loaded-versions")
stale_documents = _neo4j_task(stages.stale_documents, "stale-documents")
documents_named = _neo4j_task(stages.documents_named, "documents-named")
graph_sentences = _neo4j_task(stages.graph_sentences, "graph-sentences")
split = task(stages.split, name="split-sentences")
dedup = task(stages.dedup, name="dedup")
load = _neo4j_task(stages.load, "load")


def _extract_cache_key(_context: Any, parameters: dict[str, Any]) -> str:
    """Same sentences, same model version, same threshold -> same triples; the key hashes exactly those."""
    extraction: Extraction = parameters["extraction"]
    digest = hashlib.sha256(f"{extraction.model_version}\x02{extraction.min_confidence}".encode())
    sentences: pd.DataFrame = parameters["sentences"]
    for sent_id, text in zip(sentences["sent_id"], sentences["text"], strict=True):
        digest.update(f"\x00{sent_id}\x01{text}".encode())
    return f"extract-{digest.hexdigest()}"


@task(name="extract", cache_key_fn=_extract_cache_key, cache_expiration=EXTRACT_CACHE_EXPIRY,
      persist_result=True, result_serializer="pickle")  # fmt: skip
def extract(sentences: pd.DataFrame, extraction: Extraction) -> pd.DataFrame:
    """`pipeline.stages.extract`, holding a `gpu` slot while the model runs."""
    with _gpu_slot():
        return stages.extract(sentences, extraction)


def submit(sentences: pd.DataFrame, extraction: Extraction) -> Callable[[], pd.DataFrame]:
    """Start a chunk's extraction as a task run (several at once under a parallel task runner)."""
    return extract.submit(sentences, extraction).result


@contextlib.contextmanager
def _gpu_slot() -> Iterator[None]:
    """Hold a `gpu` slot where the limit exists; elsewhere Prefect warns on every run that it does not.

    A run that has to wait says so: waiting is silent in Prefect, and a slot can stay taken for good (a run
    killed while holding it, on a server that kept its lease only in memory), which would look like a hang."""
    try:
        with get_client(sync_client=True) as client:
            limit = client.read_global_concurrency_limit_by_name(GPU_LIMIT)
    except ObjectNotFound:
        log.debug("no %r concurrency limit on this Prefect server: extraction takes no slot", GPU_LIMIT)
        yield
        return
    if limit.active and limit.active_slots >= limit.limit:
        log.warning(
            "waiting for a slot of Prefect's %r concurrency limit (%d of %d taken) before extracting; if no "
            "other run is extracting, a run stopped while holding one left it taken: `prefect gcl update "
            "%s --active-slots 0` frees it",
            GPU_LIMIT, limit.active_slots, limit.limit, GPU_LIMIT,
        )  # fmt: skip
    with concurrency(GPU_LIMIT, occupy=1):
        yield
