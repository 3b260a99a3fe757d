"""Tasks: which load failures are retried (those that may pass), the extraction cache key."""

from __future__ import annotations

import dataclasses

import neo4j
import pandas as pd
import pytest

from flows.tasks import _extract_cache_key, _transient
from graph.connection import graph_error
from nrskg.errors import GraphError, UnknownRelationError
from pipeline.stages import Extraction


class _Failed:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def result(self) -> None:
        raise self.error


def _wrapped(cause: Exception) -> GraphError:
    try:
        raise GraphError("writing to Neo4j failed") from cause
    except GraphError as e:
        return e


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (_wrapped(neo4j.exceptions.ServiceUnavailable("server restarting")), True),
        (_wrapped(neo4j.exceptions.SessionExpired("leader switch")), True),
        (_wrapped(neo4j.exceptions.TransientError("deadlock")), True),
        (_wrapped(neo4j.exceptions.AuthError("bad password")), False),
        (_wrapped(neo4j.exceptions.ConfigurationError("bad uri")), False),
        (_wrapped(neo4j.exceptions.CypherSyntaxError("bad query")), False),
        (UnknownRelationError("relation 'x' is not in the relation schema"), False),
        # As the graph layer raises them: permanent ones are marked, whatever their cause.
        (graph_error(neo4j.exceptions.ServiceUnavailable("refused"), "writing 5 documents"), True),
        (graph_error(neo4j.exceptions.AuthError("bad password"), "connecting"), False),
        (graph_error(neo4j.exceptions.CypherSyntaxError("bad query"), "writing 5 documents"), False),
        (ValueError("a bug"), False),
    ],
)
def test_only_failures_that_may_go_away_are_retried(error: Exception, retry: bool) -> None:
    assert _transient(None, None, _Failed(error)) is retry


def test_the_extraction_cache_key_changes_with_sentences_model_and_threshold() -> None:
    sentences = pd.DataFrame({"sent_id": ["d:0", "d:1"], "text": ["二甲双胍降低血糖。", "胰岛素治疗。"]})
    extraction = Extraction("models/v1", "v1")
    base = {"sentences": sentences, "extraction": extraction}
    key = _extract_cache_key(None, base)
    assert key == _extract_cache_key(None, dict(base, sentences=sentences.copy()))
    others = [
        dict(base, extraction=dataclasses.replace(extraction, model_version="v2")),
        dict(base, extraction=dataclasses.replace(extraction, min_confidence=0.5)),
        dict(base, sentences=sentences.assign(text=["二甲双胍降低血糖。", "胰岛素。"])),
    ]
    assert len({key, *(_extract_cache_key(None, p) for p in others)}) == 4


def test_extraction_waiting_for_a_taken_gpu_slot_says_so_and_goes_on_once_it_is_freed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A `gpu` slot left taken (a run killed while holding it) made every later extraction wait in silence,
    which reads as a hang; the wait is named with the command that frees the slot."""
    import threading

    from prefect import get_client
    from prefect.client.schemas.actions import (
        GlobalConcurrencyLimitCreate,
        GlobalConcurrencyLimitUpdate,
    )
    from prefect.testing.utilities import prefect_test_harness

    from flows.tasks import GPU_LIMIT, _gpu_slot

    def hold() -> None:
        with _gpu_slot():
            extracted.set()

    extracted = threading.Event()
    with prefect_test_harness(), get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name=GPU_LIMIT, limit=1, active_slots=1)
        )
        waiting = threading.Thread(target=hold, daemon=True)
        try:
            with caplog.at_level("WARNING", logger="flows.tasks"):
                waiting.start()
                assert not extracted.wait(3)
            assert "waiting for a slot of Prefect's 'gpu' concurrency limit (1 of 1 taken)" in caplog.text
            assert "`prefect gcl update gpu --active-slots 0` frees it" in caplog.text
        finally:  # freed as the message says, also where an assertion failed: no thread left waiting
            client.update_global_concurrency_limit(GPU_LIMIT, GlobalConcurrencyLimitUpdate(active_slots=0))
            assert extracted.wait(60)
            waiting.join(60)
