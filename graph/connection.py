"""One way to open a Neo4j driver, so local, server, Aura and cluster differ only in `Neo4jSettings`.

Also the one place that turns the driver's exceptions into ours: a `PermanentGraphError` for what the same
request will meet again (credentials, URI, a database the server does not have, a bad query), a plain
`GraphError` for what may pass (a server that does not answer, a transient error), each with the cause on one
line and what to do about it. A mistake in the user's settings names the setting to fix, never a bug.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import neo4j
from neo4j.exceptions import (
    AuthError,
    ClientError,
    ConfigurationError,
    DriverError,
    Neo4jError,
    TransientError,
)

from graph.settings import MEMORY_OPTIONS, MEMORY_VARIABLES, Neo4jSettings
from nrskg.errors import GraphError, PermanentGraphError, error_chain

USER_AGENT = "nrskg/0.1"
# The driver also accepts http(s):// (its preview Query API, needing aiohttp); everything here speaks Bolt.
BOLT_SCHEMES = frozenset({"bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc"})
START_HINT = "Start the local server with `nrskg neo4j start`, or set NEO4J_URI to a running server"
BOLT_PORT_HINT = (
    "Set NEO4J_URI to the Bolt port of a Neo4j server (`nrskg neo4j status` prints the local one's URI)"
)
CREDENTIALS_HINT = (
    "Check NEO4J_USER and NEO4J_PASSWORD (for the local server, unset NEO4J_PASSWORD to use the password "
    "that `nrskg neo4j start` generated)"
)
NO_PASSWORD_HINT = (
    "Set NEO4J_PASSWORD; for the local server, set NRSKG_NEO4J_HOME to its data directory if it is not the "
    "default, so that its stored password is found"
)
# What the server says when NEO4J_DATABASE names a database it does not have.
DATABASE_NOT_FOUND_CODE = "Neo.ClientError.Database.DatabaseNotFound"
DATABASE_HINT = "Set NEO4J_DATABASE to a database of that server, or unset it for the default `neo4j`"
_ERRNO_REASON = re.compile(r"reason \[Errno -?\d+\] ([^)\n]+)")
# What the server reports when a transaction would pass a memory limit, or the heap ran out under it.
MEMORY_POOL_CODE = "Neo.TransientError.General.MemoryPoolOutOfMemoryError"
HEAP_CODE = "Neo.TransientError.General.OutOfMemoryError"
_MEMORY_LIMIT = re.compile(r"limit ([\d.]+ ?\w+)\..*?(\S+) threshold reached", re.DOTALL)
# Neo4j setting -> the `ServerMemory` field that sets it on the local server.
_LIMIT_FIELDS = {
    "db.memory.transaction.max": "transaction_max",
    "dbms.memory.transaction.total.max": "transaction_total_max",
}


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
            # Connecting includes Bolt's handshake, which a program that is not Neo4j may never answer.
            connection_acquisition_timeout=settings.connect_timeout_s,
            max_transaction_retry_time=settings.transaction_retry_s,
            # "label/property does not exist" on a graph that has no such node yet is noise, not a problem.
            notifications_disabled_classifications=[neo4j.NotificationDisabledClassification.UNRECOGNIZED],
        )
    except (ValueError, ConfigurationError) as e:
        raise PermanentGraphError(
            f"cannot use NEO4J_URI {settings.uri!r}: {one_line(e)}", hint="Fix NEO4J_URI"
        ) from e


def one_line(e: BaseException) -> str:
    """An exception on one line (the error line's rule): a driver's "Connection refused" rather than three
    resolved addresses; any other text with its whitespace collapsed and cut at 300 characters."""
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
    if isinstance(e, Neo4jError) and e.code in (MEMORY_POOL_CODE, HEAP_CODE):
        return memory_error(e, doing)
    if isinstance(e, Neo4jError) and e.code == DATABASE_NOT_FOUND_CODE:
        return PermanentGraphError(f"{where} has no such database ({one_line(e)})", hint=DATABASE_HINT)
    if isinstance(e, AuthError):
        return PermanentGraphError(f"{where} refused the credentials ({one_line(e)})", hint=CREDENTIALS_HINT)
    if isinstance(e, ClientError):  # a bad query or a constraint: the same request fails the same way
        return PermanentGraphError(f"{doing} failed: {one_line(e)}", hint="This is a bug in nrskg: report it")
    if isinstance(e, TransientError):
        return GraphError(f"{doing} failed on a transient error: {one_line(e)}", hint="Run it again")
    if isinstance(e, ConfigurationError):
        return PermanentGraphError(f"{doing} failed: {one_line(e)}", hint="Fix the NEO4J_* settings")
    if isinstance(e, DriverError | OSError) and (why := _not_bolt(e)):
        return GraphError(f"{where} does not speak Bolt ({why}) while {doing}", hint=BOLT_PORT_HINT)
    if isinstance(e, DriverError | OSError):
        return GraphError(f"{where} does not answer ({one_line(e)}) while {doing}", hint=START_HINT)
    return GraphError(f"{doing} failed: {one_line(e)}")


def _not_bolt(e: Exception) -> str | None:
    """What shows that another program than Neo4j's Bolt listens at the URI (an HTTP port, a web server), or
    None. A routed URI carries the driver's words in the exceptions of a group it was raised from."""
    errors = list(error_chain(e))
    errors += [
        inner for group in errors if isinstance(group, BaseExceptionGroup) for inner in group.exceptions
    ]
    said = " ".join(str(error) for error in errors)
    if "(looks like HTTP)" in said:
        return "it answers HTTP"
    if "Bolt handshake" in said:
        return "no answer to Bolt's handshake"
    return None


def memory_error(e: Neo4jError, doing: str, remedy: str = "") -> GraphError:
    """A transaction that needed more memory than the server gives it: which limit, and how to raise it
    (`remedy` first, when the caller knows how to ask for less).

    Permanent for the limit on one transaction; the heap and the total limit are shared with other work.
    """
    found = _MEMORY_LIMIT.search(e.message or "")
    if e.code == HEAP_CODE or found is None:
        said = e.message or ""  # "Java heap space", or the launcher's "3013 MiB, more than 75% of it held"
        limit = "the Java heap" + (f" ({said})" if said and not said.startswith("Java heap") else "")
        field = "heap"
    else:
        limit, field = f"{found.group(2)} ({found.group(1)})", _LIMIT_FIELDS.get(found.group(2), "")
    raise_it = (
        f"raise it on the local server: `nrskg neo4j stop && nrskg neo4j start {MEMORY_OPTIONS[field]} SIZE` "
        f"(or {MEMORY_VARIABLES[field]}=SIZE)"
        if field
        else "raise that setting of the server"
    )
    hint = f"{remedy}, or {raise_it}" if remedy else raise_it[0].upper() + raise_it[1:]
    error_type = PermanentGraphError if field == "transaction_max" else GraphError
    return error_type(f"{doing} needed more memory than Neo4j allows: {limit}", hint=hint)


def verify(drv: neo4j.Driver, uri: str, database: str | None = None) -> None:
    """Fail early with a GraphError that names the server (`uri`), not on the first write of a long run; with
    `database`, also when the server has no such database (connecting alone does not open one)."""
    try:
        drv.verify_connectivity()
        if database is not None:
            drv.execute_query("RETURN 1", database_=database, routing_=neo4j.RoutingControl.READ)
    except (Neo4jError, DriverError, OSError) as e:
        raise graph_error(e, "connecting", uri) from e


@contextmanager
def missing_password_named(settings: Neo4jSettings) -> Iterator[None]:
    """Inside, a refusal of the credentials when no password was known (none set, none stored for the local
    server at that URI) says so, instead of the server's words about a missing authentication token."""
    try:
        yield
    except GraphError as e:
        if settings.password is None and isinstance(e.__cause__, AuthError):
            raise PermanentGraphError(
                f"Neo4j at {settings.uri} asks for a password and none is known", hint=NO_PASSWORD_HINT
            ) from e.__cause__
        raise


def check(settings: Neo4jSettings) -> None:
    """Neo4j at `settings.uri` answers, accepts the credentials and has `settings.database`, or a GraphError
    says why, in seconds.

    Flows call this before any extraction, so that a server that is down, a wrong password or a misspelt
    NEO4J_DATABASE fails the run at once instead of after the model has run.
    """
    with missing_password_named(settings), driver(settings) as drv:
        verify(drv, settings.uri, settings.database)
