"""Inference: offsets into the input, order kept by length bucketing, windows merged, save/load, files."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from extractor.batching import budget_batches, pad_inputs
from extractor.configuration import NRSOneRelConfig
from extractor.datasets import load, relation_schema
from extractor.encoders import TinyEncoderConfig, build_tiny_encoder
from extractor.infer import Extractor, PredictedTriple, extract_file
from extractor.model import NRSOneRelModel, build_model, table_mask
from extractor.splitting import window_spans
from extractor.texts import read_texts
from extractor.tokenization import TextTokenizer
from nrskg.contracts import TRIPLE_COLUMNS
from nrskg.errors import DataFormatError
from pipeline.reading import json_texts

SAMPLE = Path(__file__).resolve().parents[2] / "flows" / "sample" / "annotated.jsonl"


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return [e.text for doc in load(SAMPLE, "jsonl") for e in doc.examples][:24]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, texts) -> Path:
    """A random tiny model whose "-" class is raised until about 0.3% of its cells are non-empty.

    Training one that predicts anything takes a minute on CPU; these tests need triples to map, order, window
    and merge, not right ones. (Unshifted, a random head marks most cells and decodes thousands of triples.)
    The softmax head has a "-" logit to shift; the mark heads decode through the same code after
    `cell_classes` (tests/extractor/test_model.py).
    """
    docs = load(SAMPLE, "jsonl")
    schema = relation_schema(docs)
    tmp = tmp_path_factory.mktemp("infer")
    encoder = build_tiny_encoder(texts, tmp / "encoder", TinyEncoderConfig(hidden=32, layers=1, heads=2))
    config = NRSOneRelConfig(
        encoder="tiny",
        relations=[r.name for r in schema],
        head_types=[r.head_type for r in schema],
        tail_types=[r.tail_type for r in schema],
        d_e=32,
        dropout=0.0,
        loss="softmax",
        model_version="test-version",
    )
    torch.manual_seed(0)
    model, tokenizer = build_model(config, str(encoder))
    tokens = TextTokenizer(tokenizer, "char", config.max_tokens)(texts)
    input_ids, attention_mask = pad_inputs([t.input_ids for t in tokens], tokenizer.pad_token_id)
    background = model.head.relation_matrix.view(config.d_e, config.num_columns, -1)[:, :, 0]
    with torch.no_grad():
        before = model.eval()(input_ids, attention_mask).logits  # (B, L, L, K, C)
        background += 1.0
        per_unit = model(input_ids, attention_mask).logits[..., 0] - before[..., 0]  # "-" gain per unit shift
        # A cell stays non-empty while the shift is below (best other logit - "-" logit) / gain.
        needed = (before[..., 1:].max(dim=-1).values - before[..., 0]) / per_unit.clamp_min(1e-6)
        valid = table_mask(attention_mask)
        cells = (valid[:, :, None] & valid[:, None, :])[..., None].expand_as(needed)
        background -= 1.0 - torch.quantile(needed[cells], 0.997)
    model.save_pretrained(tmp / "model", tokenizer)
    return tmp / "model"


@pytest.fixture(scope="module")
def extractor(model_dir) -> Extractor:
    return Extractor.load(model_dir, device="cpu", batch_size=5)


def plain(triples: list[PredictedTriple]) -> list[tuple]:
    return [(t.head, t.relation, t.tail, round(t.confidence, 5)) for t in triples]


def test_triples_carry_offsets_types_and_confidences(extractor, texts):
    found = extractor.extract(texts)
    assert len(found) == len(texts)
    assert sum(map(len, found)) > 0
    config = extractor.config
    schema = dict(zip(config.relations, zip(config.head_types, config.tail_types, strict=True), strict=True))
    for text, triples in zip(texts, found, strict=True):
        for t in triples:
            assert text[t.head.start : t.head.end] == t.head.text and t.head.text
            assert text[t.tail.start : t.tail.end] == t.tail.text and t.tail.text
            assert (t.head.type, t.tail.type) == schema[t.relation]
            assert 0.0 < t.confidence <= 1.0


def test_length_bucketing_keeps_the_input_order(extractor, texts):
    forward = extractor.extract(texts)
    backward = extractor.extract(texts[::-1])
    assert [plain(t) for t in backward[::-1]] == [plain(t) for t in forward]
    extractor.batch_size = 1
    try:
        one_by_one = extractor.extract(texts[:6])
    finally:
        extractor.batch_size = 5
    assert [plain(t) for t in one_by_one] == [plain(t) for t in forward[:6]]


def test_row_blocks_give_the_same_triples(model_dir, extractor, texts):
    blocked = Extractor.load(model_dir, device="cpu", batch_size=5, row_block=4)
    assert [plain(t) for t in blocked.extract(texts)] == [plain(t) for t in extractor.extract(texts)]


def test_decoding_keeps_only_the_most_confident_cells_of_a_window(model_dir, texts, caplog):
    uncapped = Extractor.load(model_dir, device="cpu", batch_size=5)
    uncapped.config.max_cells_per_window = 10**9
    capped = Extractor.load(model_dir, device="cpu", batch_size=5)
    capped.config.max_cells_per_window = 3  # a triple needs up to 3 cells: at most 3 triples per window
    with caplog.at_level("WARNING", logger="extractor.infer"):
        found = capped.extract(texts)
    assert capped.capped_windows > 0 and "kept the most confident" in caplog.text
    assert all(len(triples) <= 3 for triples in found)  # each sample text is one window
    assert sum(map(len, found)) < sum(map(len, uncapped.extract(texts))) and uncapped.capped_windows == 0


def test_save_then_load_gives_identical_predictions(model_dir, extractor, texts, tmp_path):
    model, tokenizer = NRSOneRelModel.from_pretrained(model_dir)
    model.save_pretrained(tmp_path / "copy", tokenizer)
    again = Extractor.load(tmp_path / "copy", device="cpu", batch_size=5)
    assert again.model_version == extractor.model_version
    assert [plain(t) for t in again.extract(texts)] == [plain(t) for t in extractor.extract(texts)]


def test_long_texts_are_windowed_and_merged_back(model_dir, texts):
    extractor = Extractor.load(model_dir, device="cpu")
    extractor.config = dataclasses.replace(extractor.config, window_chars=60, window_stride=30)
    long_text = "".join(texts[:8])
    windows = window_spans(long_text, 60, 30)
    assert len(windows) > 2
    # Expected: each window extracted on its own, shifted into the long text, best confidence per triple.
    expected: dict[tuple, float] = {}
    for (start, _), triples in zip(
        windows, extractor.extract([long_text[s:e] for s, e in windows]), strict=True
    ):
        for t in triples:
            key = (
                t.head.start + start,
                t.head.end + start,
                t.relation,
                t.tail.start + start,
                t.tail.end + start,
            )
            expected[key] = max(expected.get(key, 0.0), t.confidence)
    [merged] = extractor.extract([long_text])
    got = {(t.head.start, t.head.end, t.relation, t.tail.start, t.tail.end): t.confidence for t in merged}
    assert got.keys() == expected.keys()
    assert got == pytest.approx(expected, rel=1e-4)
    assert any(t.head.start >= 60 for t in merged)  # triples beyond the first window are found
    for t in merged:
        assert long_text[t.head.start : t.head.end] == t.head.text


def test_extract_file_writes_jsonl_and_parquet_rows(model_dir, texts, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(
        "\n".join(
            json.dumps({"id": f"s{n}", "text": t}, ensure_ascii=False) for n, t in enumerate(texts[:5])
        ),
        encoding="utf-8",
    )
    frame = extract_file(model_dir, source, tmp_path / "out.parquet", "cpu", json_texts=json_texts)
    assert list(frame.columns) == TRIPLE_COLUMNS
    assert len(frame) > 0 and set(frame["sent_id"]) <= {f"{source.resolve()}#id=s{n}" for n in range(5)}
    assert pd.read_parquet(tmp_path / "out.parquet").equals(frame)
    assert set(frame["model_version"]) == {"test-version"}

    plain_text = tmp_path / "in.txt"
    lines = [f"\u3000\u3000{t}" for t in texts[:5]]  # Chinese paragraphs are indented: offsets count it
    plain_text.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    rows = extract_file(model_dir, plain_text, tmp_path / "out.jsonl", device="cpu")
    written = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(written) == len(rows) > 0
    assert {r["sent_id"] for r in written} <= {f"{plain_text.resolve()}#L{n}" for n in range(1, 6)}
    for row in written:
        text = lines[int(row["sent_id"].rpartition("#L")[2]) - 1]
        assert text[row["head_start"] : row["head_end"]] == row["head"]
        assert text[row["tail_start"] : row["tail_end"]] == row["tail"]


def test_bad_input_files_name_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('\n{"title": 2}\n', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"bad.jsonl#L2: no string field 'text'"):
        read_texts(bad, json_texts=json_texts)
    with pytest.raises(DataFormatError, match="must end in .jsonl or .parquet"):
        extract_file(tmp_path, bad, tmp_path / "out.csv")
    words = tmp_path / "words.jsonl"
    words.write_text('{"words": ["糖尿", "病"]}\n', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"words.jsonl#L1: no string field 'text' \(fields: words\)"):
        extract_file(tmp_path, words, tmp_path / "out.jsonl", json_texts=json_texts)


def test_min_confidence_keeps_the_triples_at_or_above_it_and_defaults_to_the_models(model_dir, texts):
    extractor = Extractor.load(model_dir, device="cpu", batch_size=5)
    every = [t for per_text in extractor.extract(texts) for t in per_text]
    middle = sorted(t.confidence for t in every)[len(every) // 2]
    kept = [t for per_text in extractor.extract(texts, min_confidence=middle) for t in per_text]
    assert kept == [t for t in every if t.confidence >= middle] and 0 < len(kept) < len(every)
    extractor.config.min_confidence = middle  # what training calibrates; extraction uses it by default
    assert [t for per_text in extractor.extract(texts) for t in per_text] == kept


def test_batches_filled_to_the_device_budget_give_the_same_triples(model_dir, extractor, texts):
    auto = Extractor.load(model_dir, device="cpu")  # batch size 0: the CPU's budget of token pairs
    lengths = [len(t) + 2 for t in texts]
    assert auto.batches(lengths) == budget_batches(lengths, auto.budget())
    assert auto.budget().max_pairs == auto.batching.cpu_pairs
    assert [plain(t) for t in auto.extract(texts)] == [plain(t) for t in extractor.extract(texts)]


def test_an_output_that_cannot_be_written_fails_before_the_model_runs(tmp_path):
    """`tmp_path` is no model: the output's error comes first, not after the extraction."""
    source = tmp_path / "in.txt"
    source.write_text("二甲双胍\n", encoding="utf-8")
    (tmp_path / "taken.jsonl").mkdir()
    with pytest.raises(DataFormatError, match=r"--out .*taken.jsonl: cannot write the triples \(a folder\)"):
        extract_file(tmp_path, source, tmp_path / "taken.jsonl")
    with pytest.raises(DataFormatError, match=r"in.txt/out.parquet: cannot write the triples"):
        extract_file(tmp_path, source, source / "out.parquet")


def test_no_triples_still_write_typed_columns(model_dir, texts, tmp_path):
    """A parquet with no rows has the columns' types, so a folder of outputs reads as one table."""
    (tmp_path / "empty.txt").write_text("\n", encoding="utf-8")
    (tmp_path / "full.txt").write_text("\n".join(texts[:5]), encoding="utf-8")
    extract_file(model_dir, tmp_path / "empty.txt", tmp_path / "out" / "empty.parquet", device="cpu")
    full = extract_file(model_dir, tmp_path / "full.txt", tmp_path / "out" / "full.parquet", device="cpu")
    assert len(pd.read_parquet(tmp_path / "out")) == len(full) > 0
