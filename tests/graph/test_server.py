"""The local Neo4j: start/stop/status against real JVMs (the session one, plus one of its own to stop)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import neo4j
import pytest
from pydantic import SecretStr

from graph import launcher, passwords, process, server
from graph.connection import check, driver, verify
from graph.settings import Neo4jSettings
from nrskg.errors import GraphError, PermanentGraphError
from tests.conftest import TEST_MEMORY

pytestmark = pytest.mark.neo4j


@pytest.fixture
def local(local_neo4j: process.ServerInfo | None) -> process.ServerInfo:
    if local_neo4j is None:
        pytest.skip("NEO4J_URI names an external server: these tests manage the local one")
    return local_neo4j


def test_start_is_idempotent(local: process.ServerInfo) -> None:
    started = time.monotonic()
    again = server.start(local.data_dir, local.port, memory=TEST_MEMORY)
    assert again == local
    assert time.monotonic() - started < 5, "a second start must find the running server, not launch a JVM"


def test_status_reports_the_running_server_and_nothing_elsewhere(
    local: process.ServerInfo, tmp_path: Path
) -> None:
    assert process.status(local.data_dir) == local
    assert (local.data_dir / process.PID_FILE).read_text().strip() == str(local.pid)
    assert process.status(tmp_path) is None
    assert server.stop(tmp_path / "never-started") is None


def test_taken_port_is_a_clear_error(local: process.ServerInfo, tmp_path: Path) -> None:
    with pytest.raises(GraphError, match=rf"port {local.port} on 127\.0\.0\.1 is taken"):
        server.start(tmp_path, local.port)
    assert process.status(tmp_path) is None


def test_http_serves_browser_and_advertises_this_bolt_port(local: process.ServerInfo) -> None:
    assert local.browser_url is not None
    with urllib.request.urlopen(local.browser_url, timeout=30) as page:
        assert page.status == 200 and "<title>Neo4j Browser</title>" in page.read().decode()
    with urllib.request.urlopen(f"http://127.0.0.1:{local.http_port}/", timeout=30) as discovery:
        assert json.load(discovery)["bolt_direct"] == local.uri


def test_cypher_round_trip(clean_graph: neo4j.Driver) -> None:
    name = "二甲双胍 `'\"}) DETACH DELETE n //"
    clean_graph.execute_query("CREATE (:Probe {name: $name})", name=name)
    records, _, _ = clean_graph.execute_query("MATCH (p:Probe) RETURN p.name AS name, count(*) AS n")
    assert [(r["name"], r["n"]) for r in records] == [(name, 1)]


def test_clean_graph_starts_empty(clean_graph: neo4j.Driver) -> None:
    records, _, _ = clean_graph.execute_query("MATCH (n) RETURN count(n) AS n")
    assert records[0]["n"] == 0


def test_jvm_that_dies_reports_its_log(tmp_path: Path) -> None:
    below_neo4js_minimum = TEST_MEMORY.model_copy(update={"transaction_max": 1024})
    with pytest.raises(GraphError, match=r"exited with code [1-9].*\n(.|\n)*db\.memory\.transaction\.max"):
        server.start(tmp_path, process.free_port(), memory=below_neo4js_minimum, timeout_s=120)
    assert process.status(tmp_path) is None
    assert not (tmp_path / process.PID_FILE).exists()


def test_missing_java_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(GraphError, match="`java` not found"):
        server.start(tmp_path / "data", process.free_port())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_auth_is_on_with_a_generated_password_that_only_its_owner_reads_and_clients_find(
    local: process.ServerInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert local.auth, "the local server requires a password unless started with --no-auth"
    secret = passwords.password_file(local.data_dir)
    assert _mode(secret) == 0o600 and _mode(local.data_dir) == 0o700
    password = passwords.read_password(local.data_dir)  # a SecretStr: assertions print it masked
    assert password is not None
    length = len(password.get_secret_value())
    assert length >= 32
    records = (process.LOG_FILE, process.INFO_FILE, process.PID_FILE)
    leaked = [r for r in records if password.get_secret_value() in (local.data_dir / r).read_text()]
    assert leaked == []
    # A client given no password finds this server's own, and only for this server's URI.
    monkeypatch.delenv("NEO4J_PASSWORD", raising=False)
    env = {"NEO4J_URI": local.uri, "NRSKG_NEO4J_HOME": str(local.data_dir)}
    found = Neo4jSettings.from_env(env)
    assert found.password == password
    with driver(found) as drv:
        assert drv.execute_query("RETURN 1 AS x").records[0]["x"] == 1
    elsewhere = Neo4jSettings.from_env({**env, "NEO4J_URI": f"bolt://127.0.0.1:{process.free_port()}"})
    assert elsewhere.password is None
    for settings in (Neo4jSettings(uri=local.uri), Neo4jSettings(uri=local.uri, password="not-it")):
        with driver(settings) as drv, pytest.raises(PermanentGraphError, match="refused the credentials"):
            verify(drv, local.uri)


def test_clients_find_the_password_by_any_uri_of_plain_bolt_that_reaches_the_server(
    local: process.ServerInfo,
) -> None:
    """Direct or routed, by address or by `localhost`; never for TLS (the local server speaks none), another
    host or another port."""
    home = {"NRSKG_NEO4J_HOME": str(local.data_dir)}
    password = passwords.read_password(local.data_dir)
    for uri in (
        f"neo4j://127.0.0.1:{local.port}",
        f"bolt://localhost:{local.port}",
        f"neo4j://localhost:{local.port}",
    ):
        found = Neo4jSettings.from_env(home | {"NEO4J_URI": uri})
        assert found.password == password, uri
        with driver(found) as drv:
            assert drv.execute_query("RETURN 1 AS x").records[0]["x"] == 1
    for uri in (
        f"bolt+s://127.0.0.1:{local.port}",
        f"neo4j+ssc://localhost:{local.port}",
        f"bolt://127.0.0.2:{local.port}",
        f"neo4j://127.0.0.1:{process.free_port()}",
        "bolt://127.0.0.1:not-a-port",
    ):
        assert Neo4jSettings.from_env(home | {"NEO4J_URI": uri}).password is None, uri


def test_a_server_that_wants_a_password_nobody_gave_says_so(local: process.ServerInfo) -> None:
    with pytest.raises(PermanentGraphError) as caught:
        check(Neo4jSettings(uri=local.uri))
    assert str(caught.value).startswith(
        f"Neo4j at {local.uri} asks for a password and none is known. Set NEO4J_PASSWORD"
    )
    with pytest.raises(PermanentGraphError, match="refused the credentials"):
        check(Neo4jSettings(uri=local.uri, password="not-it"))


def test_a_password_file_others_can_read_is_refused(tmp_path: Path) -> None:
    passwords.save_password(tmp_path, passwords.new_password())
    assert passwords.read_password(tmp_path) is not None
    passwords.password_file(tmp_path).chmod(0o644)
    with pytest.raises(GraphError, match=r"readable by other users \(mode 644\)\. Run `chmod 600"):
        passwords.read_password(tmp_path)


def test_load_csv_reads_no_file_and_no_address_on_the_server(
    local: process.ServerInfo, neo4j_driver: neo4j.Driver
) -> None:
    """Whatever client asks (Browser, cypher-shell, a script with the password), not only `nrskg query`."""
    assert list((local.data_dir / "import").iterdir()) == []
    here = Path(__file__).resolve()
    refusals = {
        "file:///etc/passwd": "allow_csv_import_from_file_urls' is false",
        here.as_uri(): "allow_csv_import_from_file_urls' is false",
        "file:///nrskg-import-probe.csv": "allow_csv_import_from_file_urls' is false",
        f"http://127.0.0.1:{local.http_port}/": "is blocked via the configuration property",
    }
    with neo4j_driver.session() as session:
        for url, why in refusals.items():
            with pytest.raises(neo4j.exceptions.ClientError) as caught:
                session.run(f"LOAD CSV FROM '{url}' AS line RETURN line").consume()
            assert caught.value.code == "Neo.ClientError.Statement.ExternalResourceFailed"
            assert why in caught.value.message


@pytest.mark.slow
def test_second_instance_offline_with_auth_then_stop(
    local: process.ServerInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server of its own (never the session one), started with only `java` on PATH (no mvn, no javac: the
    cache is enough); its password works, others are refused, a restart keeps it; then it stops cleanly."""
    java_only = tmp_path / "bin"
    java_only.mkdir()
    (java_only / "java").symlink_to(shutil.which("java") or "java")
    monkeypatch.setenv("PATH", str(java_only))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    data_dir = tmp_path / "data"
    password = "a-test-password-1"
    monkeypatch.setenv("NEO4J_PASSWORD", password)
    info = server.start(data_dir, process.free_port(), auth=True, memory=TEST_MEMORY)
    assert info.port != local.port and info.auth
    assert password not in (data_dir / process.LOG_FILE).read_text()
    assert password not in (data_dir / process.INFO_FILE).read_text()

    with driver(Neo4jSettings(uri=info.uri, password=password)) as drv:
        assert drv.execute_query("RETURN 41 + 1 AS x").records[0]["x"] == 42
    with driver(Neo4jSettings(uri=info.uri, password="not-the-password")) as drv:
        with pytest.raises(GraphError, match="refused the credentials"):
            verify(drv, info.uri)
    # The password given at the first start is kept for the next: a restart needs nobody to type it.
    assert passwords.read_password(data_dir) == SecretStr(password)
    server.stop(data_dir)
    monkeypatch.delenv("NEO4J_PASSWORD")
    info = server.start(data_dir, info.port, memory=TEST_MEMORY)
    with driver(Neo4jSettings(uri=info.uri, password=password)) as drv:
        assert drv.execute_query("RETURN 1 AS x").records[0]["x"] == 1

    stopped = server.stop(data_dir)
    assert stopped == info
    assert process.status(data_dir) is None
    with pytest.raises(ProcessLookupError):
        os.kill(info.pid, 0)
    stopped_cleanly = "NRSKG-NEO4J stopped" in (data_dir / process.LOG_FILE).read_text()
    assert stopped_cleanly, "SIGTERM must shut down cleanly"
    assert process.port_free(info.port)
    assert process.status(local.data_dir) == local, "stopping one instance must leave the session one alone"


