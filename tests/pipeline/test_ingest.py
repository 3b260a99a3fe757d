"""The ingest run as plain code, without Prefect, against the real Neo4j: statuses, summary, resume, stops.

The model is a tiny one that was never trained: what it extracts does not matter here, only what the run
records about each document.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from prefect.exceptions import TerminationSignal

from graph import passwords, process, server
from graph.settings import Neo4jSettings
from nrskg.errors import GraphError, ModelError
from pipeline import runs, stages
from pipeline.ingest import ingest_corpus
from pipeline.stages import Extraction
from pipeline.summary import record_of, summary_rows
from tests.conftest import TEST_MEMORY, untrained_model

pytestmark = [pytest.mark.neo4j]

TEXTS = ["二甲双胍是2型糖尿病的一线治疗药物。", "胰岛素可用于1型糖尿病。", "糖尿病肾病需要监测尿白蛋白。"]


@pytest.fixture(scope="module")
def extraction(tmp_path_factory: pytest.TempPathFactory) -> Extraction:
    model = untrained_model(tmp_path_factory.mktemp("untrained"), version="untrained-1")
    return Extraction(str(model), "untrained-1", device="cpu")


@pytest.fixture
def corpus(tmp_path: Path) -> str:
    (tmp_path / "corpus").mkdir()
    for n, text in enumerate(TEXTS, 1):
        (tmp_path / "corpus" / f"{n}.txt").write_text(text, encoding="utf-8")
    return str(tmp_path / "corpus")


def stop_at_second_load(monkeypatch: pytest.MonkeyPatch, stop: Callable[[], object]) -> None:
    """The load stage calls `stop` as the second chunk starts its write (and raises what it returns, if that
    is an exception)."""
    real_load, loads = stages.load, []

    def load(*args: object) -> object:
        loads.append(args)
        if len(loads) == 2 and isinstance(error := stop(), BaseException):
            raise error
        return real_load(*args)

    monkeypatch.setattr(stages, "load", load)


def manifest(run_dir: str) -> pd.DataFrame:
    return pd.read_parquet(f"{run_dir}/manifest.parquet").sort_values("source")


def test_ctrl_c_is_recorded_as_interrupted_the_next_run_resumes_and_the_one_after_skips_everything(
    extraction, corpus, clean_graph, neo4j_settings, tmp_path, monkeypatch
):
    run = functools.partial(
        ingest_corpus, corpus, extraction, neo4j_settings, runs_root=str(tmp_path / "runs")
    )
    stop_at_second_load(monkeypatch, KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt) as stop:
        run(chunk_documents=1)
    run_dir = record_of(stop.value).summary.run_dir
    written = runs.read_summary(run_dir)
    assert written["status"] == written["error"] == "interrupted" and written["documents_new"] == 1
    assert manifest(run_dir)["status"].tolist() == ["loaded", "not_reached", "not_reached"]

    monkeypatch.undo()
    resumed = run(chunk_documents=1).summary
    assert (resumed.status, resumed.resumes, resumed.documents_skipped, resumed.documents_new) == (
        "completed", run_dir, 1, 2
    )  # fmt: skip
    assert manifest(resumed.run_dir)["status"].tolist() == ["skipped", "loaded", "loaded"]
    stored = clean_graph.execute_query("MATCH (d:Document) RETURN d.model_version AS v").records
    assert [r["v"] for r in stored] == ["untrained-1"] * 3

    again = run().summary  # nothing new: no run folder, nothing written
    assert (again.resumes, again.documents_skipped, again.run_dir) == (None, 3, None)
    assert again.graph["nodes_created"] == 0


def test_a_run_of_another_corpus_does_not_say_it_resumes_the_stopped_one(
    extraction, corpus, clean_graph, neo4j_settings, tmp_path, monkeypatch
):
    """A stopped nightly run of one folder, then a run of another folder into the same runs root: the second
    said `resumes <the stopped run>`, which it does not, and the stopped folder's rerun after it did not say
    it resumed."""
    runs_root = str(tmp_path / "runs")
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("糖尿病足需要定期检查。", encoding="utf-8")
    stop_at_second_load(monkeypatch, KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt) as stop:
        ingest_corpus(corpus, extraction, neo4j_settings, runs_root=runs_root, chunk_documents=1)
    stopped = record_of(stop.value).summary
    assert stopped.corpus == str(Path(corpus).resolve())
    monkeypatch.undo()

    elsewhere = ingest_corpus(str(other), extraction, neo4j_settings, runs_root=runs_root).summary
    assert (elsewhere.resumes, elsewhere.corpus) == (None, str(other.resolve()))
    resumed = ingest_corpus(corpus, extraction, neo4j_settings, runs_root=runs_root).summary
    assert resumed.resumes == stopped.run_dir


def test_a_scheduler_s_sigterm_is_an_interruption_not_a_failure_of_the_documents(
    extraction, corpus, clean_graph, neo4j_settings, tmp_path, monkeypatch
):
    """Prefect turns SIGTERM (a worker cancelling the run, `timeout`, systemd) into `TerminationSignal`: the
    run stopped, its documents did not fail. Recorded as `failed:load` with reason `TerminationSignal`, a
    stopped run looked like 40 broken documents."""
    stop_at_second_load(monkeypatch, lambda: TerminationSignal(signal.SIGTERM))
    with pytest.raises(TerminationSignal) as stop:
        ingest_corpus(corpus, extraction, neo4j_settings, runs_root=str(tmp_path / "runs"), chunk_documents=1)
    written = runs.read_summary(record_of(stop.value).summary.run_dir)
    assert written["status"] == written["error"] == "interrupted" and written["documents_new"] == 1
    assert manifest(written["run_dir"])["status"].tolist() == ["loaded", "not_reached", "not_reached"]


def test_a_copy_added_beside_a_loaded_file_is_skipped_even_when_its_name_sorts_first(
    extraction, corpus, clean_graph, neo4j_settings, tmp_path
):
    run = functools.partial(
        ingest_corpus, corpus, extraction, neo4j_settings, runs_root=str(tmp_path / "runs")
    )
    run()
    loaded = Path(corpus) / "3.txt"
    copy = Path(corpus) / "0_copy.txt"  # sorts before every loaded file
    copy.write_bytes(loaded.read_bytes())

    summary, statuses = run()
    assert statuses.set_index("source").loc[str(copy), ["status", "reason"]].tolist() == [
        "skipped", f"same text as {loaded}"
    ]  # fmt: skip
    assert (summary.documents_new, summary.documents_skipped, summary.run_dir) == (0, 4, None)
    stored = clean_graph.execute_query("MATCH (d:Document) RETURN d.source AS s").records
    assert sorted(r["s"] for r in stored) == [str(Path(corpus) / f"{n}.txt") for n in (1, 2, 3)]


def test_another_minimum_confidence_re_extracts_every_document_and_is_recorded(
    extraction, corpus, clean_graph, neo4j_settings, tmp_path
):
    run = functools.partial(ingest_corpus, corpus, neo4j=neo4j_settings, runs_root=str(tmp_path / "runs"))
    run(extraction)
    strict = dataclasses.replace(extraction, min_confidence=0.9999)
    summary, statuses = run(strict)
    assert (summary.documents_new, summary.documents_skipped, summary.min_confidence) == (3, 0, 0.9999)
    assert set(statuses["reason"]) == {"re-extracted: loaded before at min confidence 0"}
    stored = clean_graph.execute_query("MATCH (d:Document) RETURN d.min_confidence AS mc").records
    assert [r["mc"] for r in stored] == [0.9999] * 3
    again = run(strict).summary
    assert (again.documents_new, again.documents_skipped, again.run_dir) == (0, 3, None)


@pytest.mark.parametrize("names", [[], ["a.csv", "b.docx", "image.png"]], ids=["empty", "other suffixes"])
def test_a_folder_with_nothing_to_read_completes_with_a_warning_and_counts_every_file(
    names, extraction, clean_graph, neo4j_settings, tmp_path
):
    corpus = tmp_path / "incoming"
    corpus.mkdir()
    for name in names:
        (corpus / name).write_bytes(b"x")
    summary, statuses = ingest_corpus(
        str(corpus), extraction, neo4j_settings, runs_root=str(tmp_path / "runs")
    )
    assert statuses["status"].tolist() == ["skipped:unsupported"] * len(names)
    assert (summary.status, summary.documents_unsupported, summary.run_dir) == ("completed", len(names), None)
    found = "3 files of other suffixes, 0 inputs failed" if names else "no files"
    assert summary.warning == (
        f"nothing to read in {corpus}: {found}; documents are read from .txt, .md, .json, .jsonl files"
    )
    assert ("warning", summary.warning) in summary_rows(summary)


def test_a_model_replaced_during_a_run_is_our_error(extraction, monkeypatch) -> None:
    class Loaded:
        model_version = "another"

    monkeypatch.setattr(stages, "_extractor", functools.lru_cache(maxsize=1)(lambda *args: Loaded()))
    sentences = pd.DataFrame({"sent_id": ["d:0"], "text": ["二甲双胍降低血糖。"]})
    with pytest.raises(ModelError, match="holds model another; this run started with untrained-1"):
        stages.extract(sentences, extraction)


@pytest.mark.slow
def test_neo4j_killed_during_a_load_leaves_a_record_and_the_rerun_resumes(
    extraction, corpus, tmp_path, monkeypatch
):
    """A Neo4j of its own is killed (SIGKILL) as chunk 2 of 3 starts its write: the run folder still says that
    chunk 1 is loaded, chunk 2 failed and why, chunk 3 was not reached; after a restart the same call
    resumes, skipping what chunk 1 loaded."""
    data_dir, runs_root = tmp_path / "neo4j", str(tmp_path / "runs")
    info = server.start(data_dir, process.free_port(), memory=TEST_MEMORY)
    try:
        # A dead server fails after a 1 s driver retry instead of 10 s: the test stays short.
        password = passwords.local_password(info.uri, data_dir)
        settings = Neo4jSettings(uri=info.uri, password=password, transaction_retry_s=1.0)
        stop_at_second_load(monkeypatch, lambda: (os.kill(info.pid, signal.SIGKILL), server.stop(data_dir)))
        with pytest.raises(GraphError) as failure:
            ingest_corpus(corpus, extraction, settings, runs_root=runs_root, chunk_documents=1)
        message = str(failure.value)
        assert "ingest stopped in chunk 2 of 3 (1 documents), at stage load: Neo4j does not answer" in message
        assert "run the same command again: the 1 documents already loaded are skipped" in message
        summary = record_of(failure.value).summary
        assert summary.status == "failed" and "does not answer" in runs.read_summary(summary.run_dir)["error"]
        stopped = manifest(summary.run_dir)
        assert stopped["status"].tolist() == ["loaded", "failed:load", "not_reached"]
        assert "does not answer" in stopped["reason"].iloc[1]
        assert len(pd.read_parquet(f"{summary.run_dir}/sentences.parquet")) == 1  # what chunk 1 loaded

        monkeypatch.undo()
        server.start(data_dir, info.port, memory=TEST_MEMORY)
        again = ingest_corpus(corpus, extraction, settings, runs_root=runs_root).summary
        assert (again.status, again.resumes, again.documents_skipped, again.documents_new) == (
            "completed", summary.run_dir, 1, 2
        )  # fmt: skip
    finally:
        server.stop(data_dir)
