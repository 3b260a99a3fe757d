"""Prefect's temporary server with a watchdog: its uvicorn process ends with the CLI, however the CLI dies.

Prefect stops the server at exit, which a killed CLI never reaches (see `flows.cli._watchdog`). Imported
only by the thread that starts the server: Prefect's server module takes seconds to import.
"""

from __future__ import annotations

import subprocess
from typing import Any

from prefect.server.api.server import SubprocessASGIServer

from flows.cli._watchdog import release, watch


class WatchedServer(SubprocessASGIServer):
    """Each uvicorn process Prefect starts gets a watchdog, let go when Prefect stops the process. Prefect's
    flows find this server as their own: instances are kept per port on `SubprocessASGIServer`."""

    _watchdog: subprocess.Popen[bytes] | None = None

    def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
        self._release()  # Prefect starts another process when the port was taken: the last one has ended
        process = super()._run_uvicorn_command()
        self._watchdog = watch(process)
        return process

    def stop(self) -> None:
        super().stop()
        self._release()

    def _release(self) -> None:
        if self._watchdog is not None:
            release(self._watchdog)
            self._watchdog = None
