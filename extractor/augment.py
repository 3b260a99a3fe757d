"""Mention replacement: training windows whose entity mentions are swapped for others of the same type.

A model trained on a few dozen documents learns which strings are entities more than what context makes one:
on DiaKG's validation documents it finds most triples whose mentions it saw in training and few of the others.
Putting other mentions of the type into the same context each epoch (Dai & Adel, 2020, "An analysis of simple
data augmentation for named entity recognition") makes the context carry the label.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from extractor.schema import Entity, Example, Triple

MentionPool = dict[str, list[str]]  # entity type -> distinct mention texts, sorted


def mention_pool(examples: Iterable[Example]) -> MentionPool:
    """The distinct mention texts of each entity type among the examples' triples (typed entities only)."""
    pool: defaultdict[str, set[str]] = defaultdict(set)
    for example in examples:
        for triple in example.triples:
            for entity in (triple.head, triple.tail):
                if entity.type:
                    pool[entity.type].add(entity.text)
    return {kind: sorted(texts) for kind, texts in pool.items() if len(texts) > 1}


def replace_mentions(example: Example, pool: MentionPool, rate: float, rng: np.random.Generator) -> Example:
    """A copy of `example` where each mention that overlaps no other, with probability `rate`, becomes a
    random other mention of its type; every offset after it moves with the text.

    Nested and overlapping mentions stay as they are, so every triple remains a triple of the new text.
    """
    mentions = sorted({(e.start, e.end, e.type) for t in example.triples for e in (t.head, t.tail)})
    chosen: dict[tuple[int, int], str] = {}
    for i, (start, end, kind) in enumerate(mentions):
        alone = all(other[1] <= start or end <= other[0] for j, other in enumerate(mentions) if j != i)
        if alone and len(pool.get(kind, ())) > 1 and rng.random() < rate:
            text = example.text[start:end]
            options = pool[kind]
            new = options[rng.integers(len(options))]
            while new == text:
                new = options[rng.integers(len(options))]
            chosen[(start, end)] = new
    if not chosen:
        return example

    pieces, shifts, cursor, shift = [], [], 0, 0  # shifts: (old position, shift from there on)
    for (start, end), new in sorted(chosen.items()):
        pieces += [example.text[cursor:start], new]
        shift += len(new) - (end - start)
        shifts.append((end, shift))
        cursor = end
    pieces.append(example.text[cursor:])
    text = "".join(pieces)

    def moved(position: int) -> int:
        """A position after the replacements (a mention's end moves with its own replacement)."""
        return position + next((s for end, s in reversed(shifts) if position >= end), 0)

    def entity(e: Entity) -> Entity:
        if (e.start, e.end) in chosen:
            start = moved(e.start)
            new = chosen[(e.start, e.end)]
            return Entity(start, start + len(new), new, e.type)
        return Entity(moved(e.start), moved(e.end), e.text, e.type)

    triples = [Triple(entity(t.head), t.relation, entity(t.tail)) for t in example.triples]
    return Example(text, triples, example.doc_id, example.sent_id)
