"""Every knob of the text pipeline in one typed place, so flows pass one object and tests change one field.

Defaults are chosen for Chinese medical literature (sentences of 20-150 characters, OCR'd Ruijin texts).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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


class PipelineSettings(_Frozen):
    """All settings of the text pipeline (its windows are the model's: `extractor.splitting`)."""

    read: ReadSettings = ReadSettings()
    normalise: NormaliseSettings = NormaliseSettings()
