"""What one reader may take from the local server: a query past a memory limit fails alone, with one line that
names the limit and how to raise it, and the next query is answered. Run as a user runs `nrskg query`, in a
process of its own, against the suite's real Neo4j."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from graph import process
from tests.conftest import TEST_MEMORY

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def env(local_neo4j: process.ServerInfo | None) -> dict[str, str]:
    """The suite's local Neo4j, its password left for the CLI to find; this checkout's code first."""
    if local_neo4j is None:
        pytest.skip("NEO4J_URI names an external server: its memory limits are its own")
    keep = {k: v for k, v in os.environ.items() if not k.startswith("NEO4J_")}
    return keep | {
        "PYTHONPATH": str(ROOT),
        "NEO4J_URI": local_neo4j.uri,
        "NRSKG_NEO4J_HOME": str(local_neo4j.data_dir),
    }


def query(cypher: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "flows.cli", "query", cypher, "--json"]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)


def assert_fails_alone(done: subprocess.CompletedProcess[str], env: dict[str, str], *fragments: str) -> None:
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
    for fragment in fragments:
        assert fragment in done.stderr, done.stderr
    after = query("MATCH (n) RETURN count(n) >= 0 AS answered", env)
    assert after.returncode == 0 and '"answered": true' in after.stdout, after.stderr


def test_a_list_that_fills_the_heap_fails_alone_and_the_server_answers_the_next_query(
    env: dict[str, str],
) -> None:
    """Neo4j does not track a list comprehension's memory: the launcher's heap guard stops it."""
    done = query("WITH [x IN range(1,100000000) | toString(x)] AS l RETURN size(l)", env)
    assert_fails_alone(done, env, "needed more memory than Neo4j allows: the Java heap", "NRSKG_NEO4J_HEAP=")


def test_a_query_past_the_transaction_limit_fails_alone_and_names_it(env: dict[str, str]) -> None:
    done = query("UNWIND range(1, 100000000) AS x WITH collect(toString(x)) AS l RETURN size(l)", env)
    limit = f"{TEST_MEMORY.transaction_max / 2**20:.1f} MiB"
    assert_fails_alone(done, env, f"db.memory.transaction.max ({limit})", "--transaction-max SIZE")
