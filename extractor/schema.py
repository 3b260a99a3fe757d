"""The data types shared by the readers, the tagger, the model and the evaluator.

Offsets are character offsets into `Example.text`, end exclusive: `text[start:end] == entity.text`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Entity:
    start: int
    end: int
    text: str
    type: str = ""


@dataclass(frozen=True, order=True)
class Triple:
    head: Entity
    relation: str
    tail: Entity

    def key(self) -> tuple[str, str, str]:
        """The (subject, relation, object) strings that exact-match evaluation compares."""
        return (self.head.text, self.relation, self.tail.text)


@dataclass
class Example:
    """One annotated (or, with no triples, raw) sentence or window of a document.

    `mentions`: every entity mention annotated in it, in relations or not, where its corpus annotates them all
    (DiaKG, Ruijin); None where only the triples' arguments are known (CMeIE, DuIE, JSON lines).
    """

    text: str
    triples: list[Triple] = field(default_factory=list)
    doc_id: str = ""
    sent_id: str = ""
    mentions: list[Entity] | None = None
