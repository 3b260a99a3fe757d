"""Windows: the one way text is cut before the model reads it, in training, evaluation and `extract`, so
that a model always reads windows of the length and stride it was trained on.

Text longer than a model's `window_chars` is covered by overlapping windows that start about every
`window_stride` characters, each edge moved back a little to the nearest sentence end, else clause end.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type only: this module stays free of torch, so that the text pipeline can import it
    from extractor.configuration import NRSOneRelConfig

SENTENCE_MARKS = "。！？!?；;…"
CLOSERS = "”’\"')）]】」』》"
"""Quotes and brackets that close after a sentence mark and belong to the sentence before them."""
CLAUSE_MARKS = "，、,：:"
"""Where a clause ends: the next best place to cut a window when no sentence ends close enough."""

_CLOSE = f"[{re.escape(CLOSERS)}]*"
_SENTENCE_END = re.compile(rf"[{re.escape(SENTENCE_MARKS)}]+{_CLOSE}")
_CLAUSE_END = re.compile(f"[{re.escape(CLAUSE_MARKS)}]")


@dataclass(frozen=True)
class WindowConfig:
    """Window length and step in characters; `stride < max_chars` gives an overlap of `max_chars - stride`.

    `snap` is how far (characters) a window edge may move back to land on a sentence or clause boundary;
    None means max_chars // 8. On Ruijin at 256/128, snapping by 32 loses 1,907 of 57,260 relations, plain
    character windows 1,671, and windows cut only at sentence ends 2,797 (its sentences run to 3,000 chars).
    A model's config says which windows it reads (`of`), and holds the defaults.
    """

    max_chars: int
    stride: int
    snap: int | None = None

    def __post_init__(self) -> None:
        if self.max_chars < 1 or not 1 <= self.stride <= self.max_chars:
            raise ValueError(
                f"need 1 <= stride <= max_chars, got max_chars={self.max_chars} stride={self.stride}"
            )
        if self.snap is not None and not 0 <= self.snap < self.max_chars:
            raise ValueError(f"need 0 <= snap < max_chars, got snap={self.snap} max_chars={self.max_chars}")

    @classmethod
    def of(cls, config: NRSOneRelConfig) -> WindowConfig:
        """The windows a model was trained on, which it must be given again."""
        return cls(config.window_chars, config.window_stride)

    @property
    def snap_chars(self) -> int:
        return self.max_chars // 8 if self.snap is None else self.snap


def window_spans(text: str, max_chars: int, stride: int, snap: int | None = None) -> list[tuple[int, int]]:
    """Cover `text` with windows of at most `max_chars`, one starting about every `stride` characters.

    Each edge moves back by up to `snap` characters to the nearest sentence end, else clause end, else stays
    where it is (a hard cut). A window contained in the previous one is skipped.
    """
    config = WindowConfig(max_chars, stride, snap)
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
        start = _snap(levels, target, max(target - config.snap_chars, floor))
        limit = start + max_chars
        end = n if limit >= n else _snap(levels, limit, max(limit - config.snap_chars, start + 1))
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
