"""Labelled examples cut into the windows of `extractor.splitting`, and what that costs in gold relations.

A triple survives windowing only when some window holds both of its arguments; it is then kept in every such
window (the model sees it wherever it could predict it), and counted once in the report.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

from extractor.datasets.document import Document
from extractor.schema import Entity, Example, Triple
from extractor.splitting import window_spans


@dataclass
class WindowReport:
    """What windowing did: gold triples are counted once each, however many windows repeat them."""

    examples_in: int = 0
    examples_split: int = 0
    windows: int = 0
    triples_total: int = 0
    triples_kept: int = 0
    lost: list[tuple[str, Triple]] = field(default_factory=list)

    @property
    def triples_lost(self) -> int:
        return len(self.lost)


def window_examples(
    examples: Iterable[Example], max_chars: int, stride: int
) -> tuple[list[Example], WindowReport]:
    """Split examples longer than `max_chars` into overlapping windows with offsets re-based to each window.

    Windows of a split example get `sent_id` `<sent_id>@<start>` so predictions can be mapped back.
    """
    out: list[Example] = []
    report = WindowReport()
    for example in examples:
        report.examples_in += 1
        report.triples_total += len(example.triples)
        spans = window_spans(example.text, max_chars, stride)
        if len(spans) == 1:
            out.append(example)
            report.windows += 1
            report.triples_kept += len(example.triples)
            continue
        report.examples_split += 1
        # triples ordered by where they begin, so each window looks only at those beginning inside it
        order = sorted(range(len(example.triples)), key=lambda i: _bounds(example.triples[i]))
        begins = [_bounds(example.triples[i])[0] for i in order]
        kept: set[int] = set()  # indices, so that two identical gold triples are both counted
        for start, end in spans:
            candidates = order[bisect.bisect_left(begins, start) : bisect.bisect_left(begins, end)]
            inside = sorted(i for i in candidates if _bounds(example.triples[i])[1] <= end)
            kept.update(inside)
            triples = [_rebase(example.triples[i], start) for i in inside]
            mentions = None
            if example.mentions is not None:  # those wholly inside the window
                mentions = [_shift(e, start) for e in example.mentions if start <= e.start and e.end <= end]
            out.append(
                Example(
                    example.text[start:end], triples, example.doc_id, f"{example.sent_id}@{start}", mentions
                )
            )
        report.windows += len(spans)
        report.triples_kept += len(kept)
        report.lost.extend((example.sent_id, t) for i, t in enumerate(example.triples) if i not in kept)
    return out, report


def _bounds(triple: Triple) -> tuple[int, int]:
    """From the first argument's start to the last argument's end."""
    return min(triple.head.start, triple.tail.start), max(triple.head.end, triple.tail.end)


def triple_span(triple: Triple) -> int:
    """Characters from the first argument's start to the last argument's end: the window a triple needs."""
    begin, end = _bounds(triple)
    return end - begin


def reachable(docs: Iterable[Document], window_chars: int) -> tuple[int, int]:
    """(gold triples whose arguments fit together in `window_chars` characters, all gold triples).

    This is the best any windowing of that length can do; sentence-aligned windows reach somewhat fewer.
    """
    spans = [triple_span(t) for doc in docs for _, t in doc.gold_triples()]
    return sum(span <= window_chars for span in spans), len(spans)


def _shift(entity: Entity, offset: int) -> Entity:
    return Entity(entity.start - offset, entity.end - offset, entity.text, entity.type)


def _rebase(triple: Triple, offset: int) -> Triple:
    return Triple(_shift(triple.head, offset), triple.relation, _shift(triple.tail, offset))
