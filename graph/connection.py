"""One way to open a Neo4j driver, so local, server, Aura and cluster differ only in `Neo4jSettings`.

Also the one place that turns the driver's exceptions into ours: a `PermanentGraphError` for what the same
request will meet again (credentials, URI, a bad query), a plain `GraphError` for what may pass (a server
that does not answer, a transient error), each with the cause on one line and what to do about it.
"""

from __future__ import annotations

import re

import neo4j
from neo4j.exceptions import (
    AuthError,
    ClientError,
    ConfigurationError,
    DriverError,
    Neo4jError,
    TransientError,
)

from graph.settings import Neo4jSettings
from nrskg.errors import GraphError, PermanentGraphError

USER_AGENT = "nrskg/0.1"
# The driver also accepts http(s):// (its preview Query API, needing aiohttp); everything here speaks Bolt.
BOLT_SCHEMES = frozenset({"bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc"})
START_HINT = "Start the local server with `nrskg neo4j start`, or set NEO4J_URI to a running server"
CREDENTIALS_HINT = (
    "Check NEO4J_USER and NEO4J_PASSWORD (for the local server, unset NEO4J_PASSWORD to use the password "
    "that `nrskg neo4j start` generated)"
)
_ERRNO_REASON = re.compile(r"reason \[Errno -?\d+\] ([^)\n]+)")


def driver(settings: Neo4jSettings | None = None) -> neo4j.Driver:
    """A driver for `settings` (default: from the environment). Opens no connection until first used.

    The caller closes it (`with driver(s) as d:`); the URI scheme chooses direct (bolt://) or routed (neo4j://,
    neo4j+s:// for Aura) connections, so nothing here knows which kind of server it is.
    """
    settings = settings or Neo4jSettings.from_env()
    scheme = settings.uri.partition("://")[0].lower() if "://" in settings.uri else ""
    if scheme not in BOLT_SCHEMES:
        raise PermanentGraphError(
            f"NEO4J_URI {settings.uri!r} is not a Bolt URI",
            hint="Use bolt://HOST:7687 (one server), neo4j://HOST (a cluster) or neo4j+s://HOST (Aura)",
        )
    try:
        return neo4j.GraphDatabase.driver(
            settings.uri,
            auth=settings.auth(),
            user_agent=USER_AGENT,
            connection_timeout=settings.connect_timeout_s,
            max_transaction_retry_time=settings.transaction_retry_s,
            # "label/property does not exist" on a graph that has no such node yet is noise, not a problem.
            notifications_disabled_classifications=[neo4j.NotificationDisabledClassification.UNRECOGNIZED],
        )
    except (ValueError, ConfigurationError) as e:
        raise PermanentGraphError(
            f"cannot use NEO4J_URI {settings.uri!r}: {one_line(e)}", hint="Fix NEO4J_URI"
        ) from e


def one_line(e: BaseException) -> str:
    """A driver exception on one line: "Connection refused" rather than three resolved addresses."""
    text = e.message if isinstance(e, Neo4jError) and e.message else str(e)
    found = _ERRNO_REASON.search(text)
    if found:
        return found.group(1).strip()
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:299] + "…"


def graph_error(e: Exception, doing: str, uri: str | None = None) -> GraphError:
    """Our error for a driver exception `e` raised while `doing` ("writing 500 documents"), `e` its cause."""
    error = _translated(e, doing, f"Neo4j at {uri}" if uri else "Neo4j")
    error.__cause__ = e  # what the flows' retry condition reads, however the caller raises it
    return error


def _translated(e: Exception, doing: str, where: str) -> GraphError:
    if isinstance(e, AuthError):
        return PermanentGraphError(f"{where} refused the credentials ({one_line(e)})", hint=CREDENTIALS_HINT)
    if isinstance(e, ClientError):  # a bad query or a constraint: the same request fails the same way
        return PermanentGraphError(f"{doing} failed: {one_line(e)}", hint="This is a bug in nrskg: report it")
    if isinstance(e, TransientError):
        return GraphError(f"{doing} failed on a transient error: {one_line(e)}", hint="Run it again")
    if isinstance(e, ConfigurationError):
        return PermanentGraphError(f"{doing} failed: {one_line(e)}", hint="Fix the NEO4J_* settings")
    if isinstance(e, DriverError | OSError):
        return GraphError(f"{where} does not answer ({one_line(e)}) while {doing}", hint=START_HINT)
    return GraphError(f"{doing} failed: {one_line(e)}")


def verify(drv: neo4j.Driver, uri: str) -> None:
    """Fail early with a GraphError that names the server (`uri`), not on the first write of a long run."""
    try:
        drv.verify_connectivity()
    except (Neo4jError, DriverError, OSError) as e:
        raise graph_error(e, "connecting", uri) from e


def check(settings: Neo4jSettings) -> None:
    """Neo4j at `settings.uri` answers and accepts the credentials, or a GraphError says why, in seconds.

    Flows call this before any extraction, so that a server that is down or a wrong password fails the run at
    once instead of after the model has run.
    """
    with driver(settings) as drv:
        verify(drv, settings.uri)
