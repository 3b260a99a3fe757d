"""The local Neo4j: Neo4j Community 5.26 from Maven Central, run in-process by graph/java/Neo4jLauncher.java.

No Neo4j server package exists on PyPI or Debian, so the first use resolves the jars with Maven into a cache
(`~/.cache/nrskg/neo4j/<version>/`, or `$NRSKG_CACHE/neo4j/<version>/`) and compiles the launcher there;
every later start runs plain `java` offline. The JVM is detached in its own session, so it outlives the
command that started it; its pid file, launcher log and store live in the data directory
(`~/.local/share/nrskg/neo4j` or `$NRSKG_NEO4J_HOME`). Bolt and HTTP listen on 127.0.0.1 only.

Authentication is on by default: the first start generates the password of user `neo4j` (or takes
`$NEO4J_PASSWORD`) and keeps it in the data directory, readable by its owner only (`graph.passwords`); clients
on this machine find it there (`local_password`). LOAD CSV reads no file and no URL (Neo4jLauncher.java).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from graph import passwords
from graph.connection import driver, verify
from graph.settings import Neo4jSettings, ServerMemory, format_size
from nrskg.errors import GraphError, PermanentGraphError

log = logging.getLogger(__name__)

JAVA_DIR = Path(__file__).resolve().parent / "java"
POM = JAVA_DIR / "pom.xml"
LAUNCHER_SOURCE = JAVA_DIR / "Neo4jLauncher.java"
LAUNCHER_CLASS = "Neo4jLauncher"
LAUNCHER_JAR = "launcher.jar"
CLASS_ARCHIVE = "classes.jsa"  # class-data sharing (AppCDS) archive of a recorded start, in the cache folder
READY_MARK = "NRSKG-NEO4J READY"  # printed by Neo4jLauncher.java once Bolt listens
MIN_JAVA = 17

HOST = "127.0.0.1"
DEFAULT_BOLT_PORT = 7687
DEFAULT_HTTP_PORT = 7474  # HTTP API and Neo4j Browser, where asked for (`--http-port`, the demo)
START_TIMEOUT_S = 180.0  # a cold start on 2 busy cores took ~20 s; leave room for slow CI machines
STOP_TIMEOUT_S = 60.0  # a clean shutdown checkpoints the store; SIGKILL after this
RESOLVE_TIMEOUT_S = 1800.0  # first download of ~150 MB from Maven Central
LOG_TAIL_LINES = 25

PID_FILE = "nrskg-neo4j.pid"
INFO_FILE = "nrskg-neo4j.json"
LOG_FILE = "nrskg-neo4j.log"
LOCK_FILE = "nrskg-neo4j.lock"

# Options that Neo4j's own launcher passes on Java 17 (neo4j.conf defaults): reflective access for Netty, the
# page cache and the launcher's heap guard (java.lang), bounded NIO buffer caching. Like neo4j.conf, no
# -XX:+ExitOnOutOfMemoryError: the heap guard makes a query that fills the heap fail alone; the server stays.
JVM_OPTIONS = (
    "-XX:-OmitStackTraceInFastThrow",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "-Dfile.encoding=UTF-8",
)

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
        return json.dumps(
            {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self).items()}
        )

    @classmethod
    def from_json(cls, text: str) -> ServerInfo:
        raw = json.loads(text)
        return cls(**{**raw, "data_dir": Path(raw["data_dir"]), "log_file": Path(raw["log_file"])})


# ------------------------------------------------------------------------------------------------------------
# Where things live


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """`$NRSKG_NEO4J_HOME`, else `~/.local/share/nrskg/neo4j`: the store outlives caches and checkouts."""
    env = (os.environ if environ is None else environ).get("NRSKG_NEO4J_HOME")
    return Path(env).expanduser() if env else Path.home() / ".local" / "share" / "nrskg" / "neo4j"


def neo4j_version() -> str:
    """The Neo4j version pinned in graph/java/pom.xml (one place to change it)."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(POM).getroot().find("m:properties/m:neo4j.version", ns)
    if node is None or not (node.text or "").strip():
        raise GraphError(f"{POM}: no <neo4j.version> property")
    return node.text.strip()


