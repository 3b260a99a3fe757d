"""Texts to token ids plus character offsets, for any HuggingFace tokenizer.

Every encoded text has one layout: one leading special token ([CLS] or <s>), the text's tokens, one trailing
special token ([SEP] or </s>). `offsets[n]` is the character span of text token n, so offsets exclude the
specials and token n sits at input position n + 1. The model relies on this layout (it drops position 0 and
masks the trailing special).

Two modes:
- "subword": the fast tokenizer's own pieces and `offset_mapping`. Entity boundaries inside a piece are lost.
- "char": every character is one token, looked up in the vocabulary (as is, lower-cased, or as the
  sentencepiece word-start "▁"+char), else [UNK]. Chinese BERT vocabularies tokenise CJK per character anyway;
  for XLM-R style vocabularies this keeps every entity boundary at the price of longer inputs.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from extractor.configuration import TokenizationMode
from nrskg.errors import ModelError

SENTENCEPIECE_SPACE = "▁"


@dataclass
class TokenizedText:
    input_ids: list[int]  # with the two special tokens
    offsets: list[tuple[int, int]]  # (start, end) per text token, end exclusive; len(input_ids) - 2 of them


def special_ids(tokenizer: PreTrainedTokenizerBase) -> tuple[int, int]:
    """The (start, end) special token ids: BERT's [CLS]/[SEP] or XLM-R's <s>/</s>."""
    start = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    end = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    if start is None or end is None or tokenizer.unk_token_id is None:
        raise ModelError(f"tokenizer {tokenizer.name_or_path!r} lacks a start, end or unknown special token")
    return start, end


class CharVocabulary:
    """Character -> id lookups for "char" mode, memoised because a corpus repeats few thousand characters."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        self.vocab = tokenizer.get_vocab()
        self.unk = tokenizer.unk_token_id
        self.cache: dict[str, int] = {}
        backend = getattr(tokenizer, "backend_tokenizer", None)
        normalizer = backend.normalizer if backend is not None else None
        self._normalise = normalizer.normalize_str if normalizer is not None else (lambda char: char)

    def id(self, char: str) -> int:
        if char not in self.cache:
            self.cache[char] = self._lookup(char)
        return self.cache[char]

    def _lookup(self, char: str) -> int:
        if char.isspace():
            # BERT vocabularies have no space; sentencepiece ones spell it "▁".
            return self.vocab.get(SENTENCEPIECE_SPACE, self.unk)
        # The tokenizer's own normaliser and NFKC fold full-width forms ("，" -> ",", "～" -> "~") the way the
        # subword path and the pipeline's normalisation do; without them 3.7% of DiaKG characters were unknown
        # to e5 (mostly the full-width comma).
        forms = dict.fromkeys((char, unicodedata.normalize("NFKC", char), self._normalise(char)))
        for form in forms:
            for piece in (form, form.lower()):
                for candidate in (piece, SENTENCEPIECE_SPACE + piece):
                    if candidate in self.vocab:
                        return self.vocab[candidate]
        return self.unk


class TextTokenizer:
    """Tokenizes batches of texts in one mode, truncating to `max_tokens` (specials included)."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, mode: TokenizationMode, max_tokens: int) -> None:
        if mode not in ("char", "subword"):
            raise ModelError(f"unknown tokenization mode {mode!r}: use 'char' or 'subword'")
        if mode == "subword" and not tokenizer.is_fast:
            raise ModelError(
                f"subword mode needs a fast tokenizer for offsets; {tokenizer.name_or_path!r} is slow"
            )
        if max_tokens < 3:
            raise ModelError(
                f"max_tokens={max_tokens} leaves no room for text between the two special tokens"
            )
        self.tokenizer = tokenizer
        self.mode = mode
        self.max_text_tokens = max_tokens - 2
        self.start_id, self.end_id = special_ids(tokenizer)
        self.chars = CharVocabulary(tokenizer) if mode == "char" else None

    def __call__(self, texts: list[str]) -> list[TokenizedText]:
        if self.chars is not None:
            pieces = [self._char_pieces(text) for text in texts]
        else:
            pieces = self._subword_pieces(texts)
        n = self.max_text_tokens
        return [TokenizedText([self.start_id, *ids[:n], self.end_id], offsets[:n]) for ids, offsets in pieces]

    def _char_pieces(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        return [self.chars.id(c) for c in text], [(i, i + 1) for i in range(len(text))]

    def _subword_pieces(self, texts: list[str]) -> list[tuple[list[int], list[tuple[int, int]]]]:
        encoded = self.tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
        out = []
        for ids, offsets in zip(encoded["input_ids"], encoded["offset_mapping"], strict=True):
            # Drop pieces that cover no character (a lone "▁" before a CJK character) so every token has text.
            kept = [(i, (s, e)) for i, (s, e) in zip(ids, offsets, strict=True) if e > s]
            out.append(([i for i, _ in kept], [o for _, o in kept]))
        return out
