"""The unit every reader returns, and the helpers they share for naming bad input precisely."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from extractor.schema import Entity, Example, Triple
from nrskg.errors import DataFormatError


@dataclass
class Document:
    """One source document, already cut into the examples the model sees.

    `entities` holds every annotated mention, including those in no relation (statistics need them), with
    offsets into the unit it was annotated in (the sentence for DiaKG and JSON lines, the text for Ruijin).
    `full` is the unwindowed document when its relations cross sentences (Ruijin): windows may not reach every
    gold relation, so counting and reach are measured on `full`.
    `notes` counts what a reader dropped or repaired and why, so nothing is lost silently.
    `group` ties parts of one source together (Ruijin files `N_k` belong to group `N`).
    """

    doc_id: str
    source: str
    examples: list[Example]
    entities: list[Entity] = field(default_factory=list)
    full: Example | None = None
    notes: Counter[str] = field(default_factory=Counter)
    group: str = ""

    def __post_init__(self) -> None:
        if not self.group:
            self.group = self.doc_id

    def text(self) -> str:
        """The document's text: the full text when known, else its examples joined in order."""
        return self.full.text if self.full is not None else "".join(e.text for e in self.examples)

    def gold_triples(self) -> Iterator[tuple[str, Triple]]:
        """Each gold triple once, with the id of the unit it was annotated in (windows repeat triples)."""
        units = [self.full] if self.full is not None else self.examples
        for unit in units:
            for triple in unit.triples:
                yield unit.sent_id, triple


def bad(path: Path | str, where: str, message: str) -> DataFormatError:
    """The one shape of a bad-input message: `file: line 3: ...` or `file: paragraphs[2].entities[1]: ...`."""
    return DataFormatError(f"{path}: {where}: {message}" if where else f"{path}: {message}")


def read_text(path: Path, encoding: str = "utf-8") -> str:
    """Read a whole file, turning I/O and decoding failures into errors that name the file."""
    try:
        return path.read_text(encoding=encoding)
    except UnicodeDecodeError as e:
        raise bad(path, f"byte {e.start}", f"not {encoding} text ({e.reason})") from e
    except OSError as e:
        raise bad(path, "", f"cannot read ({e.strerror or e})") from e


def natural_key(path: Path) -> list[int | str]:
    """Sort `2.json` before `10.json` so documents come out in a stable, human order."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def files_of(path: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """A file as given, or every file with one of `suffixes` in a folder (not recursive), naturally sorted."""
    if path.is_file():
        return [path]
    if path.is_dir():
        found = sorted((p for p in path.iterdir() if p.is_file() and p.suffix in suffixes), key=natural_key)
        if not found:
            raise DataFormatError(f"{path}: no {'/'.join(suffixes)} files in this folder")
        return found
    raise DataFormatError(f"{path}: no such file or folder")
