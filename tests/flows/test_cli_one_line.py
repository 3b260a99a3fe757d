"""`nrskg query` and `nrskg neo4j` say one thing: the driver's retries and notifications stay off the console
(they are for `-v`), a server that is down fails at once, and `neo4j status` of a stopped server is an answer,
not an error. Run as a user runs them, in processes of their own."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows import logs
from flows.cli._failures import filter_console
from graph import process
from tests.conftest import ROOT, nrskg


@pytest.fixture
def no_server(tmp_path: Path) -> dict[str, str]:
    """A data directory where no server runs, and a Bolt port where nothing listens."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "NRSKG_NEO4J_"))}
    return keep | {
        "PYTHONPATH": str(ROOT),
        "NRSKG_NEO4J_HOME": str(tmp_path / "neo4j"),
        "NEO4J_URI": f"bolt://127.0.0.1:{process.free_port()}",
    }


def test_a_query_to_a_server_that_is_down_fails_at_once_in_one_line(no_server: dict[str, str]) -> None:
    done = nrskg(["query", "RETURN 1"], no_server)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "error: Neo4j does not answer (Connection refused) while running the query. Start the local server "
        "with `nrskg neo4j start`, or set NEO4J_URI to a running server"
    ]


def test_status_of_a_stopped_server_exits_3_and_says_so_quietly(no_server: dict[str, str]) -> None:
    done = nrskg(["neo4j", "status"], no_server)
    assert (done.returncode, done.stdout, done.stderr) == (3, "Neo4j is not running\n", "")


def test_a_data_directory_that_cannot_be_one_is_one_line_naming_the_setting(
    no_server: dict[str, str], tmp_path: Path
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    for home, why in ((a_file, "it is a file"), (a_file / "neo4j", "Not a directory")):
        done = nrskg(
            ["neo4j", "start", "--port", str(process.free_port())],
            no_server | {"NRSKG_NEO4J_HOME": str(home)},
        )
        assert (done.returncode, done.stdout) == (1, "")
        assert done.stderr.splitlines() == [
            f"error: cannot keep Neo4j's data in {home} ({why}). Give a folder you can write with "
            "--data-dir or NRSKG_NEO4J_HOME"
        ]


def test_ports_a_server_cannot_listen_on_are_refused_before_a_jvm_starts(no_server: dict[str, str]) -> None:
    port = str(process.free_port())
    shared = nrskg(["neo4j", "start", "--port", port, "--http-port", port], no_server)
    assert (shared.returncode, shared.stdout) == (1, "")
    assert shared.stderr.splitlines() == [
        f"error: Bolt and HTTP cannot share port {port}. Give --http-port another port"
    ]
    assert not (Path(no_server["NRSKG_NEO4J_HOME"]) / process.PID_FILE).exists()
    beyond = nrskg(["neo4j", "start", "--port", "70000"], no_server)
    assert beyond.returncode == 2 and "Traceback" not in beyond.stderr and "65535" in beyond.stderr


@pytest.mark.neo4j
def test_deprecated_syntax_answers_without_the_driver_s_notification(cli_env: dict[str, str]) -> None:
    done = nrskg(["query", "MATCH (n) RETURN id(n) AS old LIMIT 1", "--json"], cli_env)
    assert done.returncode == 0 and '"columns": [\n    "old"\n  ]' in done.stdout, done.stderr
    assert done.stderr == ""


@pytest.mark.neo4j
def test_without_neo4j_uri_the_cli_finds_the_local_server_on_the_port_it_was_started_on(
    cli_env: dict[str, str],
) -> None:
    """`nrskg neo4j start --port P`, then `nrskg query`: it was told to start the server that ran."""
    unset = {k: v for k, v in cli_env.items() if k != "NEO4J_URI"}
    done = nrskg(["query", "RETURN 1 AS one", "--json"], unset)
    assert (done.returncode, done.stderr) == (0, "") and '"one": 1' in done.stdout


@pytest.mark.neo4j
def test_a_database_the_server_lacks_is_a_setting_to_fix_not_the_query(cli_env: dict[str, str]) -> None:
    done = nrskg(["query", "RETURN 1"], cli_env | {"NEO4J_DATABASE": "nosuchdb"})
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "error: Neo4j has no such database (Graph not found: nosuchdb). Set NEO4J_DATABASE to a database of "
        "that server, or unset it for the default `neo4j`"
    ]


@pytest.mark.neo4j
def test_a_query_by_a_routed_uri_finds_the_local_password_and_says_when_none_is_known(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    routed = cli_env | {"NEO4J_URI": cli_env["NEO4J_URI"].replace("bolt://", "neo4j://")}
    done = nrskg(["query", "RETURN 1 AS one", "--json"], routed)
    assert (done.returncode, done.stderr) == (0, "") and '"one": 1' in done.stdout
    elsewhere = nrskg(["query", "RETURN 1"], routed | {"NRSKG_NEO4J_HOME": str(tmp_path)})
    assert elsewhere.returncode == 1 and elsewhere.stdout == ""
    assert elsewhere.stderr.splitlines() == [
        f"error: Neo4j at {routed['NEO4J_URI']} asks for a password and none is known. Set NEO4J_PASSWORD; "
        "for the local server, set NRSKG_NEO4J_HOME to its data directory if it is not the default, so that "
        "its stored password is found"
    ]


@pytest.fixture
def console() -> Iterator[None]:
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    yield
    root.handlers[:], root.level = saved


@pytest.mark.parametrize("verbose", [False, True])
def test_driver_records_reach_the_console_only_with_verbose(
    verbose: bool, console: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure_console(verbose)
    filter_console(verbose)
    logging.getLogger("neo4j.session").warning("Transaction failed and will be retried in 0.9s")
    logging.getLogger("neo4j.notifications").warning(
        "Received notification from DBMS server: <GqlStatusObject>"
    )
    logging.getLogger("neo4j.io").error(
        "[#A6BA] _: <CONNECTION> error: Failed to read from defunct connection"
    )
    logging.getLogger("graph.writer").warning("a warning of the project's own")
    err = capsys.readouterr().err
    assert "a warning of the project's own" in err
    assert ("will be retried" in err, "GqlStatusObject" in err, "defunct" in err) == (verbose,) * 3
