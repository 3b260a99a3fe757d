"""Every knob of the text pipeline in one typed place, so flows pass one object and tests change one field.

Defaults are chosen for Chinese medical literature (sentences of 20-150 characters, OCR'd Ruijin texts).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReadSettings(_Frozen):
    """How a corpus is discovered and decoded."""

    suffixes: tuple[str, ...] = (".txt", ".md", ".json", ".jsonl")
    text_field: str = "text"
    """Field of a JSON object (one per `.jsonl` line) that holds the document text; a dotted path
    goes through lists and joins what it finds as paragraphs (`paragraphs.paragraph` for DiaKG)."""
    max_file_bytes: int = Field(default=256 * 1024 * 1024, gt=0)
    """Larger files are recorded as `failed:too-large` instead of exhausting memory."""
    max_detect_chaos: float = Field(default=0.1, ge=0.0, le=1.0)
    """Last-resort charset detection is accepted only at or below this mess ratio ..."""
    min_detect_coherence: float = Field(default=0.0, ge=0.0, le=1.0)
    """... and at or above this language coherence (0 by default: it is 0 for most short Chinese
    texts, Big5 ones included). Below the bar a file is `failed:undecodable`, never guessed."""
    max_control_ratio: float = Field(default=0.01, ge=0.0, le=1.0)
    """Decoded text with more control characters than this share is binary, not text."""


class NormaliseSettings(_Frozen):
    """What normalisation may change; every change keeps a map back to the original characters."""

    join_ocr_lines: bool = True
    """Drop a single line break inside a sentence next to CJK text (the OCR wrap of the Ruijin texts)."""


class SentenceSettings(_Frozen):
    """Sentence splitting and the windows cut from over-long sentences.

    The defaults match the extractor's own windows (`window_chars` 200, stride 150), so a sentence
    the pipeline passes on is never cut again inside the extractor.
    """

    max_chars: int = Field(default=200, ge=8)
    """Longest unit given to the extractor; its pair tensor grows with the square of this."""
    overlap: int = Field(default=50, ge=0)
    """Characters shared by consecutive windows, so a relation cut by one edge is seen whole."""
    min_window: int = Field(default=64, ge=1)
    """A window is cut at a comma only if that leaves at least this many characters in it."""

    @model_validator(mode="after")
    def _overlap_fits(self) -> SentenceSettings:
        if self.overlap * 2 > self.max_chars:
            raise ValueError(f"overlap ({self.overlap}) must be at most half of max_chars ({self.max_chars})")
        if self.min_window > self.max_chars:
            raise ValueError(f"min_window ({self.min_window}) must not exceed max_chars ({self.max_chars})")
        return self


class PipelineSettings(_Frozen):
    """All settings of the text pipeline."""

    read: ReadSettings = ReadSettings()
    normalise: NormaliseSettings = NormaliseSettings()
    sentences: SentenceSettings = SentenceSettings()