def cache_dir() -> Path:
    """`$NRSKG_CACHE/neo4j/<version>`, else `~/.cache/nrskg/neo4j/<version>`: jars and compiled launcher."""
    root = os.environ.get("NRSKG_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "nrskg"
    return base / "neo4j" / neo4j_version()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock, so two processes never resolve, compile or start the same thing at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _digest(*paths: Path) -> str:
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.read_bytes())
    return sha.hexdigest()


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ------------------------------------------------------------------------------------------------------------
# Class path: resolved once with Maven, then offline


def _tool(name: str, hint: str) -> str:
    """A JDK or Maven executable, preferring $JAVA_HOME/bin for the JDK ones."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and name in ("java", "javac") and (Path(java_home) / "bin" / name).exists():
        return str(Path(java_home) / "bin" / name)
    found = shutil.which(name)
    if found is None:
        raise GraphError(f"`{name}` not found on PATH: {hint}")
    return found


def _java() -> tuple[str, str]:
    """The java executable and its `-version` banner (it keys the class archive); Java 17+ or GraphError."""
    java = _tool("java", "install a Java 17+ runtime (apt-get install openjdk-17-jdk-headless)")
    banner = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr.strip()
    match = re.search(r'version "(\d+)(?:\.(\d+))?', banner)
    major = int(match.group(1)) if match else 0
    major = int(match.group(2)) if major == 1 and match and match.group(2) else major  # "1.8" style
    if major < MIN_JAVA:
        raise GraphError(f"Neo4j {neo4j_version()} needs Java {MIN_JAVA}+, but {java} is: {banner[:200]}")
    return java, banner


def _resolve_jars(lib: Path, marker: Path) -> None:
    """Copy Neo4j's runtime jars from Maven (Central, or the user's mirror in settings.xml) into `lib`."""
    mvn = _tool("mvn", "Maven is needed once, to download Neo4j's jars (apt-get install maven)")
    staging = lib.with_name(f"{lib.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    resolve_log = lib.parent / "resolve.log"
    cmd = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={staging}",
        "-DincludeScope=runtime",
    ]
    log.info("resolving Neo4j %s jars with Maven into %s (first time only, ~150 MB)", neo4j_version(), lib)
    started = time.monotonic()
    with resolve_log.open("w") as out:
        try:
            done = subprocess.run(
                cmd, stdout=out, stderr=subprocess.STDOUT, timeout=RESOLVE_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired as e:
            raise GraphError(
                f"Maven did not resolve Neo4j within {RESOLVE_TIMEOUT_S:.0f} s; see {resolve_log}"
            ) from e
    if done.returncode != 0:
        raise GraphError(f"Maven could not resolve Neo4j (exit {done.returncode}):\n{_tail(resolve_log)}")
    shutil.rmtree(lib, ignore_errors=True)
    staging.rename(lib)  # atomic: a half-copied lib/ is never mistaken for a complete one
    marker.write_text(_digest(POM))
    size_mb = sum(p.stat().st_size for p in lib.glob("*.jar")) / 1e6
    log.info(
        "resolved %d jars (%.0f MB) in %.0f s",
        len(list(lib.glob("*.jar"))),
        size_mb,
        time.monotonic() - started,
    )


def _compile_launcher(lib: Path, jar: Path) -> None:
    """javac, then a jar: class-data sharing archives only classes that come from jars, not folders."""
    javac = _tool(
        "javac", "a JDK 17+ is needed to compile the launcher (apt-get install openjdk-17-jdk-headless)"
    )
    with tempfile.TemporaryDirectory(prefix="nrskg-neo4j-javac-") as classes:
        cmd = [javac, "--release", "17", "-nowarn", "-cp", f"{lib}/*", "-d", classes, str(LAUNCHER_SOURCE)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise GraphError(f"javac could not compile {LAUNCHER_SOURCE}:\n{done.stderr[-2000:]}")
        staging = jar.with_name(f"{jar.name}.partial")
        with zipfile.ZipFile(staging, "w") as archive:
            for path in sorted(Path(classes).rglob("*.class")):
                archive.write(path, path.relative_to(classes).as_posix())
    staging.replace(jar)


def _fresh(marker: Path, stamp: str, *outputs: Path) -> bool:
    return marker.exists() and marker.read_text() == stamp and all(p.exists() for p in outputs)


def prefetch(class_archive: bool = True) -> Path:
    """Make sure the jars are resolved and the launcher compiled; returns the cache folder.

    Calls Maven only when the jars of this pom are missing and javac only when the launcher changed, so it is
    cheap before every start. With `class_archive` it also records a class-data-sharing archive (one
    throwaway start, ~1 minute, once), which makes every later start much faster; `nrskg neo4j prefetch`
    and CI do that, a plain `start` does not wait for it.
    """
    cache = cache_dir()
    lib, jar = cache / "lib", cache / LAUNCHER_JAR
    with _locked(cache / ".lock"):
        if not _fresh(cache / "lib.sha256", _digest(POM), lib):
            _resolve_jars(lib, cache / "lib.sha256")
        if not _fresh(cache / f"{LAUNCHER_JAR}.sha256", _digest(POM, LAUNCHER_SOURCE), jar):
            _compile_launcher(lib, jar)
            (cache / f"{LAUNCHER_JAR}.sha256").write_text(_digest(POM, LAUNCHER_SOURCE))
        if class_archive:
            java, banner = _java()
            if not _fresh(cache / f"{CLASS_ARCHIVE}.stamp", _archive_stamp(banner), cache / CLASS_ARCHIVE):
                _record_class_archive(cache, java, banner)
    return cache


def _archive_stamp(java_banner: str) -> str:
    """A class archive is only valid for the same JVM build and the same class path."""
    return f"{_digest(POM, LAUNCHER_SOURCE)}\n{java_banner}"


def _launch_command(
    java: str,
    cache: Path,
    data_dir: Path,
    port: int,
    http_port: int | None,
    *,
    auth: bool,
    memory: ServerMemory,
    class_data: str,
) -> list[str]:
    """The JVM command line. `class_data`: -XX:SharedArchiveFile=... to use an archive, or
    -XX:ArchiveClassesAtExit=... to record one, or "" for neither."""
    classpath = f"{cache / 'lib'}/*{os.pathsep}{cache / LAUNCHER_JAR}"
    cmd = [
        java,
        f"-Xmx{format_size(memory.heap)}",
        *JVM_OPTIONS,
        *([class_data] if class_data else []),
        "-cp",
        classpath,
        LAUNCHER_CLASS,
        "--home",
        str(data_dir),
        "--bolt-port",
        str(port),
        "--pagecache",
        str(memory.pagecache),
        "--transaction-max",
        str(memory.transaction_max),
        "--transaction-total-max",
        str(memory.transaction_total_max),
    ]
    if http_port is not None:
        cmd += ["--http-port", str(http_port)]
    if auth:
        cmd.append("--auth")
    return cmd


def _wait_for_ready_line(proc: subprocess.Popen[bytes], log_file: Path, timeout_s: float) -> None:
    """Until the launcher prints READY_MARK; GraphError with the log's tail if the JVM dies or is too slow."""
    deadline = time.monotonic() + timeout_s
    while READY_MARK not in log_file.read_text(encoding="utf-8", errors="replace"):
        if proc.poll() is not None:
            raise GraphError(
                f"Neo4j exited with code {proc.returncode} while starting; last lines of {log_file}:\n"
                f"{_tail(log_file)}"
            )
        if time.monotonic() > deadline:
            raise GraphError(
                f"Neo4j did not start within {timeout_s:.0f} s; see {log_file}:\n{_tail(log_file)}"
            )
        time.sleep(0.25)


