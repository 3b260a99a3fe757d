"""Read means read: the clinician path refuses every form of administration, by what the real server says the
query is (its plan's query type, runtime and operators), however the query is spelled."""

from __future__ import annotations

import neo4j
import pytest
from typer.testing import CliRunner

from flows.cli import app
from graph.read import read_table
from graph.settings import Neo4jSettings
from nrskg.errors import ReadOnlyQueryError

pytestmark = pytest.mark.neo4j

TIMEOUT_S = 10.0
COMMAND = "is a command about the server, not a query of the graph"
ADMINISTRATION = "refused: administration commands"
PROCEDURE = "refused: this query calls a procedure that is not read-only"
WRITE = "refused: this query would write"

REFUSED = {
    # transactions: other people's queries and parameters, and ending their work
    "SHOW TRANSACTIONS": f"SHOW TRANSACTIONS {COMMAND}",
    "show transactions yield transactionId, currentQuery where currentQuery <> ''": (
        f"SHOW TRANSACTIONS {COMMAND}"
    ),
    "TERMINATE TRANSACTION 'neo4j-transaction-1'": f"TERMINATE TRANSACTIONS {COMMAND}",
    "SHOW TRANSACTIONS YIELD transactionId AS id TERMINATE TRANSACTIONS id YIELD message RETURN message": (
        f"SHOW TRANSACTIONS and TERMINATE TRANSACTIONS {COMMAND}"
    ),
    "SHOW SETTINGS YIELD name, value": f"SHOW SETTINGS {COMMAND}",
    # users and databases (the system runtime), and what this edition turns down itself
    "SHOW USERS": ADMINISTRATION,
    "/* a comment first */ SHOW CURRENT USER": ADMINISTRATION,
    "SHOW DATABASES": ADMINISTRATION,
    "SHOW DATABASE neo4j YIELD name, currentStatus": ADMINISTRATION,
    "CREATE USER mallory SET PASSWORD 'not-a-password-1'": ADMINISTRATION,
    "CREATE DATABASE other": ADMINISTRATION,
    "STOP DATABASE neo4j": ADMINISTRATION,
    # servers
    "SHOW SERVERS": ADMINISTRATION,
    "ENABLE SERVER 'some-server'": ADMINISTRATION,
    # procedures that are not read-only: DBMS mode and WRITE mode
    "CALL dbms.components()": f"{PROCEDURE} (query type 's')",
    "CALL db.clearQueryCaches()": f"{PROCEDURE} (query type 's')",
    "CALL tx.setMetaData({app: 'x'})": f"{PROCEDURE} (query type 's')",
    "MATCH (n) WITH count(n) AS n CALL dbms.listConfig() YIELD name RETURN n, name": (
        f"{PROCEDURE} (query type 's')"
    ),
    "CALL db.createLabel('Injected')": f"{PROCEDURE} (query type 'w')",
    # writes, the schema
    "CREATE (n:Drug {name: 'x'}) RETURN n": f"{WRITE} (query type 'rw')",
    "MATCH (n) DETACH DELETE n": f"{WRITE} (query type 'w')",
    "CREATE INDEX probe FOR (n:A) ON n.b": f"{WRITE} (query type 's')",
}


@pytest.mark.parametrize("cypher", list(REFUSED))
def test_administration_is_refused_by_what_the_server_says_it_is(
    cypher: str, neo4j_driver: neo4j.Driver, neo4j_settings: Neo4jSettings
) -> None:
    with pytest.raises(ReadOnlyQueryError) as refused:
        read_table(neo4j_driver, cypher, timeout=TIMEOUT_S, limit=10, database=neo4j_settings.database)
    assert REFUSED[cypher] in str(refused.value)


def test_reading_procedures_and_queries_still_run(
    neo4j_driver: neo4j.Driver, neo4j_settings: Neo4jSettings
) -> None:
    for cypher in ("CALL db.labels() YIELD label RETURN count(label) >= 0 AS ok", "RETURN 1 = 1 AS ok"):
        rows = read_table(
            neo4j_driver, cypher, timeout=TIMEOUT_S, limit=10, database=neo4j_settings.database
        ).rows
        assert rows == [{"ok": True}]


def _env(settings: Neo4jSettings) -> dict[str, str]:
    env = {"NEO4J_URI": settings.uri, "NEO4J_USER": settings.user, "NEO4J_DATABASE": settings.database}
    return env | ({"NEO4J_PASSWORD": settings.password.get_secret_value()} if settings.password else {})


def test_nrskg_query_cannot_see_or_end_another_client_s_transaction(
    neo4j_driver: neo4j.Driver, neo4j_settings: Neo4jSettings
) -> None:
    runner = CliRunner()
    with neo4j_driver.session(database=neo4j_settings.database) as session:
        other = session.begin_transaction(metadata={"app": "ingest"})
        other.run("RETURN 1").consume()
        shown = (
            "SHOW TRANSACTIONS YIELD transactionId AS id, metaData WHERE metaData.app = 'ingest' RETURN id"
        )
        [mine] = [r["id"] for r in neo4j_driver.execute_query(shown).records]
        for cypher in ("SHOW TRANSACTIONS", f"TERMINATE TRANSACTION '{mine}'"):
            done = runner.invoke(app, ["query", cypher], env=_env(neo4j_settings))
            assert done.exit_code == 1 and done.output.startswith("error: refused: "), done.output
            assert done.output.count("\n") == 1 and mine not in done.output
        assert other.run("RETURN 2 AS still").single()["still"] == 2
        other.commit()
