"""Run folders: Parquet round trips, atomic writes, run ids, and the counts a summary gives of them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from extractor.splitting import WindowConfig
from nrskg.contracts import TRIPLE_COLUMNS
from nrskg.errors import PipelineError
from pipeline.dedup import deduplicate
from pipeline.reading import read_corpus
from pipeline.runs import (
    create_run,
    new_run_id,
    read_summary,
    run_folders,
    write_summary,
    write_table,
)
from pipeline.sentences import split_corpus
from pipeline.summary import IngestSummary, count


@pytest.fixture
def tables(tmp_path: Path) -> dict[str, pd.DataFrame]:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text(
        "ＨｂＡ１ｃ升高\n提示血糖控制差。二甲双胍可降低血糖。", encoding="utf-8"
    )
    (tmp_path / "corpus" / "b.bin.txt").write_bytes(b"\x00\x01")
    documents, manifest = read_corpus(tmp_path / "corpus")
    sentences = split_corpus(documents, WindowConfig(200, 150))
    sent = sentences["sent_id"].iloc[1]
    triples = pd.DataFrame(
        [(sent, "二甲双胍", "Drug", 0, 4, "Drug_Disease", "血糖", "Test", 7, 9, 0.9, "v1")],
        columns=TRIPLE_COLUMNS,
    )
    entities, relations = deduplicate(triples)
    return dict(
        manifest=manifest, sentences=sentences, triples=triples, entities=entities, relations=relations
    )


def test_every_table_round_trips(tmp_path: Path, tables: dict[str, pd.DataFrame]) -> None:
    run_dir = create_run(tmp_path / "runs")
    for name, frame in tables.items():
        back = pq.read_table(write_table(run_dir, name, frame)).to_pylist()
        assert back == frame.astype(object).where(frame.notna(), None).to_dict("records"), name
    assert tables["sentences"]["orig_map"].iloc[0] is not None  # "ＨｂＡ１ｃ升高\n提示" maps non-contiguously


def test_tables_and_summary_are_written_whole(tmp_path: Path, tables: dict[str, pd.DataFrame]) -> None:
    run_dir = create_run(tmp_path, "run-1")
    with pytest.raises(PipelineError, match="has not finished"):
        read_summary(run_dir)
    for name, frame in tables.items():
        write_table(run_dir, name, frame)
    write_summary(run_dir, {"documents": {"new": 1, "failed": 1}, "note": "血糖"})
    assert read_summary(run_dir) == {"documents": {"new": 1, "failed": 1}, "note": "血糖"}
    assert {p.name for p in run_dir.iterdir()} == {f"{n}.parquet" for n in tables} | {"summary.json"}
    assert not list(run_dir.glob(".*.tmp"))


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    run_dir = create_run(tmp_path, "run-1")
    unstorable = pd.DataFrame({"x": [object()]})
    with pytest.raises(PipelineError, match="manifest.parquet"):
        write_table(run_dir, "manifest", unstorable)
    assert list(run_dir.iterdir()) == []


def test_run_ids_sort_by_time_and_folders_are_not_reused(tmp_path: Path) -> None:
    early = new_run_id(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    late = new_run_id(datetime(2026, 11, 2, 3, 4, 5, tzinfo=UTC))
    assert early.startswith("20260102T030405.000000Z-") and early < late
    same_second = [new_run_id(datetime(2026, 1, 2, 3, 4, 5, us, tzinfo=UTC)) for us in (999, 1000, 999_999)]
    assert same_second == sorted(same_second)  # runs of one second sort in the order they started
    create_run(tmp_path, early)
    create_run(tmp_path, late)
    assert run_folders(tmp_path) == [tmp_path / late, tmp_path / early]
    assert run_folders(tmp_path / "nothing") == []
    with pytest.raises(PipelineError, match="already exists"):
        create_run(tmp_path, early)


def test_a_summary_counts_documents_by_status_and_the_rows_of_each_table(
    tables: dict[str, pd.DataFrame],
) -> None:
    summary = IngestSummary(run_dir=None, model_version="v1", min_confidence=0.5)
    count(summary, tables["manifest"], tables)
    assert (summary.documents_seen, summary.documents_new, summary.documents_failed) == (2, 0, 1)
    assert (summary.sentences, summary.triples, summary.entities, summary.relations) == (
        len(tables["sentences"]), 1, 2, 1
    )  # fmt: skip
