"""Sentence splitting, windows and offsets that slice back to both texts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.normalise import normalise
from pipeline.reading import Document, content_hash_of, doc_id_of
from pipeline.sentences import (
    SENTENCE_COLUMNS,
    sentence_bounds,
    sentence_to_original,
    split_corpus,
    split_sentences,
    windows,
)
from pipeline.settings import SentenceSettings


def _doc(original: str) -> Document:
    norm = normalise(original)
    return Document(doc_id_of("mem"), "mem", content_hash_of(norm.text), norm, "utf-8")


def _split(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_bounds(text)]


def test_chinese_marks_split_and_closing_quotes_stay_with_their_sentence() -> None:
    text = "他说：“血糖高。”医生建议复查！是否需要胰岛素？需要；但要监测……然后呢"
    expected = ["他说：“血糖高。”", "医生建议复查！", "是否需要胰岛素？", "需要；", "但要监测……", "然后呢"]
    assert _split(text) == expected


def test_decimals_abbreviations_and_list_numbers_do_not_split() -> None:
    text = "HbA1c 应<7.0%。Smith et al. reported e.g. metformin. Fig. 2 shows it. 1. Methods are here."
    assert _split(text) == [
        "HbA1c 应<7.0%。",
        "Smith et al. reported e.g. metformin.",
        "Fig. 2 shows it.",
        "1. Methods are here.",
    ]


def test_semicolon_inside_brackets_does_not_split_but_outside_does() -> None:
    text = "常用药物（①阿司匹林；②非甾体抗炎药）有效; 另有副作用"
    assert _split(text) == ["常用药物（①阿司匹林；②非甾体抗炎药）有效;", "另有副作用"]


def test_paragraphs_split_and_punctuation_only_pieces_are_dropped() -> None:
    assert _split("第一段\n\n第二段。\n。\n") == ["第一段", "第二段。"]


def test_long_sentence_is_cut_into_overlapping_windows_at_commas() -> None:
    text = "，".join(f"患者{i:02d}血糖控制良好" for i in range(30)) + "。"
    config = SentenceSettings(max_chars=50, overlap=12, min_window=20)
    spans = windows(text, 0, len(text), config)
    assert len(spans) > 1
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    for (s1, e1), (s2, e2) in zip(spans, spans[1:], strict=False):
        assert e1 - s1 <= 50
        assert s1 < s2 < e1 <= e2  # overlap, progress
        assert text[e1 - 1] == "，"  # cut just after a comma
        assert text[s2 - 1] == "，"  # next window starts a clause


def test_window_without_commas_is_cut_hard_and_still_covers_everything() -> None:
    text = "糖" * 1000
    spans = windows(text, 0, 1000, SentenceSettings(max_chars=100, overlap=20, min_window=50))
    assert all(e - s <= 100 for s, e in spans)
    assert spans[0] == (0, 100) and spans[1][0] == 80
    assert spans[-1][1] == 1000


def test_split_sentences_rows_slice_back_to_normalised_and_original_text() -> None:
    original = "  ＨｂＡ１ｃ是诊断\n标准。二甲双胍\n（首选）。\n\n第二段 insulin\nresistance."
    doc = _doc(original)
    frame = split_sentences(doc)
    assert list(frame.columns) == SENTENCE_COLUMNS
    assert frame["text"].tolist() == ["HbA1c是诊断标准。", "二甲双胍(首选)。", "第二段 insulin resistance."]
    assert frame["sent_id"].tolist() == [f"{doc.doc_id}:{i}" for i in range(3)]
    for row in frame.itertuples():
        assert doc.text[row.start : row.end] == row.text
    first = frame.iloc[0]
    assert original[first["orig_start"] : first["orig_end"]] == "ＨｂＡ１ｃ是诊断\n标准。"
    assert first["orig_map"] is not None  # the joined line break makes the map non-contiguous
    # An entity inside the sentence maps to its original characters.
    start = first["text"].index("标准")
    o_start, o_end = sentence_to_original(first, start, start + 2)
    assert original[o_start:o_end] == "标准"
    second = frame.iloc[1]
    assert original[second["orig_start"] : second["orig_end"]] == "二甲双胍\n（首选）。"


def test_contiguous_sentences_need_no_map() -> None:
    frame = split_sentences(_doc("甲状腺功能。乙肝。"))
    assert frame["orig_map"].isna().all()
    assert sentence_to_original(frame.iloc[1], 0, 2) == (6, 8)
    with pytest.raises(ValueError, match="outside"):
        sentence_to_original(frame.iloc[1], 0, 9)


def test_windows_are_numbered_parts() -> None:
    doc = _doc("短句。" + "，".join(["血糖控制目标个体化"] * 40) + "。")
    frame = split_sentences(doc, SentenceSettings(max_chars=64, overlap=16, min_window=32))
    assert frame["part"].iloc[0] == 0
    assert frame["part"].iloc[1:].tolist() == list(range(1, len(frame)))
    assert frame["index"].tolist() == list(range(len(frame)))


def test_split_corpus_concatenates_and_handles_no_documents() -> None:
    assert split_corpus([]).columns.tolist() == SENTENCE_COLUMNS
    frame = split_corpus([_doc("甲。乙。"), _doc("丙。")])
    assert frame["text"].tolist() == ["甲。", "乙。", "丙。"]


@settings(max_examples=80, deadline=None)
@given(st.text(st.sampled_from(list("糖尿病。，；！？.a 1\n（）")), max_size=120))
def test_every_span_slices_back_and_sentences_do_not_overlap(original: str) -> None:
    doc = _doc(original)
    frame = split_sentences(doc, SentenceSettings(max_chars=16, overlap=4, min_window=8))
    for row in frame.itertuples():
        assert doc.text[row.start : row.end] == row.text
        assert 0 < row.end - row.start <= 16
        assert row.orig_start < row.orig_end <= len(original)
    whole = frame[frame["part"] <= 1]
    assert (whole["start"].iloc[1:].to_numpy() >= whole["end"].iloc[:-1].to_numpy()).all()


def test_ocr_spaced_decimals_do_not_end_sentences() -> None:
    assert _split("两组差异显著(P<0. 001)。血脂 7. 25 mmol/L [3. 5]。") == [
        "两组差异显著(P<0. 001)。",
        "血脂 7. 25 mmol/L [3. 5]。",
    ]


@pytest.mark.parametrize("line", ["糖" * 2_000_000, "血糖控制，" * 400_000, "Fig. " * 200_000])
def test_megabyte_single_lines_split_in_linear_time(line: str) -> None:
    doc = _doc(line)
    frame = split_sentences(doc)
    assert frame["end"].max() == len(doc.text)
    assert (frame["end"] - frame["start"]).max() <= SentenceSettings().max_chars
