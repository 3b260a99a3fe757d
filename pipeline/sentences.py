"""Cut normalised documents into the sentences (and windows) the extractor reads.

Boundaries: Chinese and Western sentence marks `。！？!?；;…` (with any closing quotes or brackets
after them), a Western full stop followed by a space (not `7.0`, not `e.g.`, not a list number),
and line breaks, which normalisation keeps only where they are structure. A semicolon inside
brackets does not end a sentence: `（①阿司匹林；②非甾体抗炎药）` stays whole.

A sentence longer than `max_chars` is cut into overlapping windows, preferably just after a comma
(`，、,：:`), so the extractor's L x L pair tensor stays bounded and no clause is seen only in half.

Every row carries offsets into the normalised document (`start`/`end`) and into the original text
(`orig_start`/`orig_end`); where normalisation changed the characters inside a sentence,
`orig_map` lists the original index of each of its characters (else it is null).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from nrskg.contracts import sentence_id
from pipeline.normalise import CLOSERS
from pipeline.reading import Document
from pipeline.settings import SentenceSettings

SENTENCE_COLUMNS = [
    "sent_id",
    "doc_id",
    "index",
    "part",
    "text",
    "start",
    "end",
    "orig_start",
    "orig_end",
    "orig_map",
]

_MARK = re.compile(rf"(?P<mark>[。！？!?…]+|[；;]|\.+)[{re.escape(CLOSERS)}]*|\n")
_OPENERS, _CLOSING_BRACKETS = "（([【《「『", "）)]】》」』"
_ABBREVIATIONS = frozenset(
    "al approx ca cf dr e.g eg fig figs i.e ie incl mr mrs ms no nos prof ref refs st vs vol".split()
)
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_LIST_NUMBER = re.compile(r"^\s*(?:\d{1,3}|[ivxIVX]{1,4}|[A-Za-z])$")
_LOOK_BACK = 16
_COMMAS, _SPACES = "，、,：:", " "


def sentence_bounds(text: str) -> list[tuple[int, int]]:
    """Sentence spans `[start, end)` of `text`, without surrounding whitespace, in order."""
    bracket_depth = _bracket_depth(text)
    bounds: list[tuple[int, int]] = []
    begin = 0
    for match in _MARK.finditer(text):
        mark = match.group("mark")
        if mark is None:  # a line break kept by normalisation
            end = match.start()
        elif mark in "；;" and bracket_depth[match.start()] > bracket_depth[begin]:
            continue
        elif mark[0] == "." and not _ends_with_full_stop(text, begin, match):
            continue
        else:
            end = match.end()
        _add(bounds, text, begin, end)
        begin = match.end()
    _add(bounds, text, begin, len(text))
    return bounds


def _bracket_depth(text: str) -> np.ndarray:
    """`depth[i]`: opened minus closed brackets before `i`; O(n) once instead of per semicolon."""
    chars = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    opens = np.isin(chars, [ord(c) for c in _OPENERS]).astype(np.int64)
    closes = np.isin(chars, [ord(c) for c in _CLOSING_BRACKETS]).astype(np.int64)
    return np.r_[0, np.cumsum(opens - closes)]


def _ends_with_full_stop(text: str, begin: int, match: re.Match[str]) -> bool:
    """A Western `.` ends a sentence only before whitespace (or the end) and a non-lowercase word."""
    after = match.end()
    if after < len(text) and not text[after].isspace():
        return False  # 7.0, e.g.x, 糖.尿 (OCR noise), URLs
    rest = text[after : after + 8].lstrip()
    if rest and rest[0].islower():
        return False  # "et al. reported", "approx. five"
    if rest and rest[0].isdigit() and match.start() > 0 and text[match.start() - 1].isdigit():
        return False  # "P<0. 001", "[3. 5]": a decimal with an OCR space
    # Look back a few characters only: rescanning the whole sentence at every candidate full stop
    # would be quadratic on a long line of abbreviations.
    word = _WORD_BEFORE.search(text[max(begin, match.start() - _LOOK_BACK) : match.start()])
    if match.group("mark") == "." and word and word.group(1).lower() in _ABBREVIATIONS:
        return False
    short = match.start() - begin <= _LOOK_BACK
    return not (short and _LIST_NUMBER.match(text[begin : match.start()]))  # "1. Methods", "A. Aims"


def _add(bounds: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    """Append `[start, end)` trimmed of whitespace, if anything readable is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if any(c.isalnum() for c in text[start:end]):
        bounds.append((start, end))


