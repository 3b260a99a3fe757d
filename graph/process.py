"""The local server as a process: its record in the data directory, whether it still runs, and its ports.

The JVM is detached in its own session, so it outlives the command that started it; its pid file, server
record, launcher log and store live in the data directory (`~/.local/share/nrskg/neo4j` or
`$NRSKG_NEO4J_HOME`). Bolt and HTTP listen on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from graph.jars import LAUNCHER_CLASS
from nrskg.errors import GraphError

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
MAX_PORT = 65535
PID_FILE = "nrskg-neo4j.pid"
INFO_FILE = "nrskg-neo4j.json"
LOG_FILE = "nrskg-neo4j.log"
LOCK_FILE = "nrskg-neo4j.lock"
STORE_LOCK = Path("data", "databases", "store_lock")  # Neo4j's own: the JVM that has the store holds it

# Our own children: kept so we can reap them (a zombie would look alive) and so Popen never warns on exit.
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ServerInfo:
    """A running local server, as recorded in its data directory."""

    uri: str
    pid: int
    data_dir: Path
    port: int
    http_port: int | None
    auth: bool
    log_file: Path
    version: str

    @property
    def browser_url(self) -> str | None:
        """Neo4j Browser of this server (when started with an HTTP port), with its connection filled in.

        Without the query string Browser offers neo4j:// with a username and waits; with it an auth-off server
        connects at once and an auth-on one asks only for the password.
        """
        if self.http_port is None:
            return None
        query = f"dbms=bolt://neo4j@{HOST}:{self.port}" if self.auth else f"dbms=bolt://{HOST}:{self.port}"
        method = "" if self.auth else "&preselectAuthMethod=NO_AUTH"
        return f"http://{HOST}:{self.http_port}/browser/?{query}{method}"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), default=str)  # paths as text

    @classmethod
    def from_json(cls, text: str) -> ServerInfo:
        raw = json.loads(text)
        return cls(**{**raw, "data_dir": Path(raw["data_dir"]), "log_file": Path(raw["log_file"])})


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """`$NRSKG_NEO4J_HOME`, else `~/.local/share/nrskg/neo4j`: the store outlives caches and checkouts."""
    env = (os.environ if environ is None else environ).get("NRSKG_NEO4J_HOME")
    return Path(env).expanduser() if env else Path.home() / ".local" / "share" / "nrskg" / "neo4j"


def track(proc: subprocess.Popen[bytes]) -> None:
    """Keep a child we started, so that a zombie it leaves is reaped, not taken for a running server."""
    _children[proc.pid] = proc


def _alive(pid: int) -> bool:
    """True while `pid` runs; reaps our own exited children so a zombie does not count as alive."""
    child = _children.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _children[pid]
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_our_launcher(pid: int, data_dir: Path) -> bool:
    """Guards against pid reuse after a reboot: the pid must be our launcher for this very data directory."""
    if not _alive(pid):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():  # no procfs (macOS): trust the pid file
        return True
    try:
        args = cmdline.read_bytes().split(b"\0")
    except OSError:
        return False
    return LAUNCHER_CLASS.encode() in args and str(data_dir).encode() in args


def free_port() -> int:
    """A port nothing listens on now (the OS picks it; a tiny race before the JVM binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def port_free(port: int) -> bool:
    """No one listens on HOST:port (SO_REUSEADDR like Netty: TIME_WAIT left by a stop is no conflict)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def store_in_use(data_dir: Path) -> bool:
    """Whether a process holds Neo4j's lock on the store in `data_dir`: a Neo4j with no record here (started
    by hand, or for another path to this folder), which a second JVM would die on, after taking its log."""
    try:
        fd = os.open(data_dir / STORE_LOCK, os.O_RDWR)
    except OSError:  # no store yet, or one we cannot open: the JVM says what is wrong
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the JVM's lock is a POSIX one; ours goes with the fd
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def forget(data_dir: Path) -> None:
    for name in (PID_FILE, INFO_FILE):
        (data_dir / name).unlink(missing_ok=True)


def status(data_dir: Path | None = None) -> ServerInfo | None:
    """The server running for `data_dir`, or None (a stale pid file left by a crash is removed)."""
    data_dir = (data_dir or default_data_dir()).expanduser().resolve()
    info_path = data_dir / INFO_FILE
    try:
        if not info_path.exists():
            return None
        info = ServerInfo.from_json(info_path.read_text())
    except OSError as e:  # another account's data directory (mode 0700)
        raise GraphError(
            f"cannot read the server record {info_path} ({e.strerror})",
            hint="Run it as the account that started the server, or set NRSKG_NEO4J_HOME to a data directory "
            "of your own",
        ) from e
    except (ValueError, KeyError, TypeError) as e:
        raise GraphError(f"{info_path}: unreadable server record ({e}); remove it if no server runs") from e
    if _is_our_launcher(info.pid, data_dir):
        return info
    forget(data_dir)
    return None


def terminate(pid: int, timeout_s: float) -> None:
    """SIGTERM (the shutdown hook closes the store), then SIGKILL if still alive after timeout_s."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        log.warning("Neo4j (pid %d) ignored SIGTERM for %.0f s; killing it", pid, timeout_s)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.1)
