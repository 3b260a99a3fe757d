"""Relation-specific horns tagging (OneRel) with set-valued cells, so one-token entities survive.

A triple is a token span tuple `(rel, hb, he, tb, te)`: relation index, head begin/end, tail begin/end,
ends INCLUSIVE. It writes three marks into its relation's table (rows = head tokens, columns = tail tokens):

    HB-TB at (rel, hb, tb)    HB-TE at (rel, hb, te)    HE-TE at (rel, he, te)

OneRel gives each cell ONE of the labels `-`, HB-TB, HB-TE, HE-TE, so a one-token tail (tb == te) or head
(hb == he) makes two marks collide in one cell and one is lost; the reference inserts a marker token after
every word to avoid that, which doubles L. Here a cell's class is the SET of marks it carries: 8 classes,
the subsets of {HB-TB, HB-TE, HE-TE}. Classes 0-3 are OneRel's (`-` and the single marks), 4-7 the
combinations. L stays the number of tokens, and two triples that put different marks into one cell no
longer overwrite each other.

Decoding. The table is a projection, and recovering triples is two interval problems glued together:
- in row (rel, hb), the HB-TB cells are the begins and the HB-TE cells the ends of the TAILS of heads
  that begin at hb;
- in column (rel, te), the HB-TE cells are the begins and the HE-TE cells the ends of the HEADS of tails
  that end at te.
Each family of intervals is rebuilt from its begins and ends like brackets (`_pair_intervals`): scanning
left to right, an end closes the most recent still-open begin; an end with no open begin shares the
nearest begin to its left; a begin never closed is closed by the nearest end to its right. Such a shared
partner is taken only within `SHARED_SPAN_TOKENS`: in a model's table a begin whose own end mark is missing
would otherwise reach the end of a later mention of the same string, dozens of tokens away. Then every HB-TE
cell (rel, hb, te) yields the triples (rel, hb, he, tb, te) for each tail begin tb paired with te in row hb
and each head end he paired with hb in column te. OneRel instead pairs an HB-TE with the "next non-zero
cell", which pairs the wrong spans as soon as one head row holds several tails.

Guarantee. `decode_cells(*encode_cells(T, ...)) == T` when, for every relation,
1. the tails of the triples that share a head begin form a DECODABLE family, and so do the heads of the
   triples that share a tail end; a family is decodable when
   a. no two of its intervals share a begin or an end, and any two are disjoint or nested (brackets:
      disjoint tails, strictly nested tails, one-token tails), or
   b. all of its intervals share one begin, or all share one end (nested tails sharing a begin or end), and
      each of them but the shortest spans at most `SHARED_SPAN_TOKENS` tokens;
2. the triples sharing an HB-TE cell (head begin, tail end) combine their head ends and tail begins
   freely (true whenever one of the two is unique, e.g. one triple per cell).
Shared entities (one head with many tails, many heads with one tail, the same span as head and tail) are
in that class as long as the spans themselves are.

Ambiguity: other configurations can have the same table as another set of triples, so no decoder can be
exact for them. Examples: crossing tails [1,4], [3,6] of one head look like nested tails [1,6], [3,4]
(decoded as the nested pair); [1,5], [3,5], [3,4] look like [1,5], [3,4] (the middle interval, whose
begin and end both belong to others, is lost); head ends {1,3} x tail begins {5,6} in one HB-TE cell
decode to all four combinations even if only two were gold.
What decoding does guarantee for ANY table made by `encode`: its result writes no mark the table lacks, and
every mark of it but those that would need a shared partner farther than `SHARED_SPAN_TOKENS`. On DiaKG's
train split every family is of kind 1a or a single interval and no cell is shared, so the character-level
oracle recall is 1.000 (see `oracle_recall`).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from extractor.alignment import char_span_to_tokens, tokens_to_char_span
from extractor.schema import Example

SpanTriple = tuple[int, int, int, int, int]
"""(relation index, head begin, head end, tail begin, tail end): token indices, ends inclusive."""

# Mark ids are the class ids of the single-mark classes, as in OneRel.
HB_TB, HB_TE, HE_TE = 1, 2, 3
MARKS = (HB_TB, HB_TE, HE_TE)

# Internally a cell is a bit set: bit (mark - 1) is set when the cell carries `mark`.
_BIT = {mark: 1 << (mark - 1) for mark in MARKS}
# Class id -> bit set: 0-3 are OneRel's `-`, HB-TB, HB-TE, HE-TE; 4-7 the combinations, in bit order.
_CLASS_TO_BITS = np.array([0, 1, 2, 4, 3, 5, 6, 7], dtype=np.int64)
_BITS_TO_CLASS = np.argsort(_CLASS_TO_BITS).astype(np.int64)  # the inverse permutation

NUM_LABELS = len(_CLASS_TO_BITS)


def marks_of(class_id: int) -> frozenset[int]:
    """The marks (HB_TB, HB_TE, HE_TE) that class `class_id` stands for; the empty set for class 0."""
    if not 0 <= class_id < NUM_LABELS:
        raise ValueError(f"class id {class_id} out of range [0, {NUM_LABELS})")
    bits = int(_CLASS_TO_BITS[class_id])
    return frozenset(mark for mark in MARKS if bits & _BIT[mark])


def class_of(marks: Iterable[int]) -> int:
    """The class id of a set of marks (any iterable of HB_TB, HB_TE, HE_TE; repeats are fine)."""
    bits = 0
    for mark in marks:
        if mark not in _BIT:
            raise ValueError(f"unknown mark {mark}: expected one of {MARKS}")
        bits |= _BIT[mark]
    return int(_BITS_TO_CLASS[bits])


def cells(triple: SpanTriple) -> list[tuple[int, int, int, int]]:
    """The `(rel, row, column, mark)` cells a triple writes: its confidence comes from exactly these."""
    rel, hb, he, tb, te = triple
    return [(rel, hb, tb, HB_TB), (rel, hb, te, HB_TE), (rel, he, te, HE_TE)]


def _check_triple(triple: SpanTriple, num_relations: int, length: int) -> None:
    rel, hb, he, tb, te = triple
    if not 0 <= rel < num_relations:
        raise ValueError(f"triple {triple}: relation {rel} out of range [0, {num_relations})")
    if not (0 <= hb <= he < length and 0 <= tb <= te < length):
        raise ValueError(
            f"triple {triple}: spans head [{hb}, {he}] and tail [{tb}, {te}] must satisfy "
            f"0 <= begin <= end < length = {length}"
        )


def encode_cells(
    triples: Iterable[SpanTriple], num_relations: int, length: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The non-zero cells of `encode(...)` as parallel int64 arrays `(rel, row, col, class)`.

    Sparse, so a long sentence costs nothing like K x L x L, and a batch can scatter its targets into a
    tensor on the device.
    """
    if num_relations < 0 or length < 0:  # zero is fine: an empty window has an empty table
        raise ValueError(f"table shape needs num_relations, length >= 0, got {num_relations}, {length}")
    bits: dict[tuple[int, int, int], int] = defaultdict(int)
    for triple in triples:
        _check_triple(triple, num_relations, length)
        for rel, row, col, mark in cells(triple):
            bits[rel, row, col] |= _BIT[mark]
    coords = np.array(list(bits), dtype=np.int64).reshape(-1, 3)
    classes = _BITS_TO_CLASS[np.fromiter(bits.values(), dtype=np.int64, count=len(bits))]
    return coords[:, 0], coords[:, 1], coords[:, 2], classes