@pytest.mark.slow
def test_a_start_interrupted_while_the_jvm_starts_stops_it_and_leaves_the_password_known(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (or a scheduler's SIGTERM) after the JVM was launched: the JVM, in its own session, would go on
    starting a server the person asked not to have, so it is stopped; and the store it set up keeps the
    password it was given, so that password must be on disk, or nobody can ever log in to that store again."""
    monkeypatch.delenv("NEO4J_PASSWORD", raising=False)
    wait_for_ready_line = launcher.wait_for_ready_line
    launched = []

    def interrupted_once_ready(proc: subprocess.Popen[bytes], log_file: Path, timeout_s: float) -> None:
        launched.append(proc.pid)
        wait_for_ready_line(proc, log_file, timeout_s)
        raise KeyboardInterrupt

    monkeypatch.setattr(launcher, "wait_for_ready_line", interrupted_once_ready)
    data_dir = tmp_path / "data"
    with pytest.raises(KeyboardInterrupt):
        server.start(data_dir, process.free_port(), memory=TEST_MEMORY)
    monkeypatch.undo()
    assert process.status(data_dir) is None
    with pytest.raises(ProcessLookupError):
        os.kill(launched[0], 0)
    info = server.start(data_dir, process.free_port(), memory=TEST_MEMORY)
    try:
        assert info.auth
        check(Neo4jSettings(uri=info.uri, password=passwords.local_password(info.uri, data_dir)))
    finally:
        server.stop(data_dir)


def test_a_store_another_process_holds_is_refused_before_a_jvm_takes_its_log(tmp_path: Path) -> None:
    """A Neo4j that nrskg has no record of (started by hand, or for another path to this folder) holds the
    store: a second JVM died on its lock with a page of stack trace, after truncating that server's log."""
    lock = tmp_path / "data" / "databases" / "store_lock"  # Neo4j's own lock file
    lock.parent.mkdir(parents=True)
    lock.touch()
    log_file = tmp_path / process.LOG_FILE
    log_file.write_text("the other server's log\n")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(lock)], stdout=subprocess.PIPE, text=True
    )  # a POSIX lock belongs to a process: this one cannot hold it for the test
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with pytest.raises(GraphError, match=rf"^the store in {tmp_path} is in use by a process .*`fuser -v"):
            server.start(tmp_path, process.free_port(), memory=TEST_MEMORY)
    finally:
        holder.kill()
        holder.wait()
    assert log_file.read_text() == "the other server's log\n"
    assert not (tmp_path / process.PID_FILE).exists()


HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(600)
"""


NOBODY = 65534


@contextlib.contextmanager
def as_another_account(data_dir: Path) -> Iterator[None]:
    """What an account other than its owner sees of a data directory (mode 0700): nothing, not even names."""
    if os.geteuid() == 0:  # root reads everything: become nobody for a while (the real uid stays root)
        os.seteuid(NOBODY)
        try:
            yield
        finally:
            os.seteuid(0)
    else:
        data_dir.chmod(0)
        try:
            yield
        finally:
            data_dir.chmod(0o700)


def test_another_account_s_data_directory_is_one_line_for_status_and_stop() -> None:
    """NRSKG_NEO4J_HOME naming a service account's server on a shared machine: `nrskg neo4j status`, `stop`
    and every client looking for the stored password ended in "unexpected PermissionError ... a bug"."""
    data_dir = Path(tempfile.mkdtemp(prefix="nrskg-neo4j-"))  # mode 0700 in a folder everyone may search
    try:
        (data_dir / process.INFO_FILE).write_text("{}")
        with as_another_account(data_dir):
            with pytest.raises(
                GraphError, match=r"^cannot read the server record .* \(Permission denied\)\. Run"
            ):
                process.status(data_dir)
            with pytest.raises(
                GraphError, match=rf"^cannot keep Neo4j's data in {data_dir} \(Permission denied\)"
            ):
                server.stop(data_dir)
    finally:
        shutil.rmtree(data_dir)
