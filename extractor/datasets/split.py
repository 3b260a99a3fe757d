"""A validation split by document that keeps documents sharing text on the same side.

DiaKG and Ruijin annotate many of the same guideline texts, and Ruijin files `N_k` are parts of one source, so
a naive document split leaks. Following shared/data/README.md: remove whitespace, sample character 12-grams
every 6 characters, link two documents when >= 10% of one's samples occur anywhere in the other, and split
connected components (plus `Document.group`s and identical texts) as units, in an order fixed by the seed.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Sequence

from extractor.datasets.document import Document

log = logging.getLogger(__name__)


# How text sharing is detected: the values the held-out split was made with.
NGRAM = 12
EVERY = 6
LINK_SHARE = 0.10
OVERSHOOT = 1.10  # a component may push the validation side to at most 110% of its target


def split_documents(
    docs: Sequence[Document], val_fraction: float, seed: int
) -> tuple[list[Document], list[Document]]:
    """(train, validation) documents in input order; about `val_fraction` of the documents go to validation.

    Deterministic for a given seed and input. When one component holds (nearly) everything, validation may
    come out smaller than asked, or empty; that is logged rather than broken up, since breaking it would leak.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    components = linked_components(docs)
    order = sorted(components, key=lambda c: _rank(seed, min(docs[i].doc_id for i in c)))
    target = val_fraction * len(docs)
    val: set[int] = set()
    for component in order:
        if len(val) >= target:
            break
        if len(val) + len(component) <= max(target * OVERSHOOT, 1):
            val.update(component)
    if val_fraction and len(val) < 0.5 * target:
        log.warning(
            "validation split holds %d of %d documents (asked %.0f%%): too much shared text to split finer",
            len(val),
            len(docs),
            100 * val_fraction,
        )
    train = [d for i, d in enumerate(docs) if i not in val]
    return train, [d for i, d in enumerate(docs) if i in val]


def linked_components(docs: Sequence[Document]) -> list[list[int]]:
    """Indices of `docs` grouped into units that must not be separated, each sorted, in first-member order."""
    parent = list(range(len(docs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        parent[find(i)] = find(j)

    texts = ["".join(d.text().split()) for d in docs]
    first_of: dict[tuple[str, str], int] = {}
    for i, (doc, text) in enumerate(zip(docs, texts, strict=True)):
        for key in (("group", doc.group), ("text", text)):
            union(i, first_of.setdefault(key, i))
    for i, j in _overlapping_pairs(texts):
        union(i, j)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(docs)):
        groups[find(i)].append(i)
    return sorted(groups.values(), key=lambda c: c[0])


def _overlapping_pairs(texts: Sequence[str]) -> set[tuple[int, int]]:
    """Pairs (a, b) where >= LINK_SHARE of a's sampled n-grams occur in b."""
    n = NGRAM
    sampled_in: dict[str, list[int]] = defaultdict(list)  # n-gram -> documents, once per time it was sampled
    sampled_count = [0] * len(texts)
    for a, text in enumerate(texts):
        for k in range(0, len(text) - n + 1, EVERY):
            sampled_in[text[k : k + n]].append(a)
            sampled_count[a] += 1
    pairs: set[tuple[int, int]] = set()
    for b, text in enumerate(texts):
        hits: dict[int, int] = defaultdict(int)  # a -> a's samples found in b
        for gram in {text[k : k + n] for k in range(len(text) - n + 1)} & sampled_in.keys():
            for a in sampled_in[gram]:
                hits[a] += 1
        pairs.update((a, b) for a, h in hits.items() if a != b and h >= LINK_SHARE * sampled_count[a])
    return pairs


def _rank(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()
