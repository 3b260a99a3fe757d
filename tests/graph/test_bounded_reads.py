"""What one reader may take from the local server: a query past a memory limit fails alone, with one line that
names the limit and how to raise it, and the next query is answered. Run as a user runs `nrskg query`, in a
process of its own, against the suite's real Neo4j."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import TEST_MEMORY, nrskg

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]


def query(cypher: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return nrskg(["query", cypher, "--json"], env)


def assert_fails_alone(done: subprocess.CompletedProcess[str], env: dict[str, str], *fragments: str) -> None:
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
    for fragment in fragments:
        assert fragment in done.stderr, done.stderr
    after = query("MATCH (n) RETURN count(n) >= 0 AS answered", env)
    assert after.returncode == 0 and '"answered": true' in after.stdout, after.stderr


def test_a_list_that_fills_the_heap_fails_alone_and_the_server_answers_the_next_query(
    cli_env: dict[str, str],
) -> None:
    """Neo4j does not track a list comprehension's memory: the launcher's heap guard stops it."""
    done = query("WITH [x IN range(1,100000000) | toString(x)] AS l RETURN size(l)", cli_env)
    heap = "needed more memory than Neo4j allows: the Java heap"
    assert_fails_alone(done, cli_env, heap, "NRSKG_NEO4J_HEAP=")


def test_a_query_past_the_transaction_limit_fails_alone_and_names_it(cli_env: dict[str, str]) -> None:
    done = query("UNWIND range(1, 100000000) AS x WITH collect(toString(x)) AS l RETURN size(l)", cli_env)
    limit = f"{TEST_MEMORY.transaction_max / 2**20:.1f} MiB"
    assert_fails_alone(done, cli_env, f"db.memory.transaction.max ({limit})", "--transaction-max SIZE")
