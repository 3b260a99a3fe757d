"""Sentences and windows: the one way text is cut before the model reads it, in training, evaluation,
`extract` and `ingest`, so that a model always reads windows of the length and stride it was trained on.

Sentence boundaries: Chinese and Western sentence marks `。！？!?；;…` (with any closing quotes or brackets
after them), a Western full stop followed by a space (not `7.0`, not `e.g.`, not a list number), and line
breaks, which normalisation keeps only where they are structure. A semicolon inside brackets does not end a
sentence: `（①阿司匹林；②非甾体抗炎药）` stays whole. No character is lost: a piece without a letter or digit
(a stray mark, a tail of punctuation) joins the sentence before it (after it, at the start of the text), so
only whitespace between sentences is in none.

Windows: text longer than a model's `window_chars` is covered by overlapping windows that start about every
`window_stride` characters, each edge moved back a little to the nearest sentence end, else clause end.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from extractor.alignment import trim_offsets

if TYPE_CHECKING:  # a type only: this module stays free of torch, so that the text pipeline can import it
    from extractor.configuration import NRSOneRelConfig

_FINAL_MARKS, _SEMICOLONS = "。！？!?…", "；;"
SENTENCE_MARKS = _FINAL_MARKS + _SEMICOLONS
CLOSERS = "”’\"')）]】」』》"
"""Quotes and brackets that close after a sentence mark and belong to the sentence before them."""
CLAUSE_MARKS = "，、,：:"
"""Where a clause ends: the next best place to cut a window when no sentence ends close enough."""

_CLOSE = f"[{re.escape(CLOSERS)}]*"
_MARK = re.compile(rf"(?P<mark>[{_FINAL_MARKS}]+|[{_SEMICOLONS}]|\.+){_CLOSE}|\n")
_SENTENCE_END = re.compile(rf"[{re.escape(SENTENCE_MARKS)}]+{_CLOSE}")
_CLAUSE_END = re.compile(f"[{re.escape(CLAUSE_MARKS)}]")
_OPENERS, _CLOSING_BRACKETS = "（([【《「『", "）)]】》」』"
_ABBREVIATIONS = frozenset(
    "al approx ca cf dr e.g eg fig figs i.e ie incl mr mrs ms no nos prof ref refs st vs vol".split()
)
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_LIST_NUMBER = re.compile(r"^\s*(?:\d{1,3}|[ivxIVX]{1,4}|[A-Za-z])$")
_LOOK_BACK = 16
SNAP_SHARE = 8  # a window edge moves back by at most max_chars // SNAP_SHARE to meet a boundary


@dataclass(frozen=True)
class WindowConfig:
    """Window length and step in characters; `stride < max_chars` gives an overlap of `max_chars - stride`.

    A window edge may move back by up to max_chars // SNAP_SHARE characters to land on a sentence or clause
    boundary. On Ruijin at 256/128, snapping by 32 loses 1,907 of 57,260 relations, plain character windows
    1,671, and windows cut only at sentence ends 2,797 (its sentences run to 3,000 chars).
    A model's config says which windows it reads (`of`), and holds the defaults.
    """

    max_chars: int
    stride: int

    def __post_init__(self) -> None:
        if self.max_chars < 1 or not 1 <= self.stride <= self.max_chars:
            raise ValueError(
                f"need 1 <= stride <= max_chars, got max_chars={self.max_chars} stride={self.stride}"
            )

    @classmethod
    def of(cls, config: NRSOneRelConfig) -> WindowConfig:
        """The windows a model was trained on, which it must be given again."""
        return cls(config.window_chars, config.window_stride)


def sentence_windows(text: str, window: WindowConfig) -> list[tuple[int, int, int]]:
    """`(start, end, part)` of each sentence of `text`, cut into windows where longer than `window` allows.

    `part` is 0 for a sentence given whole and 1, 2, ... for the windows of a long one.
    """
    spans = []
    for start, end in sentence_bounds(text):
        pieces = window_spans(text[start:end], window.max_chars, window.stride)
        first = 1 if len(pieces) > 1 else 0
        spans += [(start + s, start + e, part) for part, (s, e) in enumerate(pieces, first)]
    return spans


def sentence_bounds(text: str) -> list[tuple[int, int]]:
    """Sentence spans `[start, end)` of `text`, without surrounding whitespace, in order."""
    bounds: list[tuple[int, int]] = []
    last_readable = True
    for start, end in _pieces(text):
        readable = any(c.isalnum() for c in text[start:end])
        if bounds and not (readable and last_readable):  # no letter or digit: not a sentence on its own
            bounds[-1] = (bounds[-1][0], end)
            last_readable = last_readable or readable
        else:
            bounds.append((start, end))
            last_readable = readable
    return bounds


def _pieces(text: str) -> list[tuple[int, int]]:
    """The text between sentence boundaries, trimmed of whitespace, the empty pieces left out."""
    bracket_depth = _bracket_depth(text)
    cuts: list[tuple[int, int]] = []
    begin = 0
    for match in _MARK.finditer(text):
        mark = match.group("mark")
        if mark is None:  # a line break kept by normalisation
            end = match.start()
        elif mark in _SEMICOLONS and bracket_depth[match.start()] > bracket_depth[begin]:
            continue
        elif mark[0] == "." and not _ends_with_full_stop(text, begin, match):
            continue
        else:
            end = match.end()
        cuts.append((begin, end))
        begin = match.end()
    cuts.append((begin, len(text)))
    return [(start, end) for start, end in trim_offsets(text, cuts) if start < end]


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


def window_spans(text: str, max_chars: int, stride: int) -> list[tuple[int, int]]:
    """Cover `text` with windows of at most `max_chars`, one starting about every `stride` characters.

    Each edge moves back by up to max_chars // SNAP_SHARE characters to the nearest sentence end, else clause
    end, else stays where it is (a hard cut). A window contained in the previous one is skipped.
    """
    WindowConfig(max_chars, stride)  # refuses impossible windows
    snap = max_chars // SNAP_SHARE
    n = len(text)
    if n <= max_chars:
        return [(0, n)]
    levels = [m.end() for m in _SENTENCE_END.finditer(text)], [m.end() for m in _CLAUSE_END.finditer(text)]
    spans: list[tuple[int, int]] = []
    nominal = 0
    while True:
        # never past the previous end (no unseen gap), never before the previous start (progress)
        target = min(nominal, spans[-1][1]) if spans else 0
        floor = spans[-1][0] + 1 if spans else 0
        start = _snap(levels, target, max(target - snap, floor))
        limit = start + max_chars
        end = n if limit >= n else _snap(levels, limit, max(limit - snap, start + 1))
        if not spans or end > spans[-1][1]:
            spans.append((start, end))
        if end == n:
            return spans
        nominal += stride


def _snap(levels: tuple[list[int], ...], target: int, floor: int) -> int:
    """The last boundary in [floor, target] of the first level that has one, else `target`."""
    for marks in levels:
        i = bisect.bisect_right(marks, target) - 1
        if i >= 0 and marks[i] >= floor:
            return marks[i]
    return target
