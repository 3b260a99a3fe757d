"""How a failed command looks: one `error:` line, last, and no traceback unless `-v`.

Prefect logs every failed task and flow run with its traceback, and the CLI then reports the same error: for a
person at a terminal that is pages of noise before the one line that matters. Without `-v` the console keeps
Prefect's and everyone's log lines but drops their tracebacks, Prefect's second report of the failure and the
Neo4j driver's records (its retries, its notifications about a query, a connection it found dead: what
matters of them reaches the error line); with or without it, nothing is printed after the error line (Prefect
logs its shutdown, and ships logs from a thread, as it exits).
"""

from __future__ import annotations

import logging
import os
import sys
import threading

# Loggers of Prefect's run engines: at ERROR they report a failed run, which the CLI reports itself.
RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
DRIVER_LOGGER = "neo4j"
_error_printed = threading.Event()


class ConsoleFilter(logging.Filter):
    """For the console: nothing once the error line is out; unless `verbose`, also no tracebacks, no Prefect
    report of a failed run and nothing from the Neo4j driver."""

    def __init__(self, verbose: bool) -> None:
        super().__init__()
        self.verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        if _error_printed.is_set():
            return False
        if self.verbose:
            return True
        if record.name in RUN_LOGGERS and record.levelno >= logging.ERROR:
            return False
        if record.name == DRIVER_LOGGER or record.name.startswith(DRIVER_LOGGER + "."):
            return False
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def filter_console(verbose: bool) -> None:
    """Install `ConsoleFilter` on the root logger's console handlers (Prefect keeps a user's root handlers;
    those that capture elsewhere, like pytest's, are left alone), and keep this process's throwaway Prefect
    server from sending telemetry (its failures print tracebacks)."""
    _error_printed.clear()
    logging.raiseExceptions = True
    for handler in logging.getLogger().handlers:
        if getattr(handler, "stream", None) in (sys.stderr, sys.__stderr__):
            handler.addFilter(ConsoleFilter(verbose))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def silence_after_error() -> None:
    """Nothing more reaches the console: the error line is the command's last word. That includes what log
    handlers say of their own failures (Prefect's "--- Error logging to API ---" once Ctrl-C has stopped the
    temporary server its logs go to), which they print only while `logging.raiseExceptions` is set."""
    _error_printed.set()
    logging.raiseExceptions = False
