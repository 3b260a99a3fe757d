"""The temporary Prefect server, started while the CLI does its other start-up work.

Without PREFECT_API_URL a flow starts a temporary Prefect server (a uvicorn subprocess) and waits for it,
about 7 s on a 2-vCPU machine, after the CLI has already spent about as long importing torch and checking
Neo4j and the model. Started from a thread at the beginning, the server comes up in parallel; the flow then
finds it running (Prefect keeps one per process) and starts nothing. With PREFECT_API_URL set nothing starts.

The port comes from the OS, not from Prefect's random pick in 8000-8999: two CLI processes starting at once
could pick the same port there, and the one whose uvicorn failed to bind then polled, and used, the other's
server, which went away with its process and left this one hanging.
"""

from __future__ import annotations

import logging
import threading

from graph.process import free_port

log = logging.getLogger(__name__)


def _start() -> None:
    try:
        from prefect.settings import get_current_settings

        settings = get_current_settings()
        if settings.api.url or not settings.server.ephemeral.enabled:
            return  # a configured server, or ephemeral mode off: the flow says what it needs
        from prefect.server.api.server import SubprocessASGIServer

        server = SubprocessASGIServer()  # the instance the flow finds later (Prefect keys it by port None)
        if not server.running:
            server.port = free_port()
        server.start()
    except Exception:  # noqa: BLE001 - the flow starts the server itself and reports any error
        log.debug("could not start the temporary Prefect server early", exc_info=True)


def prefect_api_in_background() -> threading.Thread:
    """Start the temporary Prefect server (when one is needed) in a thread; join it before running a flow."""
    thread = threading.Thread(target=_start, name="prefect-api", daemon=True)
    thread.start()
    return thread
