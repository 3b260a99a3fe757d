"""What reaches the terminal: the project's INFO, other libraries from WARNING, run-log-only lines never."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows import logs
from tests.conftest import ROOT


@pytest.fixture
def console(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """configure_console on this process, undone afterwards (handlers, levels, Prefect variables)."""
    root = logging.getLogger()
    names = (*logs.PROJECT_LOGGERS, "prefect")
    saved = (list(root.handlers), root.level, {n: logging.getLogger(n).level for n in names})
    for name in logs.QUIET_PREFECT:
        monkeypatch.delenv(name, raising=False)
    logs.configure_console()
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


def test_project_info_shows_library_info_does_not(console: None, capsys: pytest.CaptureFixture[str]) -> None:
    logging.getLogger("flows.ingest").info("read 11 inputs")
    logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1:8414/api/health 200 OK")
    logging.getLogger("prefect.task_runs").info("Finished in state Completed()")
    logging.getLogger("urllib3.connectionpool").warning("a real problem")
    logging.getLogger("graph.writer").info("one line per document", extra=logs.RUN_LOG_ONLY)
    err = capsys.readouterr().err
    assert "flows.ingest: read 11 inputs" in err and "a real problem" in err
    assert "HTTP Request" not in err and "Finished in state" not in err and "one line per document" not in err
    assert len(err.strip().splitlines()) == 2


@pytest.mark.filterwarnings("ignore:Cannot enable progress bars")  # huggingface_hub, once its variable is set
def test_a_flow_process_off_a_terminal_draws_no_library_bars(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker's log, like pytest's stderr, is no terminal: transformers' "Loading weights" bar stays out."""
    from transformers.utils import logging as transformers_logging

    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    transformers_logging.enable_progress_bar()
    try:
        logs.send_to_flow_runs()
        assert not transformers_logging.is_progress_bar_enabled()
    finally:
        transformers_logging.enable_progress_bar()


def test_prefect_is_quiet_and_sends_no_telemetry(console: None) -> None:
    assert os.environ["PREFECT_LOGGING_LEVEL"] == "WARNING"
    assert os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    logs.configure_console()  # a second call keeps one console handler, not two
    assert sum(isinstance(h, logs.ConsoleHandler) for h in logging.getLogger().handlers) == 1


# A process set up as the CLI sets it up, with the local Dask cluster of `nrskg ingest --workers 2`; it
# prints the scheduler's HTTP port and what that port answers for the dashboard's page.
DASK_CLUSTER = """
import urllib.error, urllib.request
from flows.logs import configure_console
configure_console()  # first, as the CLI does
from distributed import LocalCluster
from flows.ingest import with_dask

def main():
    with LocalCluster(**with_dask(2).task_runner.cluster_kwargs) as cluster:
        port = cluster.scheduler.http_server.port
        try:
            answer = urllib.request.urlopen(f"http://127.0.0.1:{port}/status").status
        except urllib.error.HTTPError as e:
            answer = e.code
        print(port, answer)

if __name__ == "__main__":
    main()
"""


def test_dask_speaks_from_warning_up_and_opens_no_dashboard(tmp_path: Path) -> None:
    """Its scheduler, nannies and worker processes said some 30 INFO lines a run, and its dashboard took
    port 8787, none of which a person running the CLI asked for."""
    script = tmp_path / "cluster.py"  # a file: Dask's worker processes import the main module again
    script.write_text(DASK_CLUSTER, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")} | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(script)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    port, dashboard = done.stdout.split()
    assert port != "8787" and dashboard == "404", done.stdout
    chatter = [line for line in done.stderr.splitlines() if " INFO " in line and "distributed." in line]
    assert chatter == [], done.stderr
