"""Normalisation rules and the map back to the original characters."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.normalise import normalise
from pipeline.settings import NormaliseSettings

_ALPHABET = st.sampled_from(
    list("糖尿病患者血糖。，；！？abcXYZ 019.%()\n\r\t")
    + ["\u3000", "\u00a0", "\u200b", "\ufeff"]
    + [chr(c) for c in range(0xFF01, 0xFF5F, 7)]
)


def _related(original: str, normalised: str) -> bool:
    """What normalisation may turn one original character into."""
    if original == normalised:
        return True
    if normalised == " ":
        return original.isspace()
    if normalised == "\n":
        return original == "\r"
    return ord(original) - ord(normalised) == 0xFEE0


@settings(max_examples=300, deadline=None)
@given(st.text(_ALPHABET, max_size=60))
def test_map_is_monotonic_and_points_at_the_source_character(text: str) -> None:
    norm = normalise(text)
    assert len(norm.offsets) == len(norm.text)
    assert np.all(np.diff(norm.offsets) > 0)
    for i, char in enumerate(norm.text):
        assert _related(text[norm.offsets[i]], char), (text, i)


@settings(max_examples=200, deadline=None)
@given(st.text(_ALPHABET, max_size=60))
def test_normalising_twice_changes_nothing(text: str) -> None:
    once = normalise(text).text
    assert normalise(once).text == once


def test_full_width_ascii_becomes_half_width_but_chinese_punctuation_stays() -> None:
    text = normalise("ＨｂＡ１ｃ＜７．０％（空腹），好；是：吗？是！").text
    assert text == "HbA1c<7.0%(空腹)，好；是：吗？是！"


def test_unicode_spaces_collapse_and_zero_width_characters_go() -> None:
    norm = normalise("\ufeff  胰岛素\u3000\u00a0 抵抗\u200b。  ")
    assert norm.text == "胰岛素 抵抗。"
    assert norm.to_original(0, 3) == (3, 6)


def test_ocr_line_breaks_inside_sentences_are_dropped() -> None:
    original = "目前,2型糖尿病已经成为危害公众\n健康的主要疾病。\n这些研究终点的\nHBA1C控制在7.5%左右。"
    norm = normalise(original)
    assert norm.text == "目前,2型糖尿病已经成为危害公众健康的主要疾病。\n这些研究终点的HBA1C控制在7.5%左右。"
    start = norm.text.index("公众健康")
    orig_start, orig_end = norm.to_original(start, start + 4)
    assert original[orig_start:orig_end] == "公众\n健康"


def test_structure_is_kept_paragraphs_lists_headings_and_latin_words() -> None:
    text = "# 二甲双胍\n适应证\n1. 2型糖尿病\n2. 肥胖\n\n\n新段落 insulin\nresistance"
    assert normalise(text).text == "# 二甲双胍\n适应证\n1. 2型糖尿病\n2. 肥胖\n\n新段落 insulin resistance"


def test_joining_can_be_switched_off() -> None:
    assert normalise("危害\n健康", NormaliseSettings(join_ocr_lines=False)).text == "危害\n健康"


def test_crlf_and_lone_cr_are_line_breaks() -> None:
    assert normalise("甲。\r\n乙。\r丙。").text == "甲。\n乙。\n丙。"


def test_to_original_rejects_spans_outside_the_text() -> None:
    norm = normalise("糖尿病")
    assert norm.to_original(3, 3) == (3, 3)
    with pytest.raises(ValueError, match="outside"):
        norm.to_original(2, 5)


def test_two_megabyte_single_line_is_linear() -> None:
    text = ("糖尿病患者ＨｂＡ１ｃ  控制,  " * 200_000)[:2_000_000]
    norm = normalise(text)
    assert len(norm.text) < len(text)
    assert norm.text.startswith("糖尿病患者HbA1c 控制, 糖尿病")
