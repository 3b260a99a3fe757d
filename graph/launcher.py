"""The JVM that runs the local Neo4j: its command line, the line that says it is ready, and a class-data
archive that makes later starts faster."""

from __future__ import annotations

import logging
import subprocess
import tempfile
import time
from pathlib import Path

from graph.files import digest, fresh, tail
from graph.jars import LAUNCHER_CLASS, LAUNCHER_SOURCE, POM, class_path, java, resolve
from graph.process import LOG_FILE, free_port
from graph.settings import ServerMemory, format_size
from nrskg.errors import GraphError

log = logging.getLogger(__name__)

CLASS_ARCHIVE = "classes.jsa"  # class-data sharing (AppCDS) archive of a recorded start, in the cache folder
READY_MARK = "NRSKG-NEO4J READY"  # printed by Neo4jLauncher.java once Bolt listens
START_TIMEOUT_S = 180.0  # a cold start on 2 busy cores took ~20 s; leave room for slow CI machines

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


def prefetch(class_archive: bool = True) -> Path:
    """The resolved jars and compiled launcher (`graph.jars.resolve`); returns the cache folder.

    With `class_archive` it also records a class-data-sharing archive (one throwaway start, ~1 minute, once),
    which makes every later start much faster; `nrskg neo4j prefetch` and CI do that, a plain start does not
    wait for it.
    """
    cache = resolve()
    if class_archive:
        path, banner = java()
        if not class_data(cache, banner):
            _record_class_archive(cache, path, banner)
    return cache


def _archive_stamp(java_banner: str) -> str:
    """A class archive is only valid for the same JVM build and the same class path."""
    return f"{digest(POM, LAUNCHER_SOURCE)}\n{java_banner}"


def class_data(cache: Path, java_banner: str) -> str:
    """The option that maps the class archive, when one was recorded for this JVM and class path; else ""."""
    archive = cache / CLASS_ARCHIVE
    usable = fresh(cache / f"{CLASS_ARCHIVE}.stamp", _archive_stamp(java_banner), archive)
    return f"-XX:SharedArchiveFile={archive}" if usable else ""


def command(
    java_path: str,
    cache: Path,
    data_dir: Path,
    port: int,
    http_port: int | None,
    *,
    auth: bool,
    memory: ServerMemory,
    archive_option: str,
) -> list[str]:
    """The JVM command line. `archive_option`: -XX:SharedArchiveFile=... to use a class archive,
    -XX:ArchiveClassesAtExit=... to record one, or "" for neither."""
    archive = [archive_option] if archive_option else []
    cmd = [java_path, f"-Xmx{format_size(memory.heap)}", *JVM_OPTIONS, *archive, "-cp", class_path(cache),
           LAUNCHER_CLASS, "--home", str(data_dir), "--bolt-port", str(port),
           "--pagecache", str(memory.pagecache), "--transaction-max", str(memory.transaction_max),
           "--transaction-total-max", str(memory.transaction_total_max)]  # fmt: skip
    if http_port is not None:
        cmd += ["--http-port", str(http_port)]
    if auth:
        cmd.append("--auth")
    return cmd


def wait_for_ready_line(proc: subprocess.Popen[bytes], log_file: Path, timeout_s: float) -> None:
    """Until the launcher prints READY_MARK; GraphError with the log's tail if the JVM dies or is too slow."""
    deadline = time.monotonic() + timeout_s
    while READY_MARK not in log_file.read_text(encoding="utf-8", errors="replace"):
        if proc.poll() is not None:
            raise GraphError(
                f"Neo4j exited with code {proc.returncode} while starting; last lines of {log_file}:\n"
                f"{tail(log_file)}"
            )
        if time.monotonic() > deadline:
            raise GraphError(
                f"Neo4j did not start within {timeout_s:.0f} s; see {log_file}:\n{tail(log_file)}"
            )
        time.sleep(0.25)


def _record_class_archive(cache: Path, java_path: str, banner: str) -> None:
    """Start and stop a throwaway server with -XX:ArchiveClassesAtExit: the JVM writes the ~20k classes it
    loaded to one file that later JVMs map instead of reading 200 jars (warm start ~13 s -> ~8 s on 2 busy
    cores). Best effort: a failure only costs speed, so it is logged, not raised."""
    archive = cache / CLASS_ARCHIVE
    staging = archive.with_name(f"{archive.name}.partial")
    staging.unlink(missing_ok=True)
    log.info("recording a class-data archive for faster Neo4j starts (one throwaway start, once)")
    with tempfile.TemporaryDirectory(prefix="nrskg-neo4j-cds-") as home:
        cmd = command(java_path, cache, Path(home), free_port(), None, auth=False,
                      memory=ServerMemory.from_env({}),
                      archive_option=f"-XX:ArchiveClassesAtExit={staging}")  # fmt: skip
        log_file = Path(home) / LOG_FILE
        with log_file.open("wb") as out:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_ready_line(proc, log_file, START_TIMEOUT_S)
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