def encode(triples: Iterable[SpanTriple], num_relations: int, length: int) -> np.ndarray:
    """The (num_relations, length, length) int64 class table of a set of token-span triples."""
    rel, row, col, classes = encode_cells(triples, num_relations, length)
    table = np.zeros((num_relations, length, length), dtype=np.int64)
    table[rel, row, col] = classes
    return table


SHARED_SPAN_TOKENS = 8
"""The longest interval, in tokens, that decoding builds from a begin or an end it shares with another
interval. On DiaKG's validation documents most such intervals a trained model's table yields are wrong, and
dropping those longer than 8 tokens raises precision from 0.575 to 0.653 at recall 0.402 -> 0.397; nested
gold spans that share a begin or an end are short: the oracle recall stays 1.000 on DiaKG and Ruijin, 0.998
on CMeIE and 0.999 on DuIE (docs/results.md, "Decoding")."""


def _pair_intervals(begins: Sequence[int], ends: Sequence[int]) -> list[tuple[int, int]]:
    """Rebuild a family of intervals from its sorted, distinct begins and ends, bracket-style (module doc).

    Every begin and every end that has a partner on the proper side, a shared one within
    `SHARED_SPAN_TOKENS`, is used at least once.
    """
    pairs: list[tuple[int, int]] = []
    open_begins: list[int] = []
    next_begin = 0
    for end in ends:
        while next_begin < len(begins) and begins[next_begin] <= end:  # a begin opens before an end at p
            open_begins.append(begins[next_begin])
            next_begin += 1
        if open_begins:
            begin = open_begins.pop()
        elif next_begin and end - begins[next_begin - 1] < SHARED_SPAN_TOKENS:
            begin = begins[next_begin - 1]  # shares the nearest begin with an interval closed earlier
        else:
            continue  # no begin to its left near enough (only in a model's output)
        pairs.append((begin, end))
    for begin in open_begins:
        nearest = bisect.bisect_left(ends, begin)
        if nearest < len(ends) and ends[nearest] - begin < SHARED_SPAN_TOKENS:
            pairs.append((begin, ends[nearest]))  # shares the nearest end with an interval closed earlier
    return pairs


