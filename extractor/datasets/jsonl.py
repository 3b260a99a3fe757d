"""Plain JSON lines for users' own annotations.

`{"text": ..., "triples": [{"subject", "relation", "object", "subject_start"?, "object_start"?,
"subject_type"?, "object_type"?}], "doc_id"?}`. Offsets are optional: absent ones are located in the text
(closest pair). Unlike
the public data sets, a user's file is expected to be right, so a mention that is not found, or a given offset
that does not match the text, is an error naming the line. Lines sharing a `doc_id` form one Document.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from extractor.datasets._json import field_of, json_lines
from extractor.datasets.document import Document, bad
from extractor.datasets.locate import closest_pair, occurrences, text_id
from extractor.schema import Entity, Example, Triple


def read_jsonl(path: Path) -> list[Document]:
    """Documents in order of first appearance; each line is one Example `<doc_id>:<index within the doc>`."""
    docs: dict[str, Document] = {}
    for _, where, record in json_lines(path):
        text = field_of(record, "text", str, path, where)
        doc_id = (
            str(field_of(record, "doc_id", (str, int), path, where)) if "doc_id" in record else text_id(text)
        )
        doc = docs.setdefault(doc_id, Document(doc_id=doc_id, source=str(path), examples=[]))
        triples = [
            _triple(item, text, path, f"{where}: triples[{k}]")
            for k, item in enumerate(field_of(record, "triples", list, path, where))
        ]
        doc.examples.append(Example(text, triples, doc_id, f"{doc_id}:{len(doc.examples)}"))
        doc.entities.extend(sorted({e for t in triples for e in (t.head, t.tail)}))
    return list(docs.values())


def _triple(item: Any, text: str, path: Path, where: str) -> Triple:
    relation = field_of(item, "relation", str, path, where)
    subject, subject_starts = _candidates(item, "subject", text, path, where)
    obj, object_starts = _candidates(item, "object", text, path, where)
    pair = closest_pair(subject_starts, len(subject), object_starts, len(obj))
    assert pair is not None  # _candidates never returns an empty list
    h, t = pair
    return Triple(
        Entity(h, h + len(subject), subject, _optional_str(item, "subject_type", path, where)),
        relation,
        Entity(t, t + len(obj), obj, _optional_str(item, "object_type", path, where)),
    )


def _candidates(item: Any, role: str, text: str, path: Path, where: str) -> tuple[str, list[int]]:
    """The mention and its possible starts: the given offset (checked) or every occurrence."""
    mention = field_of(item, role, str, path, where)
    if not mention:
        raise bad(path, where, f"{role} is empty")
    if f"{role}_start" in item:
        start = field_of(item, f"{role}_start", int, path, where)
        if text[start : start + len(mention)] != mention or start < 0:
            found = text[max(start, 0) : max(start, 0) + len(mention)]
            raise bad(path, where, f"{role} {mention!r} != text[{start}:{start + len(mention)}] {found!r}")
        return mention, [start]
    starts = occurrences(text, mention)
    if not starts:
        raise bad(path, where, f"{role} {mention!r} not found in the text")
    return mention, starts


def _optional_str(item: Any, key: str, path: Path, where: str) -> str:
    return field_of(item, key, str, path, where) if key in item else ""