def windows(text: str, start: int, end: int, settings: SentenceSettings) -> list[tuple[int, int]]:
    """`[start, end)` itself if short enough, else overlapping windows of at most `max_chars`.

    Each window ends just after the last comma (or else space) that leaves at least `min_window`
    characters; the next one starts `overlap` characters earlier, moved forward to the start of a
    clause if one begins inside the overlap.
    """
    spans: list[tuple[int, int]] = []
    pos = start
    while end - pos > settings.max_chars:
        limit = pos + settings.max_chars
        cut = _after_last(text, _COMMAS, pos + settings.min_window, limit)
        cut = cut or _after_last(text, _SPACES, pos + settings.min_window, limit) or limit
        spans.append((pos, cut))
        next_pos = cut - settings.overlap
        clause = _after_first(text, _COMMAS, next_pos, cut - 1)
        pos = max(clause or next_pos, pos + 1)
        while text[pos].isspace():
            pos += 1
    spans.append((pos, end))
    return [(s, e - _trailing_spaces(text, s, e)) for s, e in spans]


def _after_last(text: str, chars: str, lo: int, hi: int) -> int | None:
    """Index just after the last of `chars` in `text[lo:hi]`, or None."""
    best = max(text.rfind(c, lo, hi) for c in chars)
    return best + 1 if best >= 0 else None


def _after_first(text: str, chars: str, lo: int, hi: int) -> int | None:
    found = [i for i in (text.find(c, lo, hi) for c in chars) if i >= 0]
    return min(found) + 1 if found else None


def _trailing_spaces(text: str, start: int, end: int) -> int:
    return len(text[start:end]) - len(text[start:end].rstrip())


def split_sentences(doc: Document, settings: SentenceSettings | None = None) -> pd.DataFrame:
    """One row per sentence or window of `doc` (columns: `SENTENCE_COLUMNS`).

    `part` is 0 for a sentence given whole and 1, 2, ... for the windows of a long one; `index`
    numbers rows within the document and makes `sent_id` = `doc_id:index`.
    """
    return _frame(_rows(doc, settings or SentenceSettings()))


def split_corpus(documents: list[Document], settings: SentenceSettings | None = None) -> pd.DataFrame:
    """The sentences of every document, in document order, as one table.

    Rows are collected first and framed once: a DataFrame per document costs milliseconds, which
    is most of the work for a corpus of short documents (JSON lines).
    """
    settings = settings or SentenceSettings()
    return _frame([row for doc in documents for row in _rows(doc, settings)])


def _rows(doc: Document, settings: SentenceSettings) -> list[tuple]:
    text, offsets = doc.text, doc.norm.offsets
    rows = []
    for start, end in sentence_bounds(text):
        spans = windows(text, start, end, settings)
        for part, (s, e) in enumerate(spans, start=1 if len(spans) > 1 else 0):
            orig_start, orig_end = doc.norm.to_original(s, e)
            contiguous = orig_end - orig_start == e - s
            index = len(rows)
            rows.append(
                (
                    sentence_id(doc.doc_id, index),
                    doc.doc_id,
                    index,
                    part,
                    text[s:e],
                    s,
                    e,
                    orig_start,
                    orig_end,
                    None if contiguous else offsets[s:e].tolist(),
                )
            )
    return rows


def _frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=SENTENCE_COLUMNS)
    ints = ["index", "part", "start", "end", "orig_start", "orig_end"]
    return frame.astype(dict.fromkeys(ints, "int64"))


def sentence_to_original(sentence: pd.Series | dict, start: int, end: int) -> tuple[int, int]:
    """Map a span relative to a sentence's text (e.g. an entity) to the original document text."""
    length = sentence["end"] - sentence["start"]
    if not 0 <= start <= end <= length:
        where = f"sentence {sentence['sent_id']} of length {length}"
        raise ValueError(f"span [{start}, {end}) is outside {where}")
    orig_map = sentence["orig_map"]
    if orig_map is None or isinstance(orig_map, float):  # null, or NaN after a pandas round trip
        return sentence["orig_start"] + start, sentence["orig_start"] + end
    if start == end:
        at = orig_map[start] if start < length else sentence["orig_end"]
        return int(at), int(at)
    return int(orig_map[start]), int(orig_map[end - 1]) + 1
