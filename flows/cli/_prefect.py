"""The temporary Prefect server, started while the CLI does its other start-up work.

Without PREFECT_API_URL a flow starts a temporary Prefect server (a uvicorn subprocess) and waits for it,
about 7 s on a 2-vCPU machine, after the CLI has already spent about as long importing torch and checking
Neo4j and the model. Started from a thread at the beginning, the server comes up in parallel; the flow then
finds it running (Prefect keeps one per process) and starts nothing. With PREFECT_API_URL set nothing starts,
and the thread asks that server whether it answers: a wrong or stopped one is named before the flow runs.

The port comes from the OS, not from Prefect's random pick in 8000-8999: two CLI processes starting at once
could pick the same port there, and the one whose uvicorn failed to bind then polled, and used, the other's
server, which went away with its process and left this one hanging.

A start that fails is stopped here and reported before the flow runs. Left to the flow, Prefect would start a
second uvicorn on the same port and forget the first (a start that times out leaves its process running),
which then outlived the command and held its stdout and stderr open: `nrskg ingest ... | tee log` never ended.
For the same reason the server has a watchdog (`flows.cli._watchdog`, Linux only) that stops it when the CLI
process dies without stopping it, killed with SIGKILL for one.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit

from graph.connection import one_line
from graph.process import free_port
from nrskg.errors import FlowError

log = logging.getLogger(__name__)


class PrefectApi(threading.Thread):
    """Starts the temporary Prefect server, when one is needed; `join` before running a flow raises
    `FlowError` if it did not start."""

    def __init__(self) -> None:
        super().__init__(name="prefect-api", daemon=True)
        self.error: FlowError | None = None

    def run(self) -> None:
        server = None
        try:
            from prefect.settings import get_current_settings

            from flows.cli._prefect_server import WatchedServer

            settings = get_current_settings()
            if settings.api.url:
                self.error = unreachable(settings.api.url)
                return
            if not settings.server.ephemeral.enabled:
                return  # ephemeral mode off and no server: the flow says what it needs
            server = WatchedServer()  # the one the flow finds later (Prefect keys it by port None)
            if not server.running:
                server.port = free_port()
            # The command imports torch meanwhile: on a busy machine the two outlast Prefect's own wait.
            wait_s = 2 * settings.server.ephemeral.startup_timeout_seconds
            server.start(timeout=wait_s)
        except Exception as e:  # noqa: BLE001 - reported at `join`, in the command's one error line
            log.debug("the temporary Prefect server did not start", exc_info=True)
            if server is not None:
                server.stop()
            self.error = FlowError(
                f"the temporary Prefect server did not start ({one_line(e).rstrip('.')})",
                hint="On a busy machine raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS (this command "
                "waits twice it), or set PREFECT_API_URL to a running server (`prefect server start`)",
            )

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        if self.error is not None:
            raise self.error


def unreachable(api_url: str) -> FlowError | None:
    """Why the Prefect server at PREFECT_API_URL `api_url` does not answer its health check, or None when it
    answers. Left to the flow, a wrong or stopped server ended in Prefect's bare "Failed to reach API"."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        failure = client.api_healthcheck()
    if failure is None:
        return None
    parts = urlsplit(api_url)
    shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()  # no credentials on the line
    return FlowError(
        f"the Prefect server at PREFECT_API_URL {shown} does not answer ({one_line(failure).rstrip('.')})",
        hint="Start it (`prefect server start`), set PREFECT_API_URL to a running server, or unset it to let "
        "the command start a temporary one",
    )


def prefect_api_in_background() -> PrefectApi:
    """Start the temporary Prefect server (when one is needed) in a thread; join it before running a flow."""
    thread = PrefectApi()
    thread.start()
    return thread
