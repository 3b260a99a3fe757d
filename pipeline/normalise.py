"""Text normalisation that never loses the way back to the original characters.

The extractor sees normalised text, but evidence shown to people (and offsets in the graph) must
point into the file as it was, so every normalised character carries the index of the original
character it came from.

What changes, and why:
- full-width ASCII (`Ａ１％（`) becomes half-width, so `ＨｂＡ１ｃ` and `HbA1c` are one entity;
  the Chinese sentence punctuation `，；：？！` stays full-width because Chinese is written with it
  (`。` is not in that block);
- NBSP, ideographic and other Unicode spaces become a plain space; zero-width characters and soft
  hyphens go;
- runs of spaces collapse to one, whitespace at the start and end of the text goes, `\r\n` becomes
  `\n`; two or more line breaks (a paragraph break) become exactly `\n\n`;
- a single line break inside a sentence next to CJK text is dropped: OCR'd books (the Ruijin texts)
  wrap lines in the middle of words. Between two Latin words it becomes a space. It is kept after
  sentence-final punctuation, before a list item and after a Markdown heading, where it is
  structure rather than wrapping.

Work is vectorised over code points with numpy: a 2 MB single line costs milliseconds, never a
quadratic scan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from extractor.splitting import CLOSERS, SENTENCE_MARKS
from pipeline.settings import NormaliseSettings

_SPACE, _NEWLINE, _CR = 0x20, 0x0A, 0x0D
_BMP = 0x10000

# Character classes as bit flags in one table over the Basic Multilingual Plane: a table lookup
# costs the same for a 20-character JSON line and a 2 MB book, where np.isin per set did not.
_DELETED, _TERMINAL, _CLOSER, _CJK = 1, 2, 4, 8
_FLAGS = np.zeros(_BMP, dtype=np.uint8)
_FLAGS[[0xAD, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF]] |= _DELETED
_FLAGS[[ord(c) for c in SENTENCE_MARKS]] |= _TERMINAL
_FLAGS[[ord(c) for c in CLOSERS]] |= _CLOSER
for _first, _last in [
    (0x3000, 0x303F),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0xFF00, 0xFFEF),
]:
    _FLAGS[_first : _last + 1] |= _CJK  # Han, CJK punctuation, full-width forms
_ASTRAL_CJK = (0x20000, 0x3FFFF)  # CJK extensions B and beyond

# One-to-one replacements: full-width ASCII to half-width (but not the Chinese sentence
# punctuation，；：？！), every Unicode space to a plain space.
_REPLACE = np.arange(_BMP, dtype=np.int64)
_REPLACE[0xFF01:0xFF5F] -= 0xFEE0
_REPLACE[[ord(c) for c in "，；：？！"]] = [ord(c) for c in "，；：？！"]
_REPLACE[[0x09, 0x0B, 0x0C, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000]] = _SPACE

# A line break before these starts a list item or table row; after a heading line it ends the heading.
_LIST_ITEM = re.compile(
    r"\n[ ]*(?=[-*+•·>|#]|\d{1,3}[.、)）](?!\d)|[（(]\d{1,3}[)）]|[①-⑳]|[一二三四五六七八九十]{1,3}、)"
)
_HEADING_END = re.compile(r"^[ ]*#{1,6} [^\n]*(\n)", re.MULTILINE)


@dataclass(frozen=True, eq=False)
class Normalised:
    """Normalised text plus `offsets[i]`: the index in `original` of the character `text[i]` came from.

    `offsets` is strictly increasing: normalisation deletes and replaces characters, never
    reorders them.
    """

    text: str
    offsets: np.ndarray
    original: str = field(repr=False)

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The original span `[start', end')` from the first to the last character of the normalised span
        `[start, end)`. Characters dropped inside the span (a joined line break) fall inside the original
        span, so slicing the original with the result shows the evidence as it was written."""
        n = len(self.offsets)
        if not 0 <= start <= end <= n:
            raise ValueError(f"span [{start}, {end}) is outside the normalised text of length {n}")
        if start == end:
            at = int(self.offsets[start]) if start < n else len(self.original)
            return at, at
        return int(self.offsets[start]), int(self.offsets[end - 1]) + 1


