"""Training-time augmentation: mentions swapped for others of the same kind, and characters masked.

A model trained on a few dozen documents learns which strings are entities more than what context makes one:
on DiaKG's validation documents it finds most triples whose mentions it saw in training and few of the others.
Putting other mentions into the same context each epoch (Dai & Adel, 2020, "An analysis of simple data
augmentation for named entity recognition") makes the context carry the label.

Mentions that overlap (DiaKG nests an anatomy and a class inside many diseases: 糖尿病肾病 holds 肾) are
replaced together, as a unit, by another unit of the same shape: the same types in the same order and the same
triples among them, so every triple stays true of the new text.

Token masking hides a share of each training window's characters behind the encoder's [MASK] token, afresh
each step: a mention whose characters are partly hidden can only be found from the rest of it and its context,
as a new document's unseen mentions must be.

Adversarial embeddings (FGM, Miyato et al. 2017) train each step a second time on the token embeddings moved a
small step in the direction that raises the loss most, so that nearby characters and strings score alike.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from extractor.schema import Entity, Example, Triple

Mention = tuple[int, int, str]  # start, end, type
# A unit's shape: its mentions' types in order, and its inner triples as (head index, relation, tail index).
Shape = tuple[tuple[str, ...], tuple[tuple[int, str, int], ...]]


@dataclass(frozen=True, order=True)
class Unit:
    """Overlapping mentions as one stretch of text; `spans` are offsets in `text`, in mention order."""

    text: str
    spans: tuple[tuple[int, int], ...]


MentionPool = dict[Shape, list[Unit]]


def units(example: Example) -> list[tuple[int, int, list[Mention], Shape]]:
    """The example's units: (start, end, mentions ordered by start then longest first, shape)."""
    mentions = sorted(
        {(e.start, e.end, e.type) for t in example.triples for e in (t.head, t.tail)},
        key=lambda m: (m[0], -m[1], m[2]),
    )
    groups: list[list[Mention]] = []
    for mention in mentions:
        if groups and mention[0] < max(end for _, end, _ in groups[-1]):
            groups[-1].append(mention)
        else:
            groups.append([mention])
    found = []
    for group in groups:
        index = {m: i for i, m in enumerate(group)}
        inner = sorted(
            {
                (index[head], t.relation, index[tail])
                for t in example.triples
                if (head := (t.head.start, t.head.end, t.head.type)) in index
                and (tail := (t.tail.start, t.tail.end, t.tail.type)) in index
            }
        )
        shape = (tuple(kind for _, _, kind in group), tuple(inner))
        found.append((group[0][0], max(end for _, end, _ in group), group, shape))
    return found


def mention_pool(examples: Iterable[Example]) -> MentionPool:
    """The distinct units of each shape among the examples (left out: shapes with one text)."""
    pool: defaultdict[Shape, set[Unit]] = defaultdict(set)
    for example in examples:
        for start, end, group, shape in units(example):
            if "" in shape[0]:  # an untyped mention could be anything: nothing stands in for it
                continue
            spans = tuple((s - start, e - start) for s, e, _ in group)
            pool[shape].add(Unit(example.text[start:end], spans))
    return {shape: sorted(found) for shape, found in pool.items() if len({unit.text for unit in found}) > 1}


def replace_mentions(example: Example, pool: MentionPool, rate: float, rng: np.random.Generator) -> Example:
    """A copy of `example` where each unit, with probability `rate`, becomes another unit of its shape with
    other text; every offset after it moves with the text. The copy's `mentions` are None (the mention
    column is not scored on it): a mention in no triple may lie inside a replaced unit."""
    chosen: list[tuple[int, int, list[Mention], Unit]] = []
    for start, end, group, shape in units(example):
        options = pool.get(shape)
        if options is None or rng.random() >= rate:
            continue
        text = example.text[start:end]
        new = options[rng.integers(len(options))]
        while new.text == text:
            new = options[rng.integers(len(options))]
        chosen.append((start, end, group, new))
    if not chosen:
        return example

    pieces, moved, shifts, cursor, shift = [], {}, [], 0, 0  # shifts: (old position, shift from there on)
    for start, end, group, new in chosen:
        pieces += [example.text[cursor:start], new.text]
        begin = start + shift
        for mention, (s, e) in zip(group, new.spans, strict=True):
            moved[mention] = Entity(begin + s, begin + e, new.text[s:e], mention[2])
        shift += len(new.text) - (end - start)
        shifts.append((end, shift))
        cursor = end
    pieces.append(example.text[cursor:])

    def entity(e: Entity) -> Entity:
        if (e.start, e.end, e.type) in moved:
            return moved[(e.start, e.end, e.type)]
        offset = next((s for end, s in reversed(shifts) if e.start >= end), 0)
        return Entity(e.start + offset, e.end + offset, e.text, e.type)

    triples = [Triple(entity(t.head), t.relation, entity(t.tail)) for t in example.triples]
    return Example("".join(pieces), triples, example.doc_id, example.sent_id)


def mask_tokens(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, rate: float, mask_id: int, rng: np.random.Generator
) -> torch.Tensor:
    """A copy of a right-padded batch (B, T) where each token, the first and last of a row (the special
    tokens) and padding aside, is `mask_id` with probability `rate`."""
    lengths = attention_mask.sum(dim=1, keepdim=True)
    positions = torch.arange(input_ids.shape[1]).unsqueeze(0)
    inner = (positions > 0) & (positions < lengths - 1)
    drawn = torch.from_numpy(rng.random(tuple(input_ids.shape)) < rate)
    return torch.where(inner & drawn, torch.full_like(input_ids, mask_id), input_ids)


@contextmanager
def adversarial_embeddings(weight: torch.nn.Parameter, epsilon: float) -> Iterator[None]:
    """FGM (Miyato et al. 2017): the embedding matrix moved by `epsilon` along its loss gradient, the
    direction that hurts most at first order, for one more pass; restored exactly after; needs .grad."""
    norm = torch.linalg.vector_norm(weight.grad)
    if not torch.isfinite(norm) or norm == 0:
        yield
        return
    kept = weight.detach().clone()
    with torch.no_grad():
        weight.add_(weight.grad, alpha=epsilon / norm.item())
    try:
        yield
    finally:
        with torch.no_grad():
            weight.copy_(kept)
