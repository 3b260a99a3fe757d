"""Ruijin MMC round-2 reader: brat standoff (`N.txt` + `N.ann`) over OCR'd text, relations at document level.

Annotations are noisy in known ways (README): discontinuous spans broken by OCR line breaks, a few entity
texts that do not match their offsets, one relation to a missing entity. Those are repaired or dropped and
counted in `Document.notes`; lines that cannot be parsed at all raise DataFormatError with file and line.
"""

from __future__ import annotations

from pathlib import Path

from extractor.datasets.document import Document, bad, read_text
from extractor.datasets.windows import window_examples
from extractor.schema import Entity, Example, Triple
from extractor.splitting import WindowConfig

# brat line kinds we do not model (attributes, normalisations, notes, events, equivalences): counted only.
IGNORED_KINDS = ("A", "M", "N", "#", "E", "*")


def read_ruijin(path: Path, window: WindowConfig) -> Document:
    """One `.txt`/`.ann` pair (either path may be given) as a Document cut into sentence-aligned windows."""
    txt, ann = path.with_suffix(".txt"), path.with_suffix(".ann")
    for needed in (txt, ann):
        if not needed.is_file():
            raise bad(needed, "", f"missing: a brat document needs both {txt.name} and {ann.name}")
    text = read_text(txt)
    doc = Document(doc_id=txt.stem, source=str(txt), examples=[], group=txt.stem.split("_")[0])
    entities, dropped = _entities(ann, text, doc)
    triples = _relations(ann, entities, dropped, doc)
    doc.entities = list(entities.values())
    doc.full = Example(text, triples, doc.doc_id, doc.doc_id, mentions=doc.entities)
    doc.examples, report = window_examples([doc.full], window.max_chars, window.stride)
    if report.triples_lost:
        doc.notes["relations_outside_windows"] += report.triples_lost
    return doc


def _lines(ann: Path) -> list[tuple[int, list[str]]]:
    """Non-empty `.ann` lines as (line number, tab-separated fields)."""
    return [
        (n, line.split("\t")) for n, line in enumerate(read_text(ann).splitlines(), start=1) if line.strip()
    ]


def _entities(ann: Path, text: str, doc: Document) -> tuple[dict[str, Entity], set[str]]:
    """Text-bound annotations (`T` lines) by id, and the ids dropped as unusable."""
    entities: dict[str, Entity] = {}
    dropped: set[str] = set()
    for n, fields in _lines(ann):
        key = fields[0]
        if key.startswith(IGNORED_KINDS):
            doc.notes["ignored_annotations"] += 1
            continue
        if not key.startswith("T"):
            if not key.startswith("R"):
                raise bad(ann, f"line {n}", f"unknown brat annotation {key!r}")
            continue
        if len(fields) < 3:
            raise bad(ann, f"line {n}", "expected 'T<id>\\t<type> <start> <end>[;<start> <end>...]\\t<text>'")
        if key in entities or key in dropped:
            raise bad(ann, f"line {n}", f"duplicate id {key}")
        kind, fragments = _type_and_fragments(fields[1], len(text), ann, n)
        entity = _entity(text, kind, fragments, fields[2], doc)
        if entity is None:
            dropped.add(key)
        else:
            entities[key] = entity
    return entities, dropped


def _type_and_fragments(spec: str, length: int, ann: Path, n: int) -> tuple[str, list[tuple[int, int]]]:
    kind, _, offsets = spec.partition(" ")
    fragments = []
    for part in offsets.split(";"):
        bounds = part.split()
        if not kind or len(bounds) != 2 or not all(b.isdigit() for b in bounds):
            raise bad(ann, f"line {n}", f"cannot read type and offsets from {spec!r}")
        start, end = int(bounds[0]), int(bounds[1])
        if not start < end <= length:
            raise bad(ann, f"line {n}", f"span {start} {end} outside the text (length {length}) or empty")
        fragments.append((start, end))
    return kind, sorted(fragments)


def _entity(
    text: str, kind: str, fragments: list[tuple[int, int]], surface: str, doc: Document
) -> Entity | None:
    """The entity; fragments separated only by whitespace become their covering span. None if unusable."""
    if " ".join(text[s:e] for s, e in fragments) != surface:
        doc.notes["entity_text_mismatch_dropped"] += 1
        return None
    start, end = fragments[0][0], fragments[-1][1]
    if len(fragments) > 1:
        gaps = (text[e:s] for (_, e), (s, _) in zip(fragments, fragments[1:], strict=False))
        if any(gap.strip() for gap in gaps):
            doc.notes["discontinuous_dropped"] += 1
            return None
        doc.notes["discontinuous_joined"] += 1
    return Entity(start, end, text[start:end], kind)


def _relations(ann: Path, entities: dict[str, Entity], dropped: set[str], doc: Document) -> list[Triple]:
    triples = []
    for n, fields in _lines(ann):
        if not fields[0].startswith("R"):
            continue
        parts = fields[1].split() if len(fields) > 1 else []
        if len(parts) != 3 or not parts[1].startswith("Arg1:") or not parts[2].startswith("Arg2:"):
            raise bad(ann, f"line {n}", "expected 'R<id>\\t<type> Arg1:T<id> Arg2:T<id>'")
        head, tail = parts[1][5:], parts[2][5:]
        if head in dropped or tail in dropped:
            doc.notes["relations_to_dropped_entity"] += 1
        elif head not in entities or tail not in entities:
            doc.notes["relations_to_missing_entity"] += 1
        else:
            triples.append(Triple(entities[head], parts[0], entities[tail]))
    return triples
