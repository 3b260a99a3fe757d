"""DiaKG reader: document -> paragraphs -> sentences, entities and relations at sentence level.

Offsets (`start_idx`/`end_idx`, end exclusive) index the sentence, and relations name entities of the same
sentence, so every sentence becomes one `Example` with offsets kept as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from extractor.datasets._json import field_of, parse_json
from extractor.datasets.document import Document, bad, read_text
from extractor.schema import Entity, Example, Triple


def read_diakg(path: Path) -> Document:
    """One DiaKG JSON file as a Document; any malformed record raises DataFormatError naming its path."""
    raw = parse_json(read_text(path, "utf-8-sig"), path)
    doc_id = str(field_of(raw, "doc_id", (str, int), path, ""))
    paragraphs = field_of(raw, "paragraphs", list, path, "")
    examples: list[Example] = []
    entities: list[Entity] = []
    for p, paragraph in enumerate(paragraphs):
        sentences = field_of(paragraph, "sentences", list, path, f"paragraphs[{p}]")
        for s, sentence in enumerate(sentences):
            where = f"paragraphs[{p}].sentences[{s}]"
            example, mentions = _sentence(sentence, path, where, doc_id, f"{doc_id}:{p}:{s}")
            examples.append(example)
            entities.extend(mentions)
    return Document(doc_id=doc_id, source=str(path), examples=examples, entities=entities)


def _sentence(record: Any, path: Path, where: str, doc_id: str, sent_id: str) -> tuple[Example, list[Entity]]:
    text = field_of(record, "sentence", str, path, where)
    by_id: dict[str, Entity] = {}
    for k, item in enumerate(field_of(record, "entities", list, path, where)):
        at = f"{where}.entities[{k}]"
        entity_id = field_of(item, "entity_id", str, path, at)
        if entity_id in by_id:
            raise bad(path, at, f"duplicate entity_id {entity_id!r}")
        by_id[entity_id] = _entity(item, text, path, at)
    triples = []
    for k, item in enumerate(field_of(record, "relations", list, path, where)):
        at = f"{where}.relations[{k}]"
        relation = field_of(item, "relation_type", str, path, at)
        ends = []
        for key in ("head_entity_id", "tail_entity_id"):
            ref = field_of(item, key, str, path, at)
            if ref not in by_id:
                raise bad(path, at, f"{key} {ref!r} is not an entity of this sentence")
            ends.append(by_id[ref])
        triples.append(Triple(ends[0], relation, ends[1]))
    mentions = list(by_id.values())
    return Example(text=text, triples=triples, doc_id=doc_id, sent_id=sent_id, mentions=mentions), mentions


def _entity(item: Any, sentence: str, path: Path, at: str) -> Entity:
    surface = field_of(item, "entity", str, path, at)
    kind = field_of(item, "entity_type", str, path, at)
    start = field_of(item, "start_idx", int, path, at)
    end = field_of(item, "end_idx", int, path, at)
    if start < 0 or start > len(sentence):
        raise bad(
            path, at, f"start_idx {start} > len(sentence) {len(sentence)}" if start >= 0 else "start_idx < 0"
        )
    if end > len(sentence):
        raise bad(path, at, f"end_idx {end} > len(sentence) {len(sentence)}")
    if end <= start:
        raise bad(path, at, f"end_idx {end} <= start_idx {start}")
    if sentence[start:end] != surface:
        raise bad(path, at, f"entity {surface!r} != sentence[{start}:{end}] {sentence[start:end]!r}")
    return Entity(start, end, surface, kind)
