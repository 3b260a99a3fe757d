"""One root exception for the whole project, with a subclass per layer.

The library raises; only the CLI (`flows.cli`) turns these into messages and exit codes. An error that the
user can do something about says what, in `hint`: the CLI prints `error: <cause>. <what to do>` on one line.
"""

from __future__ import annotations

from collections.abc import Iterator


class NrskgError(Exception):
    """Root of every error this project raises on purpose.

    `hint` is the remedy ("start it with `nrskg neo4j start`"); `str()` joins cause and remedy, so logs,
    tracebacks and the CLI all show both.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint  # in __dict__, so it survives pickling (Prefect stores task failures)

    def __str__(self) -> str:
        cause = super().__str__()
        return f"{cause.rstrip(' .')}. {self.hint}" if self.hint else cause


class DataFormatError(NrskgError):
    """Malformed input data. The message names the file and the line or record."""


class ModelError(NrskgError):
    """A model directory, configuration or encoder that cannot be used."""


class GraphError(NrskgError):
    """Neo4j could not be started, reached or written as asked."""


class PermanentGraphError(GraphError):
    """A Neo4j failure that the same request will meet again (credentials, URI, query): never retried."""


class UnknownRelationError(GraphError):
    """A relation type that is not in the whitelisted relation schema."""


class ReadOnlyQueryError(GraphError):
    """A query submitted for reading tried to write, or to read outside the graph (LOAD CSV)."""


class PipelineError(NrskgError):
    """A document or run folder that the pipeline cannot process."""


class FlowError(NrskgError):
    """A Prefect flow cannot run: its temporary API server did not start."""


def error_chain(error: BaseException) -> Iterator[BaseException]:
    """`error`, then the error it was raised from or while handling, and so on: what a stopped ingest
    recorded, or that it was interrupted, may be carried by an error that a later one replaced (Prefect,
    recording the stopped flow run, fails to reach a Prefect server that Ctrl-C stopped too)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def interrupted(error: BaseException) -> bool:
    """Whether `error` is a signal stopping the command (Ctrl-C, SIGTERM: not an `Exception`) or was raised
    while one was handled."""
    return any(not isinstance(e, Exception) for e in error_chain(error))
