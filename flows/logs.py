"""Who logs where: the project's INFO on the console, Prefect, Dask and other libraries only when they warn,
and the project's records inside a flow run also in that run's logs (what a Prefect UI shows).

The console setup belongs to the process entry (the CLI); `send_to_flow_runs` is called by the flow modules,
so a deployment run by a Prefect worker reports model F1, write counters and document statuses in its run
logs without any worker setting. A worker loads a deployment's entrypoint file (`flows/ingest.py`) as a
top-level module (`ingest`), so the flow modules name their loggers (`flows.ingest`) instead of `__name__`.
"""

from __future__ import annotations

import logging
import os
import sys

PROJECT_LOGGERS = ("nrskg", "extractor", "pipeline", "graph", "flows", "benchmarks")

# Prefect settings for a CLI process, set only where the user has not set them: its own records at WARNING,
# no telemetry from the temporary server (its heartbeat raced the runs for the SQLite file and logged
# "database is locked" tracebacks), and no warning when a project logger speaks outside a flow run.
QUIET_PREFECT = {
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
}
# Dask's `distributed` logs at INFO to a stderr handler of its own, and its worker processes import it afresh:
# its configuration, read from the environment at import and inherited by the workers, keeps it at WARNING.
QUIET_DASK = {"DASK_LOGGING__DISTRIBUTED": "warning"}
DASK_LOGGER = "distributed"
CONSOLE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
RUN_LOG_ONLY = {"console": False}
"""`extra=` of records meant for the flow run's logs, not a person's terminal (one line per document)."""


class ConsoleHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record comes (test runners swap it). A public name: Prefect
    keeps the root logger as it is only when it finds a handler of the user's there."""

    @property
    def stream(self):  # noqa: ANN202 - the attribute logging.StreamHandler reads and writes
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "console", True) and super().filter(record)


def configure_console(verbose: bool = False) -> None:
    """Project loggers at INFO (DEBUG when `verbose`), every other logger at WARNING, one stderr handler.

    Call before Prefect is imported: its settings are read then. Library progress bars (HuggingFace's
    "Loading weights") are turned off unless `verbose`; the project's own bars show on a terminal only.
    Calling it again replaces its own handler and leaves other handlers (a test runner's) alone.
    """
    for name, value in QUIET_PREFECT.items():
        os.environ.setdefault(name, value)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, ConsoleHandler)]:
        root.removeHandler(old)
    handler = ConsoleHandler()
    handler.setFormatter(logging.Formatter(CONSOLE_FORMAT, datefmt="%H:%M:%S"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    for name in PROJECT_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.INFO)
    if not verbose:
        logging.getLogger("prefect").setLevel(logging.WARNING)  # if Prefect was imported before this call
        _quiet_dask()
        _quiet_library_progress_bars()


def _quiet_dask() -> None:
    for name, value in QUIET_DASK.items():
        os.environ.setdefault(name, value)
    if DASK_LOGGER in sys.modules:  # already imported: its loggers were set up from the environment then
        logging.getLogger(DASK_LOGGER).setLevel(logging.WARNING)


def _quiet_library_progress_bars() -> None:
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # read when huggingface_hub is imported
    if "transformers" in sys.modules:  # already imported: its switch was read from the environment then
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()


class _InRun(logging.Filter):
    """Pass records made inside a flow or task run only: outside one there is no run log to send them to."""

    def filter(self, record: logging.LogRecord) -> bool:
        from prefect.context import FlowRunContext, TaskRunContext

        return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def send_to_flow_runs() -> None:
    """Attach Prefect's API log handler to the project's loggers, once (PREFECT_LOGGING_EXTRA_LOGGERS does
    the same where a worker sets it). Off a terminal (a worker's log), library progress bars are turned off
    too: there they are only carriage returns."""
    if not sys.stderr.isatty():
        _quiet_library_progress_bars()
    from prefect.logging.handlers import APILogHandler

    for name in PROJECT_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:  # under a worker's root at WARNING, INFO would never be made
            logger.setLevel(logging.INFO)
        if not any(isinstance(h, APILogHandler) for h in logger.handlers):
            handler = APILogHandler()
            handler.addFilter(_InRun())
            logger.addHandler(handler)
