"""The demo's closing text: a summary table without dict reprs, and a `next` block that names what to run."""

from __future__ import annotations

import dataclasses

from flows.cli.run import table_lines
from flows.demo import DemoResult, next_rows, summary_rows
from graph.read import ReadResult
from pipeline.summary import IngestSummary

COUNTERS = {"nodes_created": 92, "nodes_deleted": 0, "relationships_created": 131, "relationships_deleted": 0}


def result(run_dir: str | None, browser_url: str | None, note: str | None = None) -> DemoResult:
    ingest = IngestSummary(
        run_dir=run_dir, model_version="m1", min_confidence=0.5, documents_seen=11, documents_new=11,
        sentences=48, triples=35, entities=33, relations=26, graph=COUNTERS,
        seconds={"read": 0.06, "extract": 2.57, "total": 16.4},
    )  # fmt: skip
    return DemoResult("bolt://127.0.0.1:7687", "m1", True, 0.9876, ingest, {}, browser_url, note)


def test_summary_is_a_table_of_plain_values() -> None:
    lines = table_lines(summary_rows(result("runs/r1", "http://127.0.0.1:7474/browser/")))
    text = "\n".join(lines)
    assert "{" not in text and "'" not in text  # no dict reprs
    assert "training F1 0.988" in text and "held-out F1" not in text
    assert "11 seen: 11 loaded (0 edited), 0 skipped, 0 failed" in text
    assert "+92 / -0 nodes, +131 / -0 relationships" in text and "16.4 (read 0.1, extract 2.6)" in text
    column = lines[0].index("bolt://")  # every value starts in the same column
    assert all(line[column - 2 : column] == "  " and line[column] != " " for line in lines)


def test_next_block_names_browser_queries_the_run_folder_and_how_to_stop() -> None:
    text = "\n".join(table_lines(next_rows(result("runs/r1", "http://127.0.0.1:7474/browser/?x"))))
    for expected in ("http://127.0.0.1:7474/browser/?x", "nrskg query --list",
                     "nrskg query --cookbook drugs-for-disease -p name=糖尿病肾病", "nrskg view 糖尿病肾病",
                     "runs/r1", "nrskg neo4j stop"):  # fmt: skip
        assert expected in text, expected
    again = "\n".join(table_lines(next_rows(result(None, None, "Neo4j already runs ... --http-port 7474`"))))
    assert "none this time (nothing new to load)" in again and "--http-port 7474" in again


def test_next_block_says_where_browser_finds_its_password_when_auth_is_on() -> None:
    login = "user neo4j; its password: `cat /home/u/.local/share/nrskg/neo4j/nrskg-neo4j.password`"
    on = dataclasses.replace(result("runs/r1", "http://127.0.0.1:7474/browser/?x"), browser_login=login)
    lines = table_lines(next_rows(on))
    browser = next(i for i, line in enumerate(lines) if "/browser/" in line)
    assert "nrskg-neo4j.password" in lines[browser + 1]  # right under the URL it is for
    assert "password" not in "\n".join(table_lines(next_rows(result("runs/r1", "http://x/browser/"))))


def test_answers_print_confidences_to_three_places() -> None:
    from graph.read import format_table

    table = format_table(
        ReadResult(["drug", "confidence"], [{"drug": "ACEI", "confidence": 0.9999938011169434}], False)
    )
    assert "1.000" in table and "0.9999938" not in table
