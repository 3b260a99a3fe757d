"""The local Neo4j: Neo4j Community 5.26 run in-process by graph/java/Neo4jLauncher.java, started and stopped.

`graph.jars` resolves its class path once, `graph.launcher` builds the JVM's command line, `graph.process`
keeps its record in the data directory and `graph.passwords` its password: this module puts them together.
Authentication is on by default: the first start generates the password of user `neo4j` (or takes
`$NEO4J_PASSWORD`); clients on this machine find it beside the store (`passwords.local_password`). LOAD CSV
reads no file and no URL, and transactions are bounded in memory (Neo4jLauncher.java).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from pydantic import SecretStr

from graph import launcher, passwords, process
from graph.connection import driver, verify
from graph.jars import java, neo4j_version
from graph.process import HOST, ServerInfo
from graph.settings import Neo4jSettings, ServerMemory
from nrskg.errors import GraphError, PermanentGraphError
from nrskg.files import locked

log = logging.getLogger(__name__)

DEFAULT_BOLT_PORT = 7687
DEFAULT_HTTP_PORT = 7474  # HTTP API and Neo4j Browser, where asked for (`--http-port`, the demo)
STOP_TIMEOUT_S = 60.0  # a clean shutdown checkpoints the store; SIGKILL after this
DATA_DIR_HINT = "Give a folder you can write with --data-dir or NRSKG_NEO4J_HOME"


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """`data_dir` created (mode 0700: the store and the password are its owner's alone) and locked against
    other nrskg commands; a path that cannot be one (a file, a read-only place) is a setting, not a bug."""
    with contextlib.ExitStack() as stack:
        try:
            data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            stack.enter_context(locked(data_dir / process.LOCK_FILE))
        except OSError as e:
            why = "it is a file" if data_dir.is_file() else e.strerror or str(e)
            raise GraphError(f"cannot keep Neo4j's data in {data_dir} ({why})", hint=DATA_DIR_HINT) from e
        yield


def _wait_ready(
    proc: subprocess.Popen[bytes], info: ServerInfo, password: SecretStr | None, timeout_s: float
) -> None:
    """Wait for the launcher's ready line, then for Bolt to answer a real handshake (verify_connectivity)."""
    launcher.wait_for_ready_line(proc, info.log_file, timeout_s)
    with driver(Neo4jSettings(uri=info.uri, password=password)) as drv:
        try:
            verify(drv, info.uri)
        except PermanentGraphError as e:  # the store was given another password before
            raise GraphError(
                f"the store in {info.data_dir} keeps another password for user neo4j than the one nrskg has",
                hint="Set NEO4J_PASSWORD to it (it is then saved for the CLI), or start with --no-auth",
            ) from e


def start(
    data_dir: Path | None = None,
    port: int = DEFAULT_BOLT_PORT,
    http_port: int | None = None,
    *,
    auth: bool = True,
    memory: ServerMemory | None = None,
    timeout_s: float = launcher.START_TIMEOUT_S,
) -> ServerInfo:
    """Start Neo4j for `data_dir` on 127.0.0.1:`port` and wait until Bolt answers; idempotent.

    If a server already runs for `data_dir` it is returned as it is (its port may differ from `port`: the
    returned `uri` is the truth). With `auth` (the default), the initial password of user `neo4j` is
    `$NEO4J_PASSWORD`, else the one stored in `data_dir`, else a new random one; it reaches the JVM
    through its environment only and is stored (mode 0600) before the JVM starts where none is stored yet,
    else once the server accepts it. `memory` (default: `ServerMemory.from_env()`) sizes the heap and bounds
    transactions. `http_port` adds the HTTP API and, when its jar is on the class path, Neo4j Browser.
    Raises GraphError when java/mvn is missing, a port is taken, the store is held by another process, or
    the JVM dies (with the tail of its log).
    """
    data_dir = (data_dir or process.default_data_dir()).expanduser().resolve()
    with _locked(data_dir):
        running = process.status(data_dir)
        if running is not None:
            if (running.port, running.http_port) != (port, http_port):
                log.warning("Neo4j for %s already runs at %s; not restarting it", data_dir, running.uri)
            return running
        secret = passwords.initial_password(auth, data_dir)
        if port == http_port:  # the JVM would die binding the second, with a page of stack trace
            raise GraphError(f"Bolt and HTTP cannot share port {port}", hint="Give --http-port another port")
        for wanted in (port, http_port):
            if wanted is not None and not process.port_free(wanted):
                raise GraphError(
                    f"port {wanted} on {HOST} is taken by another process (not the Neo4j of {data_dir}); "
                    "choose another with --port / --http-port"
                )
        if process.store_in_use(data_dir):
            raise GraphError(
                f"the store in {data_dir} is in use by a process that nrskg has no record of",
                hint=f"Stop it first (`fuser -v {data_dir / process.STORE_LOCK}` names it)",
            )
        java_path, banner = java()
        cache = launcher.prefetch(class_archive=False)
        cmd = launcher.command(java_path, cache, data_dir, port, http_port, auth=auth,
                               memory=memory or ServerMemory.from_env(),
                               archive_option=launcher.class_data(cache, banner))  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k != "NEO4J_PASSWORD"}
        if secret is not None:
            env["NEO4J_PASSWORD"] = secret.get_secret_value()
        if secret is not None and passwords.read_password(data_dir) is None:
            # Before the JVM gives it to a new store: a start stopped half-way (Ctrl-C, a timeout) must not
            # leave a server, or a store, with a password nobody has.
            log.info("password of user neo4j saved in %s", passwords.save_password(data_dir, secret))
        log_file = data_dir / process.LOG_FILE
        with log_file.open("wb") as out:  # its own session: Ctrl-C in the caller's terminal does not reach it
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    cwd=data_dir, env=env, start_new_session=True)  # fmt: skip
        process.track(proc)
        info = ServerInfo(f"bolt://{HOST}:{port}", proc.pid, data_dir, port, http_port, auth, log_file,
                          neo4j_version())  # fmt: skip
        (data_dir / process.PID_FILE).write_text(f"{proc.pid}\n")
        (data_dir / process.INFO_FILE).write_text(info.to_json())
        log.info("starting Neo4j %s for %s (pid %d, log %s)", info.version, data_dir, proc.pid, info.log_file)
        try:
            _wait_ready(proc, info, secret, timeout_s)
        except (GraphError, KeyboardInterrupt):  # Ctrl-C or SIGTERM: the JVM, in its own session, goes too
            process.terminate(proc.pid, STOP_TIMEOUT_S)
            process.forget(data_dir)
            raise
        if secret is not None and passwords.read_password(data_dir) != secret:  # NEO4J_PASSWORD, accepted
            log.info("password of user neo4j saved in %s", passwords.save_password(data_dir, secret))
        log.info("Neo4j ready at %s", info.uri)
        return info


def http_advice(info: ServerInfo, http_port: int) -> str | None:
    """What to tell someone who asked for HTTP on `http_port` of a server that `start` found running as it
    was (it never restarts one): None when it serves that port."""
    if info.http_port == http_port:
        return None
    if info.http_port is not None:
        return (
            f"Neo4j already runs with HTTP on port {info.http_port}: Neo4j Browser is at {info.browser_url}"
        )
    return (
        f"Neo4j already runs at {info.uri} without HTTP, so there is no Neo4j Browser; to get it, restart: "
        f"`nrskg neo4j stop && nrskg neo4j start --http-port {http_port}`"
    )


def stop(data_dir: Path | None = None, timeout_s: float = STOP_TIMEOUT_S) -> ServerInfo | None:
    """Stop the server of `data_dir`; returns what was stopped, or None when nothing ran."""
    data_dir = (data_dir or process.default_data_dir()).expanduser().resolve()
    if not data_dir.is_dir():
        return None
    with _locked(data_dir):
        info = process.status(data_dir)
        if info is None:
            return None
        log.info("stopping Neo4j for %s (pid %d)", data_dir, info.pid)
        process.terminate(info.pid, timeout_s)
        process.forget(data_dir)
        return info
