"""The read-only runner without a server: value conversion, table layout and error translation."""

from __future__ import annotations

from unittest.mock import MagicMock

import neo4j
import neo4j.time
import pytest

from graph.read import ReadResult, format_table, plain, read_table
from nrskg.errors import GraphError, PermanentGraphError, ReadOnlyQueryError


def test_plain_turns_driver_values_into_json_friendly_ones() -> None:
    when = neo4j.time.DateTime(2026, 1, 2, 3, 4, 5)
    assert plain({"seen": [when], "n": 1, "t": ("a", 2.5)}) == {
        "seen": ["2026-01-02T03:04:05.000000000"],
        "n": 1,
        "t": ["a", 2.5],
    }


def test_format_table_aligns_wide_characters_and_notes_truncation() -> None:
    result = ReadResult(
        ["drug", "count"], [{"drug": "二甲双胍", "count": 2}, {"drug": "x", "count": 10}], True
    )
    lines = format_table(result).splitlines()
    assert lines[0] == "drug      count"  # "二甲双胍" is 8 columns wide
    assert lines[2] == "二甲双胍  2"
    assert lines[3] == "x         10"
    assert lines[-1] == "(2 rows, cut at the row limit)"
    assert format_table(ReadResult(["drug"], [{"drug": "ACEI"}], False)).splitlines()[-1] == "(1 row)"
    cut = format_table(ReadResult(["s"], [{"s": "糖" * 50}], False), max_width=9).splitlines()[2]
    assert cut == "糖糖糖糖…"


def _driver_raising(error: Exception) -> MagicMock:
    driver = MagicMock(spec=neo4j.Driver)
    driver.session.return_value.__enter__.return_value.begin_transaction.side_effect = error
    return driver


def test_server_refusal_of_a_write_becomes_read_only_query_error() -> None:
    # Constructed the way the driver hydrates a server failure.
    refusal = neo4j.exceptions.Neo4jError._hydrate_neo4j(
        code="Neo.ClientError.Statement.AccessMode", message="Writing in read access mode not allowed."
    )
    with pytest.raises(ReadOnlyQueryError, match="refused: no writing in a read transaction"):
        read_table(_driver_raising(refusal), "CALL custom.write()", timeout=1.0, limit=5)
    syntax = neo4j.exceptions.Neo4jError._hydrate_neo4j(
        code="Neo.ClientError.Statement.SyntaxError", message="Invalid input 'MATC'"
    )
    with pytest.raises(GraphError, match="query failed: Invalid input 'MATC'"):
        read_table(_driver_raising(syntax), "MATC (n) RETURN n", timeout=1.0, limit=5)


def test_a_query_past_a_memory_limit_names_the_limit_and_how_to_raise_it() -> None:
    per_transaction = neo4j.exceptions.Neo4jError._hydrate_neo4j(
        code="Neo.TransientError.General.MemoryPoolOutOfMemoryError",
        message="The allocation of an extra 2.0 MiB would use more than the limit 100.0 MiB. Currently using "
        "98.9 MiB. db.memory.transaction.max threshold reached",
    )
    with pytest.raises(PermanentGraphError) as caught:
        read_table(_driver_raising(per_transaction), "RETURN 1", timeout=1.0, limit=5)
    assert str(caught.value) == (
        "the query needed more memory than Neo4j allows: db.memory.transaction.max (100.0 MiB). Ask for less "
        "(LIMIT, count() rather than collect()), or raise it on the local server: `nrskg neo4j stop && nrskg "
        "neo4j start --transaction-max SIZE` (or NRSKG_NEO4J_TRANSACTION_MAX=SIZE)"
    )
    heap = neo4j.exceptions.Neo4jError._hydrate_neo4j(
        code="Neo.TransientError.General.OutOfMemoryError", message="1024 MiB, more than 75% of it held"
    )
    with pytest.raises(
        GraphError, match=r"the Java heap \(1024 MiB, more than 75% of it held\).*--heap SIZE"
    ):
        read_table(_driver_raising(heap), "RETURN 1", timeout=1.0, limit=5)


def test_a_database_the_server_lacks_names_neo4j_database_not_the_query() -> None:
    missing = neo4j.exceptions.Neo4jError._hydrate_neo4j(
        code="Neo.ClientError.Database.DatabaseNotFound", message="Graph not found: nosuchdb"
    )
    with pytest.raises(PermanentGraphError) as caught:
        read_table(_driver_raising(missing), "RETURN 1", timeout=1.0, limit=5, database="nosuchdb")
    assert str(caught.value) == (
        "Neo4j has no such database (Graph not found: nosuchdb). Set NEO4J_DATABASE to a database of that "
        "server, or unset it for the default `neo4j`"
    )


def test_a_query_past_its_timeout_says_how_to_give_it_longer() -> None:
    timed_out = neo4j.exceptions.Neo4jError._hydrate_neo4j(
        code="Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration",
        message="The transaction has been terminated. Retry your operation in a new transaction, and you "
        "should see a successful result. The transaction has not completed within the timeout specified at "
        "its start by the client. You may want to retry with a longer timeout.",
    )
    with pytest.raises(GraphError) as caught:
        read_table(_driver_raising(timed_out), "RETURN 1", timeout=2.5, limit=5)
    assert str(caught.value) == (
        "the query did not finish within its time limit of 2.5 s. Give it longer with `nrskg query --timeout "
        "SECONDS`, or ask for less (LIMIT, a narrower MATCH)"
    )


def test_plan_with_a_write_is_refused_before_the_query_runs() -> None:
    driver = MagicMock(spec=neo4j.Driver)
    session = driver.session.return_value.__enter__.return_value
    tx = MagicMock(spec=neo4j.Transaction)
    session.begin_transaction.return_value.__enter__.return_value = tx
    tx.run.return_value.consume.return_value.query_type = "rw"
    with pytest.raises(ReadOnlyQueryError, match="query type 'rw'"):
        read_table(driver, "PROFILE CREATE (n) RETURN n", {"a": 1}, timeout=2.0, limit=5, database="kg")
    tx.run.assert_called_once_with("EXPLAIN  CREATE (n) RETURN n", {"a": 1})
    driver.session.assert_called_once_with(database="kg", default_access_mode=neo4j.READ_ACCESS)
    session.begin_transaction.assert_called_once_with(timeout=2.0)
    with pytest.raises(GraphError, match="row limit must be at least 1"):
        read_table(driver, "RETURN 1", timeout=1.0, limit=0)
