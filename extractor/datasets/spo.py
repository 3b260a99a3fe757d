"""CMeIE and DuIE 2.0 reader: JSON lines of `{"text", "spo_list"}` with strings but no offsets.

Mentions are located in the text (closest pair of occurrences); those not found are counted and their triples
dropped. Complex DuIE objects are flattened as DuIE's official evaluation does: each extra key of `object`
becomes its own triple with predicate `<predicate>_<key>`, while `@value` keeps the plain predicate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from extractor.datasets._json import field_of, json_lines
from extractor.datasets.document import Document, bad
from extractor.datasets.locate import closest_pair, occurrences, text_id
from extractor.schema import Entity, Example, Triple

MAIN_KEY = "@value"


def read_spo(path: Path) -> list[Document]:
    """One Document (of one Example) per non-empty line; doc_id is a short sha256 of the text."""
    docs = []
    for n, where, record in json_lines(path):
        text = field_of(record, "text", str, path, where)
        doc_id = text_id(text)
        doc = Document(doc_id=doc_id, source=f"{path}:{n}", examples=[])
        doc.notes["mentions_not_found"] += 0  # listed even when zero: it is the figure people look for
        triples: list[Triple] = []
        for k, spo in enumerate(field_of(record, "spo_list", list, path, where)):
            for subject, predicate, obj in flatten(spo, path, f"{where}: spo_list[{k}]"):
                triple = _locate(text, subject, predicate, obj, doc)
                if triple is None:
                    continue
                if triple in triples:
                    doc.notes["duplicate_triples"] += 1
                else:
                    triples.append(triple)
        doc.examples = [Example(text=text, triples=triples, doc_id=doc_id, sent_id=f"{doc_id}:0")]
        doc.entities = sorted({e for t in triples for e in (t.head, t.tail)})
        docs.append(doc)
    return docs


def flatten(spo: Any, path: Path, where: str) -> list[tuple[tuple[str, str], str, tuple[str, str]]]:
    """((subject, type), predicate, (object, type)) for the main object and each extra key of the object."""
    subject = field_of(spo, "subject", str, path, where)
    subject_type = spo.get("subject_type", "") if isinstance(spo.get("subject_type", ""), str) else ""
    predicate = field_of(spo, "predicate", str, path, where)
    objects = _as_value_map(field_of(spo, "object", (dict, str), path, where), path, f"{where}.object")
    if MAIN_KEY not in objects:
        raise bad(path, f"{where}.object", f"missing field {MAIN_KEY!r}")
    types = _as_value_map(spo.get("object_type", {}), path, f"{where}.object_type")
    return [
        (
            (subject, subject_type),
            predicate if key == MAIN_KEY else f"{predicate}_{key}",
            (value, types.get(key, "")),
        )
        for key, value in objects.items()
    ]


def _as_value_map(value: Any, path: Path, where: str) -> dict[str, str]:
    """`{"@value": v, ...}` as a dict of strings; a bare string means `{"@value": string}`."""
    if isinstance(value, str):
        return {MAIN_KEY: value}
    if not isinstance(value, dict):
        raise bad(path, where, f"expected an object or a string, got {type(value).__name__}")
    return {key: field_of(value, key, str, path, where) for key in value}


def _locate(
    text: str, subject: tuple[str, str], predicate: str, obj: tuple[str, str], doc: Document
) -> Triple | None:
    heads, tails = occurrences(text, subject[0]), occurrences(text, obj[0])
    doc.notes["mentions"] += 2
    for found in (heads, tails):
        if not found:
            doc.notes["mentions_not_found"] += 1
    pair = closest_pair(heads, len(subject[0]), tails, len(obj[0]))
    if pair is None:
        doc.notes["triples_dropped_unlocated"] += 1
        return None
    h, t = pair
    head = Entity(h, h + len(subject[0]), subject[0], subject[1])
    tail = Entity(t, t + len(obj[0]), obj[0], obj[1])
    return Triple(head, predicate, tail)
