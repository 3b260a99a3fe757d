"""Sentence boundaries and the model's windows: every character kept, windows as the model was trained."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from extractor.configuration import NRSOneRelConfig
from extractor.splitting import WindowConfig, sentence_bounds, sentence_windows, window_spans


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


def test_ocr_spaced_decimals_do_not_end_sentences() -> None:
    assert _split("两组差异显著(P<0. 001)。血脂 7. 25 mmol/L [3. 5]。") == [
        "两组差异显著(P<0. 001)。",
        "血脂 7. 25 mmol/L [3. 5]。",
    ]


def test_punctuation_only_pieces_join_a_neighbouring_sentence() -> None:
    assert _split("第一段\n\n第二段。\n。\n") == ["第一段", "第二段。\n。"]
    assert _split("。。\n血糖高。") == ["。。\n血糖高。"]
    assert _split("…… ；") == ["…… ；"]
    hostile = """胰岛素'}) DETACH DELETE n // 可治疗`糖尿病`；"; MATCH (m) DETACH DELETE m; //。"""
    assert _split(hostile) == [hostile[:37], hostile[38:]]  # the stray `;` and the tail ` //。` kept


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from(list("糖尿病a1 .。；;！?…\n，”)（")), max_size=80))
def test_only_whitespace_between_sentences_is_in_none(text: str) -> None:
    bounds = sentence_bounds(text)
    covered = {i for start, end in bounds for i in range(start, end)}
    assert all(text[i].isspace() for i in range(len(text)) if i not in covered)
    for (_, e0), (s1, _) in zip(bounds, bounds[1:], strict=False):
        assert e0 <= s1  # in order, not overlapping
    assert all(not text[s].isspace() and not text[e - 1].isspace() for s, e in bounds)


def test_windows_prefer_sentence_then_clause_boundaries() -> None:
    text = "甲" * 10 + "。" + "乙" * 3 + "，" + "丙" * 20
    spans = window_spans(text, max_chars=16, stride=8)
    assert spans[0] == (0, 15)  # limit 16; the clause end at 15 is within the snap of 16 // 8
    assert spans[1][0] == 8  # no boundary in [6, 8]: hard start
    assert window_spans("短句。", 16, 8) == [(0, 3)]
    assert window_spans("甲" * 12 + "。”" + "乙" * 20, 16, 8)[0] == (0, 14)  # after the closing quote


def test_sentence_windows_are_the_models_windows_of_each_long_sentence() -> None:
    long = "，".join(["血糖控制目标个体化"] * 40) + "。"
    text = "短句。" + long
    window = WindowConfig(64, 48)
    spans = sentence_windows(text, window)
    assert spans[0] == (0, 3, 0)
    expected = [(3 + s, 3 + e) for s, e in window_spans(long, 64, 48)]
    assert [(s, e) for s, e, _ in spans[1:]] == expected
    assert [part for *_, part in spans[1:]] == list(range(1, len(expected) + 1))


def test_window_config_is_the_models() -> None:
    model = NRSOneRelConfig()
    assert WindowConfig.of(model) == WindowConfig(model.window_chars, model.window_stride)
    with pytest.raises(ValueError, match="stride"):
        WindowConfig(10, 11)
