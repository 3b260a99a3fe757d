"""`nrskg` command line: one module per command group; each parses options and calls a library function."""

from flows.cli import (
    data,  # noqa: F401
    encoder,  # noqa: F401
    evaluate,  # noqa: F401
    extract,  # noqa: F401
    models,  # noqa: F401
    neo4j,  # noqa: F401
    pretrain,  # noqa: F401
    query,  # noqa: F401
    run,  # noqa: F401
    train,  # noqa: F401
    view,  # noqa: F401
)
from flows.cli._app import app

# Command modules register themselves on `app` when imported (one import line each).

__all__ = ["app"]