def _flags(cp: np.ndarray) -> np.ndarray:
    """The class flags of each code point (characters beyond the BMP: CJK or nothing)."""
    flags = _FLAGS[np.minimum(cp, _BMP - 1)]
    astral = cp >= _BMP
    if astral.any():
        flags[astral] = np.where((cp[astral] >= _ASTRAL_CJK[0]) & (cp[astral] <= _ASTRAL_CJK[1]), _CJK, 0)
    return flags


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.int64)


def _text_of(cp: np.ndarray) -> str:
    return cp.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")


def _translate(cp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one replacements, and the mask of characters that survive deletion."""
    bmp = cp < _BMP
    cp = np.where(bmp, _REPLACE[np.where(bmp, cp, 0)], cp)
    carriage = cp == _CR
    crlf = carriage & np.r_[cp[1:] == _NEWLINE, False]
    cp[carriage & ~crlf] = _NEWLINE  # a lone \r (old Mac files) is a line break
    return cp, ~crlf & (_flags(cp) & _DELETED == 0)


def _structural_breaks(translated: str) -> np.ndarray:
    """Positions of line breaks that mark structure (lists, headings), which OCR joining must keep."""
    positions = [m.start() for m in _LIST_ITEM.finditer(translated)]
    positions += [m.start(1) for m in _HEADING_END.finditer(translated)]
    return np.array(positions, dtype=np.int64)


def normalise(text: str, settings: NormaliseSettings | None = None) -> Normalised:
    """Normalise `text` for extraction, keeping the map back to it (rules: module docstring)."""
    settings = settings or NormaliseSettings()
    cp, alive = _translate(_codepoints(text))
    structural = np.zeros(len(cp), dtype=bool)
    structural[_structural_breaks(_text_of(cp))] = True

    origin = np.flatnonzero(alive)
    cp, structural = cp[alive], structural[alive]
    is_space = (cp == _SPACE) | (cp == _NEWLINE)
    out = ~is_space

    # Maximal whitespace runs [starts, ends): each becomes nothing, a space, a line break or a
    # paragraph break.
    edges = np.diff(np.r_[0, is_space.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    inner = (starts > 0) & (ends < len(cp))  # whitespace at either end of the text is dropped
    starts, ends = starts[inner], ends[inner]

    newline_at = np.flatnonzero(cp == _NEWLINE)
    newlines_before = np.r_[0, np.cumsum(cp == _NEWLINE)]  # newline_at[newlines_before[i]]: first one at >= i
    n_newlines = newlines_before[ends] - newlines_before[starts]

    out[starts[n_newlines == 0]] = True  # spaces only: keep the first one

    paragraph = newlines_before[starts[n_newlines >= 2]]
    out[newline_at[paragraph]] = True
    out[newline_at[paragraph + 1]] = True

    single = n_newlines == 1
    s_start, s_end = starts[single], ends[single]
    s_newline = newline_at[newlines_before[s_start]]
    previous, following = _flags(cp[s_start - 1]), _flags(cp[s_end])
    before_previous = _flags(cp[np.maximum(s_start - 2, 0)])
    after_sentence = (previous & _TERMINAL > 0) | (
        (previous & _CLOSER > 0) & (before_previous & _TERMINAL > 0) & (s_start >= 2)
    )
    keep_break = after_sentence | structural[s_newline] | (not settings.join_ocr_lines)
    out[s_newline[keep_break]] = True
    between_words = ~keep_break & (previous & _CJK == 0) & (following & _CJK == 0)
    cp[s_start[between_words]] = _SPACE
    out[s_start[between_words]] = True

    return Normalised(text=_text_of(cp[out]), offsets=origin[out], original=text)
