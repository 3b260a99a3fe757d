"""Character spans <-> token spans, on offset lists shaped like those of real HF fast tokenizers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from extractor.alignment import char_offsets, char_span_to_tokens, tokens_to_char_span, trim_offsets

# bert-base-chinese style: one token per CJK character, word pieces for Latin and digits, spaces dropped,
# [CLS]/[SEP] as (0, 0). Text: "HbA1c 7.0%的2型糖尿病"
BERT_TEXT = "HbA1c 7.0%的2型糖尿病"
BERT_OFFSETS = [
    (0, 0),  # [CLS]
    (0, 2),  # hb
    (2, 4),  # ##a1
    (4, 5),  # ##c
    (6, 7),  # 7
    (7, 8),  # .
    (8, 9),  # 0
    (9, 10),  # %
    (10, 11),  # 的
    (11, 12),  # 2
    (12, 13),  # 型
    (13, 14),  # 糖
    (14, 15),  # 尿
    (15, 16),  # 病
    (0, 0),  # [SEP]
]
# xlm-roberta-large on "Quality of work is sufficient" (huggingface/tokenizers#1018): the lone "▁"
# piece overlaps the next token.
XLMR_OFFSETS = [(0, 0), (0, 7), (8, 10), (11, 15), (16, 18), (19, 20), (19, 29), (0, 0)]

# multilingual-e5-small's tokenizer.json (tokenizers 0.23): "▁中国" and "▁H" include the space before them,
# the lone "▁" is the space itself.
E5_TEXT = "中国成人2型糖尿病胰岛素 促泌剂 HbA1c"
E5_OFFSETS = [
    (0, 2),  # ▁中国
    (2, 4),  # 成人
    (4, 5),  # 2
    (5, 6),  # 型
    (6, 9),  # 糖尿病
    (9, 10),  # 胰
    (10, 11),  # 岛
    (11, 12),  # 素
    (12, 13),  # ▁
    (13, 14),  # 促
    (14, 15),  # 泌
    (15, 16),  # 剂
    (16, 18),  # ▁H
    (18, 19),  # b
    (19, 20),  # A
    (20, 21),  # 1
    (21, 22),  # c
]


def test_char_offsets_make_each_character_a_token():
    assert char_offsets("糖尿病") == [(0, 1), (1, 2), (2, 3)]
    assert char_offsets("") == []


@pytest.mark.parametrize(
    ("start", "end", "tokens"),
    [
        (11, 16, (9, 13)),  # 2型糖尿病
        (13, 16, (11, 13)),  # 糖尿病, nested in the above
        (12, 13, (10, 10)),  # 型: one token
        (0, 5, (1, 3)),  # HbA1c: three word pieces
        (6, 10, (4, 7)),  # 7.0%
        (5, 10, (4, 7)),  # " 7.0%": the dropped space at the edge is not a boundary inside a token
        (0, 3, None),  # HbA: ends inside ##a1
        (1, 5, None),  # bA1c: begins inside hb
        (5, 6, None),  # the space alone: no token in it
    ],
)
def test_bert_like_offsets(start, end, tokens):
    assert char_span_to_tokens(BERT_OFFSETS, start, end) == tokens
    if tokens is not None:
        assert BERT_TEXT[slice(*tokens_to_char_span(BERT_OFFSETS, *tokens))] == BERT_TEXT[start:end].strip()


def test_sentencepiece_lone_whitespace_piece_does_not_begin_a_span():
    assert char_span_to_tokens(XLMR_OFFSETS, 19, 29) == (6, 6)  # "sufficient", not "▁" + "sufficient"
    assert char_span_to_tokens(XLMR_OFFSETS, 19, 20) is None  # "s" ends inside "sufficient"
    assert char_span_to_tokens(XLMR_OFFSETS, 11, 29) == (3, 6)  # "work is sufficient"
    assert char_span_to_tokens(XLMR_OFFSETS, 0, 7) == (1, 1)


def test_trimmed_sentencepiece_offsets_let_an_entity_begin_after_a_space():
    start = E5_TEXT.index("HbA1c")
    assert char_span_to_tokens(E5_OFFSETS, start, start + 5) is None  # "▁H" spans " H"
    trimmed = trim_offsets(E5_TEXT, E5_OFFSETS)
    assert trimmed[12] == (17, 18) and trimmed[8] == (13, 13)  # "▁H" -> "H"; lone "▁" -> empty
    assert char_span_to_tokens(trimmed, start, start + 5) == (12, 16)
    assert tokens_to_char_span(trimmed, 12, 16) == (start, start + 5)
    assert char_span_to_tokens(trimmed, 9, 16) == (5, 11)  # "胰岛素 促泌剂" across the lone "▁"
    assert char_span_to_tokens(trimmed, 7, 9) is None  # "尿病" ends a piece but begins inside "糖尿病"
    assert trim_offsets(BERT_TEXT, BERT_OFFSETS) == BERT_OFFSETS  # nothing to trim


@given(st.text(min_size=1, max_size=30), st.data())
def test_character_level_round_trip(text, data):
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    offsets = char_offsets(text)
    tokens = char_span_to_tokens(offsets, start, end)
    assert tokens == (start, end - 1)
    assert tokens_to_char_span(offsets, *tokens) == (start, end)


def test_bad_spans_raise():
    with pytest.raises(ValueError, match=r"\[3, 3\)"):
        char_span_to_tokens(BERT_OFFSETS, 3, 3)
    with pytest.raises(ValueError, match=r"token span \[2, 20\] out of range for 15 tokens"):
        tokens_to_char_span(BERT_OFFSETS, 2, 20)
    with pytest.raises(ValueError, match=r"token span \[3, 2\]"):
        tokens_to_char_span(BERT_OFFSETS, 3, 2)
