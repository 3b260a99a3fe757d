"""`nrskg` command line: one module per command group, each only parses options and calls a library function."""

from flows.cli import data  # noqa: F401
from flows.cli import encoder  # noqa: F401
from flows.cli import neo4j  # noqa: F401
from flows.cli import query  # noqa: F401
from flows.cli._app import app

# Command modules register themselves on `app` when imported (one import line each).

__all__ = ["app"]
