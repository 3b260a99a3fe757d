"""`nrskg train`, `evaluate` and `extract` end to end through the CLI (a few steps, tiny encoder)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from flows.cli import app
from pipeline.reading import read_corpus
from tests.conftest import untrained_model

SAMPLE = Path(__file__).resolve().parents[2] / "flows" / "sample" / "annotated.jsonl"
runner = CliRunner()


def sample_data(tmp_path: Path) -> Path:
    """The first 16 sentences of the project's annotated sample, as a data file."""
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(SAMPLE.read_text(encoding="utf-8").splitlines()[:16]) + "\n", encoding="utf-8")
    return data


def train_tiny(data: Path, model: Path, *options: str) -> str:
    """`nrskg train` a tiny model on `data` in a few steps, none held out; its output."""
    trained = runner.invoke(
        app,
        ["train", "--data", str(data), "--format", "jsonl", "--encoder", "tiny", "--out", str(model),
         "--val-fraction", "0", "--device", "cpu", *options],
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    return trained.output


def evaluate_json(model: Path, data: Path) -> dict:
    """`nrskg evaluate --json`'s report."""
    args = ["evaluate", "--model", str(model), "--data", str(data), "--format", "jsonl", "--json"]
    scored = runner.invoke(app, [*args, "--device", "cpu"])
    assert scored.exit_code == 0, scored.output
    return json.loads(scored.output[scored.output.index("{") :])


def test_train_evaluate_extract(tmp_path):
    data = sample_data(tmp_path)
    model = tmp_path / "model"
    trained = train_tiny(data, model, "--ns", "4", "--epochs", "1", "--max-steps", "2")
    assert "2 steps" in trained and (model / "model.safetensors").is_file()
    assert json.loads((model / "config.json").read_text(encoding="utf-8"))["train"]["ns"] == 4

    report = evaluate_json(model, data)
    assert report["sentences"] == 16 and report["micro"]["gold"] > 0
    operating = report["operating_points"]  # at the threshold extract uses, and where P reaches 0.9 here
    saved = json.loads((model / "config.json").read_text(encoding="utf-8"))
    assert operating["target"] == saved["train"]["target_precision"] == 0.9
    assert operating["model"]["min_confidence"] == saved["min_confidence"]
    edges = operating["edges"]  # the same triples, each once over the 16 sentences
    assert edges["gold"] <= report["micro"]["gold"] and edges["predicted"] <= operating["model"]["predicted"]
    assert 0.0 <= edges["precision"] <= 1.0

    texts = tmp_path / "texts.txt"
    texts.write_text("二甲双胍可用于治疗2型糖尿病。\n胰岛素是1型糖尿病的基础治疗药物。\n", encoding="utf-8")
    out = tmp_path / "triples.jsonl"
    extracted = runner.invoke(
        app, ["extract", "--model", str(model), "--input", str(texts), "--out", str(out), "--device", "cpu"]
    )
    assert extracted.exit_code == 0, extracted.output
    assert out.is_file() and str(out) in extracted.output

    corpus = tmp_path / "corpus"  # what ingest reads, extract reads: a GB18030 .txt and a .md
    corpus.mkdir()
    (corpus / "gb.txt").write_bytes("二甲双胍可用于治疗2型糖尿病。\n".encode("gb18030"))
    (corpus / "notes.md").write_text("# 用药\n胰岛素是1型糖尿病的基础治疗药物。\n", encoding="utf-8")
    from_corpus = runner.invoke(
        app, ["extract", "--model", str(model), "--input", str(corpus), "--out", str(out), "--device", "cpu"]
    )
    assert from_corpus.exit_code == 0, from_corpus.output
    assert out.is_file() and str(out) in from_corpus.output


def test_errors_become_one_line_and_exit_code_1(tmp_path):
    result = runner.invoke(
        app, ["evaluate", "--model", str(tmp_path), "--data", str(SAMPLE), "--format", "jsonl"]
    )
    assert result.exit_code == 1
    assert "not a model directory" in result.output


def test_evaluate_reads_the_data_with_the_relation_names_the_model_was_trained_on(tmp_path):
    """A model trained with `--relation-aliases Drug_Disease=Treats` predicts Treats: scored on the same data,
    the gold must say Treats too, not count every such triple as missed and every prediction as wrong."""
    data, model = sample_data(tmp_path), tmp_path / "model"
    train_tiny(data, model, "--relation-aliases", "Drug_Disease=Treats", "--max-steps", "1")
    report = evaluate_json(model, data)
    gold = {row["name"]: row["gold"] for row in report["relations"] if row["gold"]}
    assert "Drug_Disease" not in gold and gold["Treats"] > 0


def test_evaluate_refuses_data_whose_relation_types_the_model_never_predicts(tmp_path):
    """Scored on another schema every figure is 0, which would read as a useless model: say what differs."""
    data, model = sample_data(tmp_path), tmp_path / "model"
    train_tiny(data, model, "--max-steps", "1")
    records = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
    for record in records:
        for triple in record["triples"]:
            triple["relation"] = "Other_" + triple["relation"]
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    scored = runner.invoke(
        app, ["evaluate", "--model", str(model), "--data", str(other), "--format", "jsonl"]
    )
    assert scored.exit_code == 1
    assert "none of its relation types (Other_" in scored.output and "the model predicts (" in scored.output


def test_evaluate_names_the_sentences_the_model_was_trained_on_and_can_leave_them_out(tmp_path):
    """Scores on training sentences overstate quality on new text: say how many there are, and score only
    the others with --unseen."""
    data, model = sample_data(tmp_path), tmp_path / "model"
    train_tiny(data, model, "--max-steps", "1")  # on all 16 sentences
    grown = tmp_path / "grown.jsonl"
    grown.write_text("\n".join(SAMPLE.read_text(encoding="utf-8").splitlines()[:20]) + "\n", encoding="utf-8")
    args = ["evaluate", "--model", str(model), "--data", str(grown), "--format", "jsonl", "--device", "cpu"]
    scored = runner.invoke(app, args)
    assert scored.exit_code == 0, scored.output
    assert "the model was trained on 16 of its 20 sentences" in scored.stderr
    unseen = runner.invoke(app, [*args, "--unseen", "--json"])
    assert unseen.exit_code == 0, unseen.output
    report = json.loads(unseen.stdout)
    assert (report["sentences"], report["seen_in_training"]) == (4, 16)
    only_seen = runner.invoke(app, [*args[:4], str(data), *args[5:], "--unseen"])
    assert only_seen.exit_code == 1 and only_seen.stderr.splitlines() == [
        f"error: {data}: the model was trained on all 16 of its sentences. Score it on documents kept out of "
        "its training, or drop --unseen to score these"
    ]


def test_extract_reads_a_folder_as_ingest_does_and_names_each_file_it_does_not_read(tmp_path):
    """A binary file among the texts stopped the whole extraction with one error; ingest skips it and goes on.
    Hidden files are no inputs; a file of another suffix and one that is not text are named, not dropped. A
    .json document is read as ingest reads it (it was not read), a link to a file once (it was read twice)."""
    model = untrained_model(tmp_path)  # random weights: at confidence 0 every text gives triples
    corpus = tmp_path / "corpus"
    (corpus / ".ipynb_checkpoints").mkdir(parents=True)
    (corpus / "a.txt").write_text("糖尿病患者服用二甲双胍\n", encoding="utf-8")
    (corpus / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (corpus / "table.csv").write_text("a,b\n", encoding="utf-8")
    (corpus / ".ipynb_checkpoints" / "a-checkpoint.txt").write_text("二甲双胍\n", encoding="utf-8")
    (corpus / "latest.txt").symlink_to("a.txt")
    paper = [{"text": "胰岛素治疗2型糖尿病"}, {"text": "二甲双胍降低血糖"}]
    (corpus / "paper.json").write_text(json.dumps(paper, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "triples.jsonl"
    args = ["extract", "--model", str(model), "--input", str(corpus), "--out", str(out), "--device", "cpu"]
    extracted = runner.invoke(app, [*args, "--min-confidence", "0"])
    assert extracted.exit_code == 0, extracted.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    paper = (corpus / "paper.json").resolve()
    assert rows and {row["sent_id"] for row in rows} == {
        f"{(corpus / 'a.txt').resolve()}#L1", f"{paper}#[0]", f"{paper}#[1]"
    }  # fmt: skip
    assert f"{corpus / 'image.txt'}: NUL byte at offset 8: binary, not text" in extracted.stderr
    assert (
        "1 files not read, their suffix is not one of .txt, .md, .jsonl, .json: table.csv" in extracted.stderr
    )
    assert f"latest.txt (same file as {(corpus / 'a.txt').resolve()})" in extracted.stderr
    assert "checkpoint" not in extracted.output


def test_extract_from_a_folder_with_nothing_readable_completes_with_a_warning_as_ingest_does(tmp_path):
    """An empty incoming folder is no error for ingest (exit code 0, a warning); extract says the same."""
    model = untrained_model(tmp_path)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    out = tmp_path / "triples.jsonl"
    args = ["extract", "--model", str(model), "--input", str(corpus), "--out", str(out), "--device", "cpu"]
    extracted = runner.invoke(app, args)
    assert extracted.exit_code == 0, extracted.output
    assert f"nothing to read in {corpus}: 0 files of other suffixes, 1 files failed" in extracted.stderr
    assert not out.read_text(encoding="utf-8").strip()
    assert f"{out}: 0 triples from 0 texts" in extracted.stdout


def test_extract_names_json_lines_as_ingest_names_their_documents(tmp_path):
    """A preview's rows are matched to the graph by their ids: extract named line 3 `3` (`file:3` in a
    folder) where ingest's source is `/abs/file#L3`, and failed the whole file at a bad line ingest leaves out
    alone."""
    model = untrained_model(tmp_path)  # random weights: at confidence 0 every text gives triples
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    text = "糖尿病患者服用二甲双胍"  # one that gives triples, on every line
    records = [{"id": "p7", "text": text}, {"text": text}, {"id": None, "text": text}]
    lines = [json.dumps(records[0]), "{not json", *(json.dumps(r) for r in records[1:])]
    (corpus / "papers.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ingested = {document.source for document in read_corpus(corpus).documents}
    for given in (corpus, corpus / "papers.jsonl"):
        out = tmp_path / "triples.jsonl"
        args = ["extract", "--model", str(model), "--input", str(given), "--out", str(out), "--device", "cpu"]
        extracted = runner.invoke(app, [*args, "--min-confidence", "0"])
        assert extracted.exit_code == 0, extracted.output
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert {row["sent_id"] for row in rows} == ingested
        assert f"{(corpus / 'papers.jsonl').resolve()}#L2: column 2: invalid JSON" in extracted.stderr
