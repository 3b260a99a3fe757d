"""Negative relation sampling: which relation types each training sentence (or batch) scores.

Scoring all K relation tables costs K x L x L cells per sentence, almost all of them "-". NRS keeps every
relation type that occurs in a sentence (they carry its positive cells) and adds negative types drawn
uniformly, so that `ns` types are scored; only those columns of the relation matrix get gradients.
Inference always scores all K.

Per sentence (the method): each sentence gets its own positives plus its own negatives. Per batch (as first
built): the union of the batch's positives plus shared negatives; a batch of 16 DiaKG sentences already
holds ~6.5 of the 16 types, so there NS = 5, 10 or K scored nearly the same tables.

Several corpora: a sentence's negatives come only from the types its own corpus annotates. Ruijin does not
annotate DiaKG's Class_Disease, so a Ruijin sentence scoring that table as "-" would teach the model to miss
classes that are there.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

import numpy as np


def sample_relations(
    positive: Iterable[int],
    num_relations: int,
    ns: int,
    rng: np.random.Generator,
    candidates: Iterable[int] | None = None,
) -> np.ndarray:
    """The sorted, distinct relation indices to score: every positive, plus uniform negatives up to `ns`.

    Returns all K indices when `ns >= num_relations`. When the batch has more positive types than `ns`,
    all positives are kept and no negative is drawn, so the result is LONGER than `ns`: dropping a positive
    type would train its gold cells as "-". Negatives come from `candidates` (default: every type), the types
    the sentence's corpus annotates, so the result is shorter than `ns` when they run out. The draw depends
    only on `rng`, so a seeded generator reproduces it.
    """
    if ns < 1:
        raise ValueError(f"ns must be >= 1, got {ns}")
    if num_relations < 1:
        raise ValueError(f"num_relations must be >= 1, got {num_relations}")
    positives = np.unique(np.fromiter(positive, dtype=np.int64))
    if len(positives) and (positives[0] < 0 or positives[-1] >= num_relations):
        raise ValueError(
            f"positive relation indices must lie in [0, {num_relations}), got {positives.tolist()}"
        )
    if ns >= num_relations:
        return np.arange(num_relations, dtype=np.int64)
    wanted = ns - len(positives)
    if wanted <= 0:
        return positives
    pool = np.arange(num_relations) if candidates is None else np.unique(np.fromiter(candidates, np.int64))
    pool = np.setdiff1d(pool.astype(np.int64), positives, assume_unique=True)
    negatives = rng.choice(pool, size=min(wanted, len(pool)), replace=False)
    return np.sort(np.concatenate([positives, negatives]))


def sample_relations_per_example(
    positives: list[set[int]],
    num_relations: int,
    ns: int,
    rng: np.random.Generator,
    candidates: Sequence[Collection[int] | None] | None = None,
) -> np.ndarray:
    """(B, W) relation indices, each row sorted and distinct: that sentence's positives plus its negatives.

    W = max(ns, most positives in one sentence), capped at K, so the rows form one tensor: a sentence with
    more positive types than `ns` keeps them all and the others draw negatives up to the same width. A row
    whose `candidates` (its corpus's types) run out is filled with the lowest other types, columns the batch
    leaves unscored (`batching.collate`).
    """
    width = min(num_relations, max([ns, *(len(p) for p in positives)]))
    rows = []
    for n, mine in enumerate(positives):
        row = sample_relations(mine, num_relations, width, rng, None if candidates is None else candidates[n])
        if len(row) < width:
            rest = np.setdiff1d(np.arange(num_relations, dtype=np.int64), row, assume_unique=True)
            row = np.sort(np.concatenate([row, rest[: width - len(row)]]))
        rows.append(row)
    return np.stack(rows) if rows else np.zeros((0, width), dtype=np.int64)
