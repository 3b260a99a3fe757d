"""What a set of documents holds: the relation schema a model needs, and the figures of `nrskg data stats`."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from extractor.datasets.document import Document


@dataclass(frozen=True)
class RelationType:
    """A relation and its arguments' usual entity types (a predicted entity takes its type from here)."""

    name: str
    head_type: str
    tail_type: str
    count: int


def relation_schema(docs: Sequence[Document]) -> list[RelationType]:
    """Every relation in the gold triples, sorted by name, with its most frequent head and tail types.

    Ties between types are broken by name so the schema does not depend on document order.
    """
    heads: dict[str, Counter[str]] = defaultdict(Counter)
    tails: dict[str, Counter[str]] = defaultdict(Counter)
    for doc in docs:
        for _, triple in doc.gold_triples():
            heads[triple.relation][triple.head.type] += 1
            tails[triple.relation][triple.tail.type] += 1
    return [
        RelationType(name, _most_common(heads[name]), _most_common(tails[name]), sum(heads[name].values()))
        for name in sorted(heads)
    ]


def stats(docs: Sequence[Document]) -> dict[str, object]:
    """Counts and shape figures of a data set; gold triples count once even where windows repeat them."""
    lengths = sorted(len(e.text) for d in docs for e in d.examples)
    entities = [e for d in docs for e in d.entities]
    triples = [t for d in docs for _, t in d.gold_triples()]
    notes: Counter[str] = Counter()
    for doc in docs:
        notes.update(doc.notes)
    return {
        "documents": len(docs),
        "sentences": len(lengths),
        "entities": len(entities),
        "triples": len(triples),
        "relation_types": len({t.relation for t in triples}),
        "sentence_chars_median": _percentile(lengths, 50),
        "sentence_chars_p95": _percentile(lengths, 95),
        "sentence_chars_max": lengths[-1] if lengths else 0,
        "single_char_entity_share": (
            sum(e.end - e.start == 1 for e in entities) / len(entities) if entities else 0.0
        ),
        "notes": dict(sorted(notes.items())),
    }


def _percentile(sorted_values: Sequence[int], q: float) -> int:
    """Nearest-rank percentile: a value that occurs in the data."""
    if not sorted_values:
        return 0
    return sorted_values[max(math.ceil(q / 100 * len(sorted_values)) - 1, 0)]


def _most_common(counts: Counter[str]) -> str:
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0] if counts else ""
