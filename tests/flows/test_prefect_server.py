"""The temporary Prefect server of a CLI process, started as the CLI starts it (`PrefectApi`) in a process of
its own, then that process killed: a real uvicorn server, no Neo4j. Then its watchdog on small children."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.cli._watchdog import STOP_WAIT_S, release, watch
from graph.process import port_free
from tests.conftest import ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the watchdog is Linux only (pidfd)"),
]

# Starts the server as `nrskg ingest` does, says its pid and port, then waits to be killed.
CLI_LIKE = """
import time
from prefect.server.api.server import SubprocessASGIServer
from flows.cli._prefect import prefect_api_in_background

prefect_api_in_background().join()
server = SubprocessASGIServer()
print(server.server_process.pid, server.port, flush=True)
time.sleep(600)
"""
GONE_S = 15  # the server's graceful stop (Prefect gives it 5 s) and some


def ended(pid: int) -> bool:
    """`pid` is gone or a zombie (it is not this process's child: whoever reaps it may be slow)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return True
    return state in {"Z", "X"}


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A process that starts the temporary server, killed (if the test did not) after the test."""
    env = os.environ | {"PYTHONPATH": str(ROOT), "PREFECT_HOME": str(tmp_path / "prefect")}
    env |= {"PREFECT_SERVER_ANALYTICS_ENABLED": "false"}  # no telemetry, as in the CLI
    command = [sys.executable, "-c", CLI_LIKE]
    child = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    with child:
        yield child
        child.kill()


def test_server_ends_when_the_cli_is_killed(cli: subprocess.Popen[str]) -> None:
    """SIGKILL (the OOM killer, `kill -9`, a scheduler's hard timeout) skips Prefect's stop at exit; the
    server then ran on, holding its port and the command's stdout: `nrskg ingest | tee log` never ended."""
    pid, port = (int(part) for part in cli.stdout.readline().split())
    try:
        server_ends_with(cli, pid, port)
    finally:
        if not ended(pid):  # the test failed: the server is not left running
            os.kill(pid, signal.SIGKILL)


def server_ends_with(cli: subprocess.Popen[str], pid: int, port: int) -> None:
    """The server `pid` on `port`, started by `cli`, answers, then ends when `cli` is killed."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=10) as response:
        assert response.status == 200, "the server outlives the thread that started it"

    os.kill(cli.pid, signal.SIGKILL)
    cli.wait()
    deadline = time.monotonic() + GONE_S
    while not ended(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ended(pid), f"the server outlived the killed CLI by {GONE_S} s"
    assert port_free(port)
    assert cli.stdout.read() == "", "the command's stdout reaches its end"


def sleeper(*, ignore_sigterm: bool) -> subprocess.Popen[bytes]:
    """A child that sleeps a minute, deaf to SIGTERM if asked; returned once it says it is ready."""
    deaf = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); " if ignore_sigterm else ""
    code = f"{deaf}import time; print('ready', flush=True); time.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert child.stdout.readline() == b"ready\n"
    return child


def test_a_released_watchdog_ends_and_signals_no_one() -> None:
    """Prefect stops its server, then the watchdog is let go: it ends at once, finding no process to stop."""
    with sleeper(ignore_sigterm=False) as child:
        watchdog = watch(child)
        child.terminate()
    started = time.monotonic()
    release(watchdog)
    assert watchdog.returncode == 0
    assert time.monotonic() - started < STOP_WAIT_S


def test_a_child_deaf_to_sigterm_is_killed() -> None:
    """A server stuck in its shutdown is killed STOP_WAIT_S after the SIGTERM, as Prefect's stop does."""
    with sleeper(ignore_sigterm=True) as child:
        watchdog = watch(child)
        started = time.monotonic()
        release(watchdog)  # its stdin ends as if the CLI had died
        assert child.wait(timeout=GONE_S) == -signal.SIGKILL
        assert time.monotonic() - started >= STOP_WAIT_S


def test_no_process_for_a_watchdog_leaves_the_child_unwatched_and_no_fd_open(monkeypatch) -> None:
    """Where the watchdog cannot start (EMFILE, ENOMEM), the server runs on as it would without a pidfd: the
    start of the server must not fail, or its process would be left with no one to stop it."""

    def no_process(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        raise OSError(24, "Too many open files")

    with sleeper(ignore_sigterm=False) as child:
        open_before = len(os.listdir("/proc/self/fd"))
        monkeypatch.setattr(subprocess, "Popen", no_process)
        assert watch(child) is None
        monkeypatch.undo()
        assert len(os.listdir("/proc/self/fd")) == open_before  # the pidfd was closed
        child.terminate()
