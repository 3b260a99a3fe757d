"""`nrskg` command line: one module per command group; each parses options and calls a library function.

Command modules register themselves on `app` when imported; `_app.COMMAND_MODULES` says which module
holds which command, so that a command imports only its own module (and `nrskg query` no torch or Prefect).
"""

from flows.cli._app import app

__all__ = ["app"]
