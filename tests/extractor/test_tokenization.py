"""Texts to token ids and character offsets, in char and subword mode."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from extractor.encoders.tiny import build_tiny_encoder
from extractor.tokenization import TextTokenizer
from nrskg.errors import ModelError


@pytest.fixture(scope="module")
def bert_tokenizer(tmp_path_factory):
    """A BERT WordPiece tokenizer whose vocabulary holds the characters of a few diabetes phrases."""
    path = build_tiny_encoder(["2型糖尿病患者服用二甲双胍", "HbA1c"], tmp_path_factory.mktemp("enc"))
    return AutoTokenizer.from_pretrained(path)


@pytest.fixture(scope="module")
def sentencepiece_style_tokenizer():
    """An XLM-R style vocabulary: "<s>"/"</s>" specials and word-start pieces spelt with "▁"."""
    vocab = {
        "<pad>": 0,
        "<s>": 1,
        "</s>": 2,
        "<unk>": 3,
        "▁": 4,
        "▁糖": 5,
        "尿": 6,
        "病": 7,
        "▁2": 8,
        "型": 9,
    }
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
    )


def test_char_mode_gives_one_token_per_character_between_specials(bert_tokenizer):
    text = "2型糖尿病?"
    [encoded] = TextTokenizer(bert_tokenizer, "char", 64)([text])
    vocab = bert_tokenizer.get_vocab()
    assert encoded.offsets == [(i, i + 1) for i in range(len(text))]
    assert encoded.input_ids[0] == bert_tokenizer.cls_token_id
    assert encoded.input_ids[-1] == bert_tokenizer.sep_token_id
    assert encoded.input_ids[1:-1] == [vocab[c] for c in "2型糖尿病"] + [bert_tokenizer.unk_token_id]


def test_char_mode_uses_sentencepiece_word_start_pieces(sentencepiece_style_tokenizer):
    [encoded] = TextTokenizer(sentencepiece_style_tokenizer, "char", 64)(["糖尿病 2型X"])
    # 糖 only exists as "▁糖", the space as "▁", X not at all.
    assert encoded.input_ids == [1, 5, 6, 7, 4, 8, 9, 3, 2]
    assert len(encoded.offsets) == 7


def test_char_mode_truncates_to_max_tokens_with_both_specials_kept(bert_tokenizer):
    [encoded] = TextTokenizer(bert_tokenizer, "char", 5)(["糖尿病患者服用"])
    assert len(encoded.input_ids) == 5
    assert encoded.offsets == [(0, 1), (1, 2), (2, 3)]
    assert encoded.input_ids[-1] == bert_tokenizer.sep_token_id


def test_subword_mode_offsets_point_at_each_piece(bert_tokenizer):
    texts = ["服用 二甲双胍", "HbA1c 2型"]
    encoded = TextTokenizer(bert_tokenizer, "subword", 64)(texts)
    for text, item in zip(texts, encoded, strict=True):
        assert len(item.offsets) == len(item.input_ids) - 2
        pieces = [text[s:e] for s, e in item.offsets]
        assert all(p and not p.isspace() for p in pieces)
        assert "".join(pieces) == text.replace(" ", "")
    # BERT splits CJK per character; "HbA1c" is one word, unknown to this vocabulary as a whole.
    assert [texts[1][s:e] for s, e in encoded[1].offsets] == ["HbA1c", "2", "型"]


def test_bad_settings_raise_model_error(bert_tokenizer):
    with pytest.raises(ModelError, match="unknown tokenization mode"):
        TextTokenizer(bert_tokenizer, "word", 64)
    with pytest.raises(ModelError, match="max_tokens=2"):
        TextTokenizer(bert_tokenizer, "char", 2)


def test_char_mode_folds_full_width_forms_to_the_vocabulary_entry(tmp_path):
    """Training text with "～" and "，" and normalised text with "~" and "," must reach the same ids."""
    path = build_tiny_encoder(["每日1～2次，口服"], tmp_path / "enc")
    tokenizer = AutoTokenizer.from_pretrained(path)
    full, half = TextTokenizer(tokenizer, "char", 64)(["1～2次，口服", "1~2次,口服"])
    assert full.input_ids == half.input_ids
    assert tokenizer.unk_token_id not in full.input_ids
