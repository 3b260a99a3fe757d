"""The Prefect flows end to end, in a Prefect test harness, against the real local Neo4j.

Models are real tiny-encoder models trained briefly on parts of the project's sample; two models trained on
different parts extract different triples, which is what re-extraction has to reconcile.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from prefect import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.logging.handlers import APILogHandler
from prefect.testing.utilities import prefect_test_harness
from typer.testing import CliRunner

from extractor import registry as model_registry
from extractor.configuration import TINY_TRAIN, defaults_for, with_settings
from extractor.encoders import TINY
from extractor.model import CONFIG_NAME
from extractor.train import TrainResult, split_as_trained, train
from flows import tasks, training
from flows.cli import app
from flows.ingest import ingest, with_dask
from flows.reextract import reextract
from flows.training import train_flow
from nrskg.errors import PipelineError
from pipeline import runs
from pipeline.versions import EDITED
from tests.conftest import checkpoint, untrained_model

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]

SAMPLE = Path(__file__).resolve().parents[2] / "flows" / "sample"
# About 200 steps overfit one pseudo-document (11-12 sentences) to train F1 ~0.97; evaluate only at the end.
QUICK = dataclasses.replace(
    TINY_TRAIN, max_steps=200, eval_every=200, epochs=1000, val_fraction=0.0, device="cpu", batch_size=4
)


@pytest.fixture(scope="module", autouse=True)
def harness():
    with prefect_test_harness():
        yield


def _sample_lines(doc_ids: set[str]) -> list[str]:
    lines = (SAMPLE / "annotated.jsonl").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if json.loads(line)["doc_id"] in doc_ids]


def _write_corpus(folder: Path, lines: list[str]) -> Path:
    """One .txt document per pseudo-document of the sample, its sentences one after another."""
    folder.mkdir(parents=True, exist_ok=True)
    docs: dict[str, list[str]] = {}
    for line in lines:
        record = json.loads(line)
        docs.setdefault(record["doc_id"], []).append(record["text"])
    for doc_id, texts in docs.items():
        (folder / f"{doc_id}.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two model versions trained on different sample documents, a registry, and a corpus of both parts."""
    root = tmp_path_factory.mktemp("flows")
    part_a, part_b = _sample_lines({"sample-01"}), _sample_lines({"sample-03"})
    corpus = _write_corpus(root / "corpus", part_a + part_b)
    paths = {"root": root, "registry": root / "models", "corpus": corpus}
    for name, lines, seed in (("a", part_a, 1), ("b", part_b, 2)):
        data = root / f"train-{name}.jsonl"
        data.write_text("\n".join(lines) + "\n", encoding="utf-8")
        result = train(data, "jsonl", "tiny", root / f"model-{name}", dataclasses.replace(QUICK, seed=seed))
        model_registry.register(paths["registry"], result.out_dir)
        paths[f"model_{name}"] = result.out_dir
        paths[f"version_{name}"] = result.model_version
    return paths


def run_logs(state) -> list[str]:
    """The messages a flow run's logs hold in the Prefect API (what its UI shows)."""
    APILogHandler().flush()  # sends what the background worker still holds
    flow_run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200)
    return [log.message for log in logs]


def _snapshot(driver) -> dict[str, object]:
    """Everything re-extraction may change: relationships with their evidence, entities, document versions."""
    rels, _, _ = driver.execute_query(
        "MATCH (h:Entity)-[r]->(t:Entity) WHERE r.evidence IS NOT NULL "
        "RETURN h.key AS h, r.relation AS rel, t.key AS t, r.evidence AS ev, r.model_version AS mv"
    )
    ents, _, _ = driver.execute_query("MATCH (e:Entity) RETURN e.key AS key")
    docs, _, _ = driver.execute_query("MATCH (d:Document) RETURN d.doc_id AS id, d.model_version AS mv")
    return {
        "relations": sorted((r["h"], r["rel"], r["t"], tuple(sorted(r["ev"])), r["mv"]) for r in rels),
        "entities": sorted(r["key"] for r in ents),
        "documents": sorted((r["id"], r["mv"]) for r in docs),
    }


