"""`nrskg remove` as a user runs it, against the session's real Neo4j: a renamed file's old document goes with
`--missing`, and a path the graph never read is one error line."""

from __future__ import annotations

import json
from pathlib import Path

import neo4j
import pandas as pd
import pytest

from flows.cli.remove import gone
from graph.documents import DOCUMENT_FIELDS
from tests.conftest import nrskg, untrained_model


def sources(graph: neo4j.Driver) -> list[str]:
    records, _, _ = graph.execute_query("MATCH (d:Document) RETURN d.source AS s ORDER BY s")
    return [r["s"] for r in records]


@pytest.mark.neo4j
@pytest.mark.slow
def test_remove_missing_takes_out_a_renamed_files_old_document_and_only_it(
    tmp_path: Path, cli_env: dict[str, str], clean_graph: neo4j.Driver
) -> None:
    model = untrained_model(tmp_path, version="untrained-1")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("二甲双胍是2型糖尿病的一线用药。", encoding="utf-8")
    (corpus / "b.txt").write_text("胰岛素可引起低血糖。", encoding="utf-8")
    ingest = [
        "ingest",
        str(corpus),
        "--model",
        str(model),
        "--runs",
        str(tmp_path / "runs"),
        "--device",
        "cpu",
    ]
    assert nrskg(ingest, cli_env, tmp_path).returncode == 0
    (corpus / "b.txt").rename(corpus / "c.txt")
    assert nrskg(ingest, cli_env, tmp_path).returncode == 0
    old, renamed = str(corpus / "b.txt"), str(corpus / "c.txt")
    assert sources(clean_graph) == [str(corpus / "a.txt"), old, renamed]  # the old name is still there

    dry = nrskg(["remove", str(corpus), "--missing", "--dry-run", "--json"], cli_env, tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout) == {"would_remove": [old], "graph": {}}
    assert len(sources(clean_graph)) == 3

    done = nrskg(["remove", str(corpus), "--missing"], cli_env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:2] == ["removed 1 documents", f"  {old}"]
    assert sources(clean_graph) == [str(corpus / "a.txt"), renamed]
    orphans, _, _ = clean_graph.execute_query(
        "MATCH (s:Sentence) WHERE NOT (s)-[:IN]->() RETURN count(s) AS n"
    )
    assert orphans[0]["n"] == 0  # the old document's sentences went with it

    unknown = nrskg(["remove", str(tmp_path / "never-ingested")], cli_env, tmp_path)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert unknown.stderr.strip().splitlines()[-1].startswith("error: no document in the graph was read from")
    assert len(sources(clean_graph)) == 2  # nothing else went


def test_nothing_read_from_the_paths_is_nothing_missing(tmp_path: Path) -> None:
    """`remove FOLDER --missing` on a folder the graph holds nothing from (a scheduled clean-up after every
    document went) removes nothing; it failed as an unexpected KeyError."""
    assert gone(pd.DataFrame(columns=DOCUMENT_FIELDS)).columns.tolist() == DOCUMENT_FIELDS
    kept = pd.DataFrame(
        [["a", str(tmp_path), "v1"], ["b", str(tmp_path / "gone.txt"), "v1"]], columns=DOCUMENT_FIELDS
    )
    assert gone(kept)["doc_id"].tolist() == ["b"]


def test_a_record_whose_file_is_there_is_not_missing_whatever_its_id(tmp_path: Path) -> None:
    """A `#` in a record's id or in a file's name: only documents whose file is gone are taken out."""
    (tmp_path / "x.jsonl").write_text('{"id": "PMID#1", "text": "血糖"}\n', encoding="utf-8")
    (tmp_path / "a#b.txt").write_text("血糖", encoding="utf-8")
    sources = [f"{tmp_path}/x.jsonl#id=PMID#1", f"{tmp_path}/a#b.txt", f"{tmp_path}/y.jsonl#id=PMID#1"]
    documents = pd.DataFrame([[s[-12:], s, "v1"] for s in sources], columns=DOCUMENT_FIELDS)
    assert gone(documents)["source"].tolist() == [sources[2]]


def test_a_record_gone_from_its_file_is_missing(tmp_path: Path) -> None:
    """A line deleted from a JSON lines file: its record (by id, or the last `#L` after the lines moved up)
    is gone although the file is there; a file that cannot be read now is not taken for an empty one."""
    records = tmp_path / "r.jsonl"
    records.write_text('{"id": "a", "text": "血糖"}\n{"text": "胰岛素"}\n', encoding="utf-8")
    unreadable = tmp_path / "u.jsonl"
    unreadable.write_bytes(b"\x00\x01")
    emptied = tmp_path / "e.jsonl"  # every record deleted
    emptied.write_text("\n", encoding="utf-8")
    sources = [
        f"{records}#id=a",
        f"{records}#id=b",  # deleted
        f"{records}#L2",
        f"{records}#L3",  # the old last line, after a line above it was deleted
        f"{unreadable}#L1",
        f"{emptied}#id=x",
    ]
    documents = pd.DataFrame([[s[-12:], s, "v1"] for s in sources], columns=DOCUMENT_FIELDS)
    assert gone(documents)["source"].tolist() == [sources[1], sources[3], sources[5]]