def _record_class_archive(cache: Path, java: str, banner: str) -> None:
    """Start and stop a throwaway server with -XX:ArchiveClassesAtExit: the JVM writes the ~20k classes it
    loaded to one file that later JVMs map instead of reading 200 jars (warm start ~13 s -> ~8 s on 2 busy
    cores). Best effort: a failure only costs speed, so it is logged, not raised."""
    archive = cache / CLASS_ARCHIVE
    staging = archive.with_name(f"{archive.name}.partial")
    staging.unlink(missing_ok=True)
    log.info("recording a class-data archive for faster Neo4j starts (one throwaway start, once)")
    with tempfile.TemporaryDirectory(prefix="nrskg-neo4j-cds-") as home:
        cmd = _launch_command(
            java,
            cache,
            Path(home),
            free_port(),
            None,
            auth=False,
            memory=ServerMemory.from_env({}),
            class_data=f"-XX:ArchiveClassesAtExit={staging}",
        )
        log_file = Path(home) / LOG_FILE
        with log_file.open("wb") as out:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_for_ready_line(proc, log_file, START_TIMEOUT_S)
            proc.terminate()  # the archive is written at exit, after the shutdown hook
            proc.wait(timeout=START_TIMEOUT_S)
        except (GraphError, subprocess.TimeoutExpired) as e:
            proc.kill()
            proc.wait()
            log.warning("no class-data archive (starts stay slower): %s", e)
            return
    if not staging.exists():
        log.warning("the JVM wrote no class-data archive (exit %s); starts stay slower", proc.returncode)
        return
    staging.replace(archive)
    (cache / f"{CLASS_ARCHIVE}.stamp").write_text(_archive_stamp(banner))


