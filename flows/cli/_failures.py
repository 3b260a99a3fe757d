"""How a failed command looks: one `error:` line, last, and no traceback unless `-v`.

Prefect logs every failed task and flow run with its traceback, and the CLI then reports the same error: for a
person at a terminal that is pages of noise before the one line that matters. Without `-v` the CLI keeps
Prefect's and everyone's log lines but drops their tracebacks and Prefect's second report of the failure.
"""

from __future__ import annotations

import atexit
import logging
import os

# Loggers of Prefect's run engines: at ERROR they report a failed run, which the CLI reports itself.
RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


class WithoutTracebacks(logging.Filter):
    """Drops the traceback of every record, and Prefect's ERROR records of failed task and flow runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name in RUN_LOGGERS and record.levelno >= logging.ERROR:
            return False
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def without_tracebacks() -> None:
    """Install `WithoutTracebacks` on the root logger's handlers (Prefect keeps a user's root handlers), and
    keep this process's throwaway Prefect server from sending telemetry (its failures print tracebacks)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(WithoutTracebacks())
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def silence_after_error() -> None:
    """Nothing may follow the error line: Prefect logs its temporary server's stop from an atexit hook that
    it registered when the server started, so this later one runs first (and tests keep their logs)."""
    atexit.register(logging.disable, logging.CRITICAL)
