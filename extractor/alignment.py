"""Map character spans to token spans and back, given each token's character offsets.

Offsets are `(start, end)` character offsets, end exclusive, one per token, as HF fast tokenizers return them
with `return_offsets_mapping=True` (special tokens removed, or left in: they are `(0, 0)` and ignored here).
Token spans are `(begin, end)` token indices with the end INCLUSIVE, as in `extractor.tagging`.

Quirks of HF fast tokenizers handled on purpose (pass offsets through `trim_offsets` first):
- SentencePiece pieces carry the space before them in their offsets (`trim_offsets` removes it);
- empty offsets `(s, s)` (special tokens, zero-width pieces) never begin or end a span;
- SentencePiece tokenizers (XLM-R, multilingual-e5) emit a stand-alone "▁" piece whose offsets overlap
  the next token's, e.g. `(19, 20)` then `(19, 29)` (huggingface/tokenizers#1018). When several tokens
  share a start, the span begins at the LAST of them, so an entity starts at its content token, not at
  the whitespace piece.
"""

from __future__ import annotations

from collections.abc import Sequence

Offsets = Sequence[tuple[int, int]]


def char_offsets(text: str) -> list[tuple[int, int]]:
    """Offsets of the character-level tokenizer: token i is character i."""
    return [(i, i + 1) for i in range(len(text))]


def trim_offsets(text: str, offsets: Offsets) -> list[tuple[int, int]]:
    """Offsets without the whitespace at either end of each span (a token, a sentence); whitespace-only spans
    become empty.

    SentencePiece tokenizers (XLM-R, multilingual-e5) put the space a "▁" stands for into the token's
    offsets: in "素 促泌剂 HbA1c" the piece "▁H" spans " H", so the entity "HbA1c" would begin inside a
    token. Trimmed, "▁H" spans "H" and a lone "▁" covers nothing, so neither blocks a boundary.
    """
    trimmed = []
    for start, end in offsets:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        trimmed.append((start, end))
    return trimmed


def char_span_to_tokens(offsets: Offsets, start: int, end: int) -> tuple[int, int] | None:
    """The inclusive token span covering characters `[start, end)`, or None when it cannot be represented.

    None when a boundary falls strictly inside a token (the span would have to grow or shrink to fit) or when
    no token lies inside the span (e.g. it is only whitespace the tokenizer dropped). Characters not covered
    by any token (spaces a BERT tokenizer drops) may sit at the edges: the span then covers the tokens inside.
    """
    if not 0 <= start < end:
        raise ValueError(f"character span [{start}, {end}) is empty or negative")
    begin = last = None
    begin_start = last_end = None
    for index, (tok_start, tok_end) in enumerate(offsets):
        if tok_start >= tok_end:
            continue  # special or zero-width token
        if tok_start < start < tok_end or tok_start < end < tok_end:
            return None  # a boundary cuts this token
        if tok_start < start or tok_end > end:
            continue  # outside the span
        # `<=` / `>=` prefer the later of tokens sharing an offset (the "▁" quirk above).
        if begin_start is None or tok_start <= begin_start:
            begin, begin_start = index, tok_start
        if last_end is None or tok_end >= last_end:
            last, last_end = index, tok_end
    if begin is None or last is None or last < begin:
        return None
    return begin, last


def tokens_to_char_span(offsets: Offsets, begin: int, end: int) -> tuple[int, int]:
    """Characters `[start, end)` covered by tokens `begin..end` (inclusive)."""
    if not 0 <= begin <= end < len(offsets):
        raise ValueError(f"token span [{begin}, {end}] out of range for {len(offsets)} tokens")
    return offsets[begin][0], offsets[end][1]