def test_ingest_cuts_long_sentences_into_the_models_windows(workspace, clean_graph, neo4j_settings, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(workspace["model_a"], model)
    config = json.loads((model / CONFIG_NAME).read_text(encoding="utf-8"))
    (model / CONFIG_NAME).write_text(json.dumps({**config, "window_chars": 16, "window_stride": 12}), "utf-8")
    summary = ingest(str(workspace["corpus"]), model=str(model), runs_root=str(tmp_path / "runs"),
                     neo4j=neo4j_settings, device="cpu")  # fmt: skip
    sentences = pd.read_parquet(f"{summary.run_dir}/sentences.parquet")
    assert (sentences["end"] - sentences["start"]).max() <= 16 and sentences["part"].max() > 1


def test_two_dask_workers_load_the_same_graph_as_a_sequential_run(
    workspace, clean_graph, neo4j_settings, tmp_path
):
    """Chunks extracted as task runs on a local Dask cluster, loaded in order: the graph is the same."""
    model_registry.promote(workspace["registry"], workspace["version_a"])
    common = {"registry": str(workspace["registry"]), "neo4j": neo4j_settings, "device": "cpu",
              "chunk_documents": 1}  # fmt: skip
    sequential = ingest(str(workspace["corpus"]), runs_root=str(tmp_path / "one"), **common)
    expected = _snapshot(clean_graph)
    clean_graph.execute_query("MATCH (n) DETACH DELETE n", database_=neo4j_settings.database)

    parallel = with_dask(2)(str(workspace["corpus"]), runs_root=str(tmp_path / "two"), workers=2, **common)
    assert parallel.documents_new == sequential.documents_new == 2
    assert parallel.triples == sequential.triples > 0
    assert _snapshot(clean_graph) == expected


def test_edited_source_replaces_its_old_version_and_the_run_logs_say_so(
    workspace, clean_graph, neo4j_settings, tmp_path
):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in workspace["corpus"].iterdir():
        (corpus / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    model_registry.promote(workspace["registry"], workspace["version_a"])
    load = {"registry": str(workspace["registry"]), "runs_root": str(tmp_path / "runs"),
            "neo4j": neo4j_settings, "device": "cpu"}  # fmt: skip
    first = ingest(str(corpus), **load)
    edited, untouched = sorted(corpus.iterdir())
    before, _, _ = clean_graph.execute_query(
        "MATCH (d:Document {source: $source}) RETURN d.loaded_at AS at, d.doc_id AS id", source=str(untouched)
    )
    lines = edited.read_text(encoding="utf-8").splitlines()
    edited.write_text("\n".join(["胰岛素可用于2型糖尿病。", *lines[2:]]) + "\n", encoding="utf-8")

    state = ingest(str(corpus), **load, return_state=True)
    second = state.result()
    manifest = pd.read_parquet(f"{second.run_dir}/manifest.parquet").set_index("source")
    assert manifest.loc[str(edited), ["status", "reason"]].tolist() == ["loaded", EDITED]
    assert manifest.loc[str(untouched), "status"] == "skipped"
    assert (second.documents_new, second.documents_edited, second.documents_skipped) == (1, 1, 1)
    docs, _, _ = clean_graph.execute_query("MATCH (d:Document) RETURN d.source AS source, d.doc_id AS id")
    assert sorted(d["source"] for d in docs) == sorted([str(edited), str(untouched)])  # replaced, not added
    stored, _, _ = clean_graph.execute_query(
        "MATCH (s:Sentence)-[:IN]->(:Document {source: $source}) RETURN s.text AS text ORDER BY s.start",
        source=str(edited),
    )
    sentences = pd.read_parquet(f"{second.run_dir}/sentences.parquet")  # of the edited document only
    assert [r["text"] for r in stored] == sentences["text"].tolist()
    assert "胰岛素可用于2型糖尿病。" in sentences["text"].tolist()
    stale, _, _ = clean_graph.execute_query(
        "MATCH ()-[r]->() UNWIND r.evidence AS item WITH split(item, '|')[0] AS sent_id "
        "WHERE sent_id STARTS WITH $doc + ':' AND NOT sent_id IN $ids RETURN count(*) AS n",
        doc=manifest.loc[str(edited), "doc_id"],
        ids=sentences["sent_id"].tolist(),
    )
    assert stale[0]["n"] == 0  # no evidence points at a sentence of the old text
    after, _, _ = clean_graph.execute_query(
        "MATCH (d:Document {source: $source}) RETURN d.loaded_at AS at, d.doc_id AS id", source=str(untouched)
    )
    assert [r.data() for r in after] == [r.data() for r in before]  # the unchanged one was not rewritten
    assert first.documents_new == 2

    messages = run_logs(state)  # model, counters and every status reach the flow run's logs
    assert any(m.startswith("ingest: model ") and "graph +" in m for m in messages), messages
    assert f"document {edited}: loaded ({EDITED})" in messages
    assert any(m.startswith(f"document {untouched}: skipped (already loaded with model ") for m in messages)
    assert any(m.startswith("replaced 1 documents with model ") for m in messages)  # graph.writer's own line


def test_reextract_after_promotion_equals_a_fresh_load_with_the_new_model(
    workspace, clean_graph, neo4j_settings, tmp_path
):
    registry = str(workspace["registry"])
    model_registry.promote(registry, workspace["version_b"])
    load = {"registry": registry, "runs_root": str(tmp_path), "neo4j": neo4j_settings, "device": "cpu"}
    ingest(str(workspace["corpus"]), **load)
    fresh_b = _snapshot(clean_graph)

    clean_graph.execute_query("MATCH (n) DETACH DELETE n")
    model_registry.promote(registry, workspace["version_a"])
    ingest(str(workspace["corpus"]), **load)
    loaded_a = _snapshot(clean_graph)
    assert loaded_a != fresh_b  # the two models disagree, so re-extraction has work to do

    model_registry.promote(registry, workspace["version_b"])
    summary = reextract(registry=registry, neo4j=neo4j_settings, device="cpu")
    assert summary.documents == 2
    assert _snapshot(clean_graph) == fresh_b

    again = reextract(registry=registry, neo4j=neo4j_settings, device="cpu")  # idempotent: nothing is stale
    assert again.documents == 0 and again.graph["relationships_created"] == 0


def test_sentences_point_into_the_source_file_as_it_was_and_keep_it_through_reextraction(
    workspace, clean_graph, neo4j_settings, tmp_path
):
    """`source_start`/`source_end` slice the file's text where normalisation moved characters (leading
    spaces, full-width letters, a wrapped line), and re-extraction from the graph keeps them."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    original = "  ＨｂＡ１ｃ是2型糖尿病的诊断\n标准。\n\n二甲双胍  可用于2型糖尿病。\n"
    (corpus / "wrapped.txt").write_text(original, encoding="utf-8")
    registry = str(workspace["registry"])
    model_registry.promote(registry, workspace["version_a"])
    ingest(
        str(corpus), registry=registry, runs_root=str(tmp_path / "runs"), neo4j=neo4j_settings, device="cpu"
    )
    query = ("MATCH (s:Sentence)-[:IN]->(:Document) RETURN s.text AS text, s.start AS start, "
             "s.source_start AS source_start, s.source_end AS source_end ORDER BY s.start")  # fmt: skip
    loaded = [r.data() for r in clean_graph.execute_query(query)[0]]
    assert [original[r["source_start"] : r["source_end"]] for r in loaded] == [
        "ＨｂＡ１ｃ是2型糖尿病的诊断\n标准。",
        "二甲双胍  可用于2型糖尿病。",
    ]
    assert [r["text"] for r in loaded] == ["HbA1c是2型糖尿病的诊断标准。", "二甲双胍 可用于2型糖尿病。"]
    assert [r["start"] for r in loaded] != [r["source_start"] for r in loaded]

    model_registry.promote(registry, workspace["version_b"])
    assert reextract(registry=registry, neo4j=neo4j_settings, device="cpu").documents == 1
    assert [r.data() for r in clean_graph.execute_query(query)[0]] == loaded


def test_reextract_takes_a_source_path_or_folder_a_minimum_confidence_and_refuses_a_name_not_in_the_graph(
    clean_graph, neo4j_settings, tmp_path, monkeypatch
):
    model = str(untrained_model(tmp_path / "untrained", version="untrained-1"))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for n, text in enumerate(["二甲双胍降低血糖。", "胰岛素可用于1型糖尿病。", "糖尿病肾病。"], 1):
        (corpus / f"{n}.txt").write_text(text, encoding="utf-8")
    common = {"model": model, "neo4j": neo4j_settings, "device": "cpu"}
    ingest(str(corpus), runs_root=str(tmp_path / "runs"), **common)

    with pytest.raises(
        PipelineError, match=r"not in the graph: nosuch, .*9\.txt\. Name a document by its source"
    ):
        reextract(doc_ids=["nosuch", str(corpus / "9.txt"), str(corpus / "1.txt")], **common)
    monkeypatch.chdir(corpus)
    one = reextract(doc_ids=["1.txt"], min_confidence=0.5, **common)  # a path relative to where it runs
    assert (one.documents, one.min_confidence) == (1, 0.5)
    stored = clean_graph.execute_query(
        "MATCH (d:Document) RETURN d.source AS s, d.min_confidence AS mc"
    ).records
    assert sorted((Path(r["s"]).name, r["mc"]) for r in stored) == [
        ("1.txt", 0.5),
        ("2.txt", 0.0),
        ("3.txt", 0.0),
    ]
    assert reextract(min_confidence=0.5, **common).documents == 2  # the others, filtered at 0 before
    assert reextract(min_confidence=0.5, **common).documents == 0
    assert reextract(doc_ids=["."], min_confidence=0.3, **common).documents == 3  # a folder: all under it


def test_broken_corpus_every_input_gets_a_status_and_good_ones_load(
    workspace, clean_graph, neo4j_settings, tmp_path
):
    corpus = tmp_path / "broken"
    corpus.mkdir()
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02PNG\x00" * 200)
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "gbk.txt").write_bytes("二甲双胍是2型糖尿病的一线治疗药物。".encode("gbk"))
    (corpus / "lines.jsonl").write_text(
        '{"text": "胰岛素可用于1型糖尿病。"}\n{not json\n{"text": "糖尿病肾病需要监测尿白蛋白。"}\n',
        encoding="utf-8",
    )
    (corpus / "long.txt").write_text("糖尿病患者应控制血糖" * 70_000, encoding="utf-8")  # one 2.1 MB line
    model_registry.promote(workspace["registry"], workspace["version_a"])
    summary = ingest(str(corpus), registry=str(workspace["registry"]), runs_root=str(tmp_path / "runs"),
                     neo4j=neo4j_settings, device="cpu")  # fmt: skip
    manifest = pd.read_parquet(f"{summary.run_dir}/manifest.parquet").set_index("source")
    status = {Path(source.split("#")[0]).name + ("#" + source.split("#")[1] if "#" in source else ""): s
              for source, s in manifest["status"].items()}  # fmt: skip
    assert status["binary.txt"].startswith("failed:")
    assert status["empty.txt"].startswith("failed:")
    assert status["lines.jsonl#L2"].startswith("failed:")
    assert status["gbk.txt"] == "loaded" and status["long.txt"] == "loaded"
    assert status["lines.jsonl#L1"] == "loaded" and status["lines.jsonl#L3"] == "loaded"
    assert summary.documents_seen == len(manifest) == 7
    stored, _, _ = clean_graph.execute_query("MATCH (d:Document) RETURN count(d) AS n")
    assert stored[0]["n"] == 4


def test_a_deployment_run_whose_corpus_is_missing_says_so_and_writes_no_run_folder(neo4j_settings, tmp_path):
    """A scheduled run over a share that is not mounted: what to fix, not "run the same command again"."""
    missing, runs_root = tmp_path / "not-mounted", tmp_path / "runs"
    model = untrained_model(tmp_path)
    with pytest.raises(PipelineError) as caught:
        ingest(str(missing), str(model), runs_root=str(runs_root), device="cpu", neo4j=neo4j_settings)
    assert (
        str(caught.value)
        == f"{missing}: no such file or folder. Give a corpus folder or a .txt, .md, .json, .jsonl file"
    )
    assert not runs_root.exists()


def test_train_flow_promotes_the_first_model_and_keeps_a_better_current(workspace, tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text("\n".join(_sample_lines({"sample-01", "sample-02"})) + "\n", encoding="utf-8")
    registry = tmp_path / "models"
    settings = {"max_steps": 20, "batch_size": 4, "device": "cpu", "val_fraction": 0.5}
    state = train_flow(str(data), "jsonl", registry=str(registry), settings=settings, return_state=True)
    first = state.result()
    assert first.comparison.promoted and model_registry.current(registry).version == first.version
    assert first.held_out and any(
        m.startswith(f"model {first.version}: held-out F1 ") and "promoted to current" in m
        for m in run_logs(state)
    )
    assert (registry / first.version / "model.safetensors").is_file()

    # The data grows, so the split moves: sample-02, which the first model trained on, is now held out too,
    # and the two models are compared on sample-01 alone.
    grown = tmp_path / "grown.jsonl"
    grown.write_text("\n".join(_sample_lines({f"sample-0{n}" for n in range(1, 5)})) + "\n", encoding="utf-8")
    again = {**settings, "seed": 7}
    state = train_flow(str(grown), "jsonl", registry=str(registry), settings=again, min_improvement=1.0,
                       return_state=True)  # fmt: skip
    second = state.result()
    compared = second.comparison
    assert (compared.promoted, compared.current and compared.current.version) == (False, first.version)
    assert compared.current_f1 is not None and compared.candidate_f1 is not None
    assert (compared.sentences, compared.left_out) == (
        len(_sample_lines({"sample-01"})),
        len(_sample_lines({"sample-02"})),
    )
    assert any(
        f"on the {compared.sentences} of them {first.version} was not trained on: " in m
        for m in run_logs(state)
    )
    assert model_registry.current(registry).version == first.version
    assert set(model_registry.load(registry).versions) == {first.version, second.version}
    assert isinstance(pd.read_json(registry / "registry.json", typ="series"), pd.Series)


def test_train_flow_compares_on_the_documents_training_held_out_while_the_data_grows(tmp_path, monkeypatch):
    """Annotators keep adding documents while a model trains: the models are compared on the documents the new
    one was validated on, not on a split of the grown data (which can hold out documents it trained on)."""
    data = tmp_path / "train.jsonl"
    data.write_text(
        "\n".join(_sample_lines({"sample-01", "sample-02", "sample-03"})) + "\n", encoding="utf-8"
    )
    root = tmp_path / "models"
    old = untrained_model(tmp_path / "old", version="old")  # records no training sentences: scored on all
    (old / "metrics.json").write_text(json.dumps({"model_version": "old", "selected_on": "validation",
                                                  "best_val_f1": 0.0}), encoding="utf-8")  # fmt: skip
    model_registry.register(root, old)
    model_registry.promote(root, "old")
    settings = {"max_steps": 20, "batch_size": 4, "device": "cpu", "val_fraction": 0.5}
    _, validated = split_as_trained(data, "jsonl", with_settings(defaults_for(TINY), **settings))

    def train_while_annotators_add(*args, **kwargs):
        result = train(*args, **kwargs)
        more = _sample_lines({f"sample-0{n}" for n in range(4, 9)})
        data.write_text(data.read_text(encoding="utf-8") + "\n".join(more) + "\n", encoding="utf-8")
        return result

    monkeypatch.setattr(training, "train", train_while_annotators_add)
    outcome = train_flow(str(data), "jsonl", registry=str(root), settings=settings)
    compared = outcome.comparison
    assert compared.current is not None and compared.current.version == "old"
    assert compared.current_f1 is not None
    assert (compared.sentences, compared.left_out) == (sum(len(d.examples) for d in validated), 0)


def test_two_train_flow_runs_at_once_each_register_their_own_checkpoint(tmp_path, monkeypatch):
    """Two runs into one registry (two scripts, `nrskg demo --retrain` twice): the second starts while the
    first trains, and each registers the checkpoint it wrote, complete and unmixed."""
    root = tmp_path / "models"

    def trained(data, fmt, encoder, out, config, extra):  # as training writes: the best weights, then scores
        version = f"seed-{config.seed}"
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "model.safetensors").write_text(version, encoding="utf-8")
        if config.seed == 1:  # after the first run's best weights, the second run starts and finishes
            assert train_flow(data, fmt, registry=str(root), settings={"seed": 2}).version == "seed-2"
        checkpoint(Path(out), version, {"selected_on": "training sample", "train_f1": 0.9})
        return TrainResult(Path(out), version, 0.9, 0.9, 1, 1.0, 0.0)

    monkeypatch.setattr(training, "train", trained)
    first = train_flow("train.jsonl", "jsonl", registry=str(root), settings={"seed": 1})
    assert first.version == "seed-1"
    versions = model_registry.load(root).versions
    assert set(versions) == {"seed-1", "seed-2"}
    for version, entry in versions.items():
        assert (Path(entry.path) / "model.safetensors").read_text(encoding="utf-8") == version
    assert model_registry.current(root).version == "seed-2"  # the first registered; the other not compared


def test_ctrl_c_during_ingest_prints_interrupted_and_json_says_so(
    workspace, neo4j_settings, tmp_path, monkeypatch
):
    """Ctrl-C (a stage raising KeyboardInterrupt) ends in one word, `interrupted`, recorded in summary.json;
    with --json, stdout holds the stopped run's summary."""

    def interrupted(*_args: object) -> None:
        raise KeyboardInterrupt

    model_registry.promote(workspace["registry"], workspace["version_a"])
    monkeypatch.setattr(tasks, "load", interrupted)
    env = {"NEO4J_URI": neo4j_settings.uri, "NEO4J_PASSWORD": neo4j_settings.password.get_secret_value()}
    args = ["ingest", str(workspace["corpus"]), "--registry", str(workspace["registry"]),
            "--runs-root", str(tmp_path), "--device", "cpu", "--json"]  # fmt: skip
    stopped = CliRunner().invoke(app, args, env=env)
    assert stopped.exit_code == 130 and stopped.stderr.splitlines()[-1] == "interrupted", stopped.output
    printed = json.loads(stopped.stdout)
    assert printed["status"] == printed["error"] == "interrupted" and printed["documents_not_reached"] == 2
    assert runs.read_summary(printed["run_dir"])["status"] == "interrupted"
