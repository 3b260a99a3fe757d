"""Which load failures Prefect retries: connection and transient server errors, not ones that recur."""

from __future__ import annotations

import neo4j
import pytest

from flows.tasks import _transient
from graph.connection import graph_error
from nrskg.errors import GraphError, UnknownRelationError


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