# ------------------------------------------------------------------------------------------------------------
# Processes


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


def _port_free(port: int) -> bool:
    """No one listens on HOST:port (SO_REUSEADDR like Netty: TIME_WAIT left by a stop is no conflict)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _forget(data_dir: Path) -> None:
    for name in (PID_FILE, INFO_FILE):
        (data_dir / name).unlink(missing_ok=True)


def status(data_dir: Path | None = None) -> ServerInfo | None:
    """The server running for `data_dir`, or None (a stale pid file left by a crash is removed)."""
    data_dir = (data_dir or default_data_dir()).expanduser().resolve()
    info_path = data_dir / INFO_FILE
    if not info_path.exists():
        return None
    try:
        info = ServerInfo.from_json(info_path.read_text())
    except (ValueError, KeyError, TypeError) as e:
        raise GraphError(f"{info_path}: unreadable server record ({e}); remove it if no server runs") from e
    if _is_our_launcher(info.pid, data_dir):
        return info
    _forget(data_dir)
    return None


def _password(auth: bool, password: SecretStr | str | None, data_dir: Path) -> SecretStr | None:
    """The password to start with: given, else $NEO4J_PASSWORD, else the stored one, else a new one."""
    if not auth:
        return None
    if password is None:
        password = os.environ.get("NEO4J_PASSWORD") or None
    if password is None:
        return passwords.read_password(data_dir) or passwords.new_password()
    return password if isinstance(password, SecretStr) else SecretStr(password)


def local_password(uri: str, data_dir: Path | None = None) -> SecretStr | None:
    """The stored password of the local server at `uri`, for clients that were given none.

    Only when our launcher runs for `data_dir` at exactly that URI with auth on: the password is never sent to
    whatever else might listen on a port after our server stopped.
    """
    info = status(data_dir)
    if info is None or not info.auth or _loopback_alias(uri) != info.uri:
        return None
    return passwords.read_password(info.data_dir)


def _loopback_alias(uri: str) -> str:
    return uri.replace("://localhost:", f"://{HOST}:", 1)


def _wait_ready(
    proc: subprocess.Popen[bytes], info: ServerInfo, password: SecretStr | None, timeout_s: float
) -> None:
    """Wait for the launcher's ready line, then for Bolt to answer a real handshake (verify_connectivity)."""
    _wait_for_ready_line(proc, info.log_file, timeout_s)
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
    password: SecretStr | str | None = None,
    memory: ServerMemory | None = None,
    timeout_s: float = START_TIMEOUT_S,
) -> ServerInfo:
    """Start Neo4j for `data_dir` on 127.0.0.1:`port` and wait until Bolt answers; idempotent.

    If a server already runs for `data_dir` it is returned as it is (its port may differ from `port`: the
    returned `uri` is the truth). With `auth` (the default), the initial password of user `neo4j` is
    `password`, else `$NEO4J_PASSWORD`, else the one stored in `data_dir`, else a new random one; it reaches
    the JVM through its environment only and is stored (mode 0600) once the server accepts it. `memory`
    (default: `ServerMemory.from_env()`) sizes the heap and bounds transactions. `http_port` adds the HTTP
    API and, when its jar is on the class path, Neo4j Browser. Raises GraphError when java/mvn is missing, a
    port is taken, or the JVM dies (with the tail of its log).
    """
    data_dir = (data_dir or default_data_dir()).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)  # the store, the password: its owner's alone
    with _locked(data_dir / LOCK_FILE):
        running = status(data_dir)
        if running is not None:
            if (running.port, running.http_port) != (port, http_port):
                log.warning("Neo4j for %s already runs at %s; not restarting it", data_dir, running.uri)
            return running
        secret = _password(auth, password, data_dir)
        for wanted in (port, http_port):
            if wanted is not None and not _port_free(wanted):
                raise GraphError(
                    f"port {wanted} on {HOST} is taken by another process (not the Neo4j of {data_dir}); "
                    "choose another with --port / --http-port"
                )
        java, banner = _java()
        cache = prefetch(class_archive=False)
        archive = cache / CLASS_ARCHIVE
        use_archive = _fresh(cache / f"{CLASS_ARCHIVE}.stamp", _archive_stamp(banner), archive)
        info = ServerInfo(
            uri=f"bolt://{HOST}:{port}",
            pid=0,
            data_dir=data_dir,
            port=port,
            http_port=http_port,
            auth=auth,
            log_file=data_dir / LOG_FILE,
            version=neo4j_version(),
        )
        cmd = _launch_command(
            java,
            cache,
            data_dir,
            port,
            http_port,
            auth=auth,
            memory=memory or ServerMemory.from_env(),
            class_data=f"-XX:SharedArchiveFile={archive}" if use_archive else "",
        )
        env = {k: v for k, v in os.environ.items() if k != "NEO4J_PASSWORD"}
        if secret is not None:
            env["NEO4J_PASSWORD"] = secret.get_secret_value()
        with info.log_file.open("wb") as out:
            proc = subprocess.Popen(  # its own session: Ctrl-C in the caller's terminal does not reach it
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=data_dir,
                env=env,
                start_new_session=True,
            )
        _children[proc.pid] = proc
        info = dataclasses.replace(info, pid=proc.pid)
        (data_dir / PID_FILE).write_text(f"{proc.pid}\n")
        (data_dir / INFO_FILE).write_text(info.to_json())
        log.info("starting Neo4j %s for %s (pid %d, log %s)", info.version, data_dir, proc.pid, info.log_file)
        try:
            _wait_ready(proc, info, secret, timeout_s)
        except GraphError:
            _terminate(proc.pid, STOP_TIMEOUT_S)
            _forget(data_dir)
            raise
        if secret is not None and passwords.read_password(data_dir) != secret:
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


def _terminate(pid: int, timeout_s: float) -> None:
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


def stop(data_dir: Path | None = None, timeout_s: float = STOP_TIMEOUT_S) -> ServerInfo | None:
    """Stop the server of `data_dir`; returns what was stopped, or None when nothing ran."""
    data_dir = (data_dir or default_data_dir()).expanduser().resolve()
    if not data_dir.is_dir():
        return None
    with _locked(data_dir / LOCK_FILE):
        info = status(data_dir)
        if info is None:
            return None
        log.info("stopping Neo4j for %s (pid %d)", data_dir, info.pid)
        _terminate(info.pid, timeout_s)
        _forget(data_dir)
        return info


if __name__ == "__main__":  # `python -m graph.server prefetch`: for CI scripts that run before the venv's CLI
    if sys.argv[1:] != ["prefetch"]:
        sys.exit("usage: python -m graph.server prefetch")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    print(prefetch())
