"""Sentence rows: offsets that slice back to both texts, and no character of a document left out."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from extractor.splitting import WindowConfig
from pipeline.normalise import normalise
from pipeline.reading import Document, content_hash_of, doc_id_of
from pipeline.sentences import SENTENCE_COLUMNS, split_corpus

WINDOW = WindowConfig(200, 150)


def _doc(original: str) -> Document:
    norm = normalise(original)
    return Document(doc_id_of("mem"), "mem", content_hash_of(norm.text), norm, "utf-8")


def test_split_sentences_rows_slice_back_to_normalised_and_original_text() -> None:
    original = "  ＨｂＡ１ｃ是诊断\n标准。二甲双胍\n（首选）。\n\n第二段 insulin\nresistance."
    doc = _doc(original)
    frame = split_corpus([doc], WINDOW)
    assert list(frame.columns) == SENTENCE_COLUMNS
    assert frame["text"].tolist() == ["HbA1c是诊断标准。", "二甲双胍(首选)。", "第二段 insulin resistance."]
    assert frame["sent_id"].tolist() == [f"{doc.doc_id}:{i}" for i in range(3)]
    for row in frame.itertuples():
        assert doc.text[row.start : row.end] == row.text
    first = frame.iloc[0]
    assert original[first["orig_start"] : first["orig_end"]] == "ＨｂＡ１ｃ是诊断\n标准。"
    assert first["orig_map"] is not None  # the joined line break makes the map non-contiguous
    # The map gives each character's place in the original: an entity inside the sentence maps back too.
    assert list(first["orig_map"]) == doc.norm.offsets[first["start"] : first["end"]].tolist()
    start = first["text"].index("标准")
    assert "".join(original[i] for i in first["orig_map"][start : start + 2]) == "标准"
    second = frame.iloc[1]
    assert original[second["orig_start"] : second["orig_end"]] == "二甲双胍\n（首选）。"


def test_contiguous_sentences_need_no_map() -> None:
    frame = split_corpus([_doc("甲状腺功能。乙肝。")], WINDOW)
    assert frame["orig_map"].isna().all()
    assert (frame["orig_start"].tolist(), frame["orig_end"].tolist()) == ([0, 6], [6, 9])


def test_windows_are_numbered_parts() -> None:
    doc = _doc("短句。" + "，".join(["血糖控制目标个体化"] * 40) + "。")
    frame = split_corpus([doc], WindowConfig(64, 48))
    assert frame["part"].iloc[0] == 0
    assert frame["part"].iloc[1:].tolist() == list(range(1, len(frame)))
    assert frame["index"].tolist() == list(range(len(frame)))


def test_split_corpus_concatenates_and_handles_no_documents() -> None:
    assert split_corpus([], WINDOW).columns.tolist() == SENTENCE_COLUMNS
    frame = split_corpus([_doc("甲。乙。"), _doc("丙。")], WINDOW)
    assert frame["text"].tolist() == ["甲。", "乙。", "丙。"]


@settings(max_examples=200, deadline=None)
@given(st.text(st.sampled_from(list("糖尿病。，；;！？.…a 1\n\u3000”)（）'")), max_size=120))
def test_every_character_is_in_a_row_and_rows_slice_back_to_both_texts(original: str) -> None:
    doc = _doc(original)
    frame = split_corpus([doc], WindowConfig(16, 12))
    covered = set()
    for row in frame.itertuples():
        assert doc.text[row.start : row.end] == row.text
        assert 0 < row.end - row.start <= 16
        assert (row.orig_start, row.orig_end) == doc.norm.to_original(row.start, row.end)
        covered.update(range(row.start, row.end))
    assert all(doc.text[i].isspace() for i in range(len(doc.text)) if i not in covered)
    whole = frame[frame["part"] <= 1]
    assert (whole["start"].iloc[1:].to_numpy() >= whole["end"].iloc[:-1].to_numpy()).all()


def test_a_hostile_tail_of_punctuation_is_stored_with_its_sentence() -> None:
    original = """胰岛素'}) DETACH DELETE n // 可治疗`糖尿病`；"; MATCH (m) DETACH DELETE m; //。"""
    frame = split_corpus([_doc(original)], WINDOW)
    assert frame["text"].tolist() == [original[:37], original[38:]]
    assert frame["orig_end"].max() == len(original)


@pytest.mark.parametrize("line", ["糖" * 2_000_000, "血糖控制，" * 400_000, "Fig. " * 200_000])
def test_megabyte_single_lines_split_in_linear_time(line: str) -> None:
    doc = _doc(line)
    frame = split_corpus([doc], WINDOW)
    assert frame["end"].max() == len(doc.text)
    assert (frame["end"] - frame["start"]).max() <= WINDOW.max_chars