def decode_cells(
    rel: Sequence[int], row: Sequence[int], col: Sequence[int], classes: Sequence[int]
) -> set[SpanTriple]:
    """Decode the non-zero cells of a table given as parallel arrays (e.g. from `torch.nonzero` on the GPU).

    Zero classes are ignored; the order of the cells does not matter.
    """
    rel, row, col, classes = (np.asarray(a, dtype=np.int64).ravel() for a in (rel, row, col, classes))
    if not len(rel) == len(row) == len(col) == len(classes):
        raise ValueError(f"cell arrays differ in length: {len(rel)}, {len(row)}, {len(col)}, {len(classes)}")
    if len(classes) and (classes.min() < 0 or classes.max() >= NUM_LABELS):
        raise ValueError(f"class ids must lie in [0, {NUM_LABELS}), got {classes.min()}..{classes.max()}")
    order = np.lexsort((row, col, rel))  # by relation, then column, then row: rows ascend within columns
    rel, row, col, bits = rel[order], row[order], col[order], _CLASS_TO_BITS[classes[order]]

    tail_begins: dict[tuple[int, int], list[int]] = defaultdict(list)  # (rel, hb) -> tb
    tail_ends: dict[tuple[int, int], list[int]] = defaultdict(list)  # (rel, hb) -> te
    head_begins: dict[tuple[int, int], list[int]] = defaultdict(list)  # (rel, te) -> hb
    head_ends: dict[tuple[int, int], list[int]] = defaultdict(list)  # (rel, te) -> he
    for k, i, j, b in zip(rel.tolist(), row.tolist(), col.tolist(), bits.tolist(), strict=True):
        if b & _BIT[HB_TB]:
            tail_begins[k, i].append(j)
        if b & _BIT[HB_TE]:
            tail_ends[k, i].append(j)
            head_begins[k, j].append(i)
        if b & _BIT[HE_TE]:
            head_ends[k, j].append(i)

    # The lists are sorted: cells come by relation, column, row, so columns ascend within a row and rows
    # within a column.
    tails: dict[tuple[int, int, int], list[int]] = defaultdict(list)  # (rel, hb, te) -> tb
    for (k, hb), ends in tail_ends.items():
        for tb, te in _pair_intervals(tail_begins.get((k, hb), ()), ends):
            tails[k, hb, te].append(tb)
    triples: set[SpanTriple] = set()
    for (k, te), begins in head_begins.items():
        for hb, he in _pair_intervals(begins, head_ends.get((k, te), ())):
            triples.update((k, hb, he, tb, te) for tb in tails.get((k, hb, te), ()))
    return triples


@dataclass
class OracleReport:
    """How many gold triples survive tokenize -> encode -> decode -> characters, and why the rest are lost."""

    gold: int = 0
    aligned: int = 0
    recovered: int = 0
    spurious: int = 0  # decoded triples that are not gold (ambiguous tables only)
    losses: dict[str, int] = field(default_factory=dict)

    @property
    def recall(self) -> float:
        return self.recovered / self.gold if self.gold else 1.0

    def as_dict(self) -> dict[str, object]:
        return {
            "gold": self.gold,
            "aligned": self.aligned,
            "recovered": self.recovered,
            "recall": self.recall,
            "spurious": self.spurious,
            "losses": dict(self.losses),
        }


LOSS_UNKNOWN_RELATION = "unknown relation"
LOSS_UNALIGNED = "unaligned boundary"
LOSS_DECODE = "decode ambiguity"


def oracle_recall(
    examples: Iterable[Example],
    relations: Sequence[str],
    token_offsets: Callable[[str], Sequence[tuple[int, int]]],
) -> OracleReport:
    """The share of gold triples that the tagging scheme can represent at all, given a tokenizer.

    Gold triples are compared as (head start, head end, relation, tail start, tail end) in characters, each
    counted once per example. `token_offsets(text)` gives each token's character span (no special tokens).
    """
    index = {name: k for k, name in enumerate(relations)}
    report = OracleReport()
    losses: dict[str, int] = defaultdict(int)
    for example in examples:
        gold = {(t.head.start, t.head.end, t.relation, t.tail.start, t.tail.end) for t in example.triples}
        report.gold += len(gold)
        if not gold:
            continue
        offsets = list(token_offsets(example.text))
        spans: set[SpanTriple] = set()
        for hs, he, relation, ts, te in gold:
            if relation not in index:
                losses[LOSS_UNKNOWN_RELATION] += 1
                continue
            head, tail = char_span_to_tokens(offsets, hs, he), char_span_to_tokens(offsets, ts, te)
            if (
                head is None
                or tail is None
                or tokens_to_char_span(offsets, *head) != (hs, he)
                or tokens_to_char_span(offsets, *tail) != (ts, te)
            ):  # a boundary inside a token, or on a character no token covers
                losses[LOSS_UNALIGNED] += 1
            else:
                spans.add((index[relation], *head, *tail))
        report.aligned += len(spans)
        if not spans:
            continue
        # Sparse cells, not `encode`'s dense table: a 1,000-token sentence would need a 100 MB one.
        decoded = {
            (*tokens_to_char_span(offsets, hb, he), relations[k], *tokens_to_char_span(offsets, tb, te))
            for k, hb, he, tb, te in decode_cells(*encode_cells(spans, len(relations), len(offsets)))
        }
        found = len(decoded & gold)
        report.recovered += found
        report.spurious += len(decoded - gold)
        losses[LOSS_DECODE] += len(spans) - found
    report.losses = {reason: n for reason, n in losses.items() if n}
    return report
