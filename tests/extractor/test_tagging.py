"""Set-valued horns tagging: encode/decode round trips, the documented ambiguous cases, oracle recall."""

from __future__ import annotations

import json
import random
from itertools import combinations
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from extractor import tagging
from extractor.alignment import char_offsets
from extractor.schema import Entity, Example, Triple
from extractor.tagging import (
    HB_TB,
    HB_TE,
    HE_TE,
    MARKS,
    NUM_LABELS,
    SHARED_SPAN_TOKENS,
    cells,
    class_of,
    decode_cells,
    encode,
    encode_cells,
    marks_of,
    oracle_recall,
)

MAX_RELATIONS = 3
MAX_LENGTH = 12


def decode(table: np.ndarray) -> set[tuple[int, int, int, int, int]]:
    """The triples of a dense (K, L, L) class table, through the cell decoder that inference uses."""
    rel, row, col = np.nonzero(table)
    return decode_cells(rel, row, col, table[rel, row, col])


# ---------------------------------------------------------------- what the module doc guarantees, restated
def _decodable(family: set[tuple[int, int]]) -> bool:
    """Kind 1a (brackets: laminar, no shared begin or end) or 1b (a fan sharing one begin or one end whose
    intervals but the shortest span at most SHARED_SPAN_TOKENS)."""
    begins = [b for b, _ in family]
    ends = [e for _, e in family]
    if len(set(begins)) <= 1 or len(set(ends)) <= 1:
        lengths = sorted(e - b + 1 for b, e in family)
        return all(n <= SHARED_SPAN_TOKENS for n in lengths[1:])
    laminar = all(
        e1 < b2 or e2 < b1 or (b1 <= b2 and e2 <= e1) or (b2 <= b1 and e1 <= e2)
        for (b1, e1), (b2, e2) in combinations(family, 2)
    )
    return laminar and len(set(begins)) == len(begins) and len(set(ends)) == len(ends)


def _guaranteed(triples: set[tuple[int, int, int, int, int]]) -> bool:
    tails, heads, shared_cell = {}, {}, {}
    for k, hb, he, tb, te in triples:
        tails.setdefault((k, hb), set()).add((tb, te))
        heads.setdefault((k, te), set()).add((hb, he))
        shared_cell.setdefault((k, hb, te), set()).add((he, tb))
    full_products = all(
        pairs == {(he, tb) for he, _ in pairs for _, tb in pairs} for pairs in shared_cell.values()
    )
    return full_products and all(_decodable(f) for f in [*tails.values(), *heads.values()])


# ---------------------------------------------------------------- strategies
@st.composite
def spans(draw, length: int = MAX_LENGTH) -> tuple[int, int]:
    begin = draw(st.integers(0, length - 1))
    return begin, draw(st.integers(begin, length - 1))


@st.composite
def triple_sets(draw, max_size: int = 8) -> set[tuple[int, int, int, int, int]]:
    """Any triples on a small table, so that spans nest, overlap, share cells and are often one token."""
    size = draw(st.integers(0, max_size))
    return {(draw(st.integers(0, MAX_RELATIONS - 1)), *draw(spans()), *draw(spans())) for _ in range(size)}


@st.composite
def bracket_families(draw) -> set[tuple[int, int]]:
    """Kind 1a: laminar spans with no shared begin or end, built greedily from random spans."""
    family: set[tuple[int, int]] = set()
    for span in draw(st.lists(spans(), max_size=6)):
        if _decodable(family | {span}) and len({b for b, _ in family | {span}}) == len(family) + 1:
            family.add(span)
    return family


@st.composite
def fan_families(draw) -> set[tuple[int, int]]:
    """Kind 1b: spans sharing one begin (nested tails with one start) or one end."""
    begin, end = draw(spans())
    others = draw(st.lists(st.integers(0, MAX_LENGTH - 1), max_size=4))
    if draw(st.booleans()):
        return {(begin, end)} | {(begin, e) for e in others if e >= begin}
    return {(begin, end)} | {(b, end) for b in others if b <= end}


@st.composite
def guaranteed_sets(draw) -> set[tuple[int, int, int, int, int]]:
    """Shared heads with many tails, shared tails with many heads, and unrelated triples, all decodable."""
    triples: set[tuple[int, int, int, int, int]] = set()
    for _ in range(draw(st.integers(1, 3))):
        k = draw(st.integers(0, MAX_RELATIONS - 1))
        family = draw(st.one_of(bracket_families(), fan_families()))
        other = draw(spans())
        if draw(st.booleans()):  # one head, many tails
            group = {(k, *other, *tail) for tail in family}
        else:  # many heads, one tail
            group = {(k, *head, *other) for head in family}
        if _guaranteed(triples | group):  # one group always is; groups may clash with each other
            triples |= group
    return triples


def _table(triples) -> np.ndarray:
    return encode(triples, MAX_RELATIONS, MAX_LENGTH)


# ---------------------------------------------------------------- labels
def test_labels_are_the_eight_mark_sets_with_onerel_single_marks_first():
    assert (HB_TB, HB_TE, HE_TE) == (1, 2, 3)
    pairs = [{HB_TB, HB_TE}, {HB_TB, HE_TE}, {HB_TE, HE_TE}]
    assert [marks_of(c) for c in range(NUM_LABELS)] == [set(), {HB_TB}, {HB_TE}, {HE_TE}, *pairs, set(MARKS)]
    for c in range(NUM_LABELS):
        assert class_of(marks_of(c)) == c
    assert marks_of(class_of([HB_TE, HB_TB, HB_TB])) == {HB_TB, HB_TE}
    with pytest.raises(ValueError, match="unknown mark 4"):
        class_of([4])
    with pytest.raises(ValueError, match="class id 8"):
        marks_of(8)


# ---------------------------------------------------------------- encode
@given(triple_sets())
def test_encode_writes_the_union_of_every_triples_marks(triples):
    table = _table(triples)
    assert table.dtype == np.int64 and table.shape == (MAX_RELATIONS, MAX_LENGTH, MAX_LENGTH)
    expected: dict[tuple[int, int, int], set[int]] = {}
    for triple in triples:
        for k, i, j, mark in cells(triple):
            expected.setdefault((k, i, j), set()).add(mark)
    assert {tuple(c) for c in np.argwhere(table)} == set(expected)
    for (k, i, j), marks in expected.items():
        assert marks_of(int(table[k, i, j])) == marks


@given(triple_sets())
def test_encode_cells_are_the_non_zero_cells_of_encode(triples):
    rel, row, col, classes = encode_cells(triples, MAX_RELATIONS, MAX_LENGTH)
    table = _table(triples)
    assert np.count_nonzero(table) == len(classes) and (classes > 0).all()
    assert (table[rel, row, col] == classes).all()


def test_single_token_head_and_tail_keep_all_three_marks_in_one_cell():
    table = encode([(1, 4, 4, 2, 2)], 2, 6)
    assert marks_of(table[1, 4, 2]) == set(MARKS)
    assert np.count_nonzero(table) == 1
    assert decode(table) == {(1, 4, 4, 2, 2)}


@pytest.mark.parametrize(
    ("triple", "message"),
    [
        ((2, 0, 0, 1, 1), "relation 2 out of range"),
        ((-1, 0, 0, 1, 1), "relation -1 out of range"),
        ((0, 3, 2, 1, 1), r"head \[3, 2\]"),
        ((0, 0, 0, 1, 5), r"tail \[1, 5\].*length = 5"),
        ((0, -1, 0, 1, 1), r"head \[-1, 0\]"),
    ],
)
def test_encode_rejects_bad_spans_with_the_numbers(triple, message):
    with pytest.raises(ValueError, match=message):
        encode([triple], 2, 5)


def test_empty_windows_have_empty_tables():
    assert encode([], 3, 0).shape == (3, 0, 0)
    assert decode(encode([], 3, 0)) == set()
    with pytest.raises(ValueError, match="got 3, -1"):
        encode([], 3, -1)


# ---------------------------------------------------------------- decode
@settings(max_examples=200)
@given(guaranteed_sets())
def test_decode_is_exact_on_every_configuration_it_guarantees(triples):
    assert _guaranteed(triples)
    assert decode(_table(triples)) == triples


@settings(max_examples=200)
@given(triple_sets())
def test_decode_is_exact_on_random_sets_in_the_guaranteed_class(triples):
    if _guaranteed(triples):
        assert decode(_table(triples)) == triples


@settings(max_examples=200)
@given(triple_sets())
def test_decode_never_writes_a_mark_the_table_lacks(triples):
    """The ambiguous class too: decode returns SOME set whose marks are within this table's."""
    table = _table(triples)
    again = _table(decode(table))
    for k, i, j in np.argwhere(again):
        assert marks_of(int(again[k, i, j])) <= marks_of(int(table[k, i, j]))


@settings(max_examples=200)
@given(triple_sets())
def test_decode_reproduces_the_table_when_shared_partners_may_lie_anywhere(triples):
    """Without the reach of shared partners, decode returns a set with exactly this table."""
    table = _table(triples)
    with mock.patch.object(tagging, "SHARED_SPAN_TOKENS", MAX_LENGTH):
        assert np.array_equal(_table(decode(table)), table)


def test_a_begin_without_its_end_mark_does_not_reach_a_later_mention():
    """A model marks both mentions of one string as heads but only the second one's end: the first is not
    read as a head running to the second one's end."""
    head_begins = (0, 20)  # the string at tokens 0-2 and again at 20-22; tail at 30-32
    rel = [0] * 5
    row = [*head_begins, *head_begins, 22]
    col = [30, 30, 32, 32, 32]
    classes = [HB_TB, HB_TB, HB_TE, HB_TE, HE_TE]
    assert decode_cells(rel, row, col, classes) == {(0, 20, 22, 30, 32)}


@pytest.mark.parametrize(
    ("gold", "decoded"),
    [
        # crossing tails of one head look like nested ones; the nested reading wins
        ({(0, 0, 0, 1, 4), (0, 0, 0, 3, 6)}, {(0, 0, 0, 1, 6), (0, 0, 0, 3, 4)}),
        # a tail whose begin and end both belong to other tails of the head is invisible
        ({(0, 0, 0, 1, 5), (0, 0, 0, 3, 5), (0, 0, 0, 3, 4)}, {(0, 0, 0, 1, 5), (0, 0, 0, 3, 4)}),
        # two triples in one HB-TE cell with different head ends AND tail begins: all combinations
        (
            {(0, 0, 1, 5, 7), (0, 0, 3, 6, 7)},
            {(0, 0, 1, 5, 7), (0, 0, 3, 6, 7), (0, 0, 1, 6, 7), (0, 0, 3, 5, 7)},
        ),
        # a fan sharing an end, then a fan sharing a begin: the open begin 1 is closed by the last end
        (
            {(0, 0, 0, 1, 5), (0, 0, 0, 3, 5), (0, 0, 0, 7, 8), (0, 0, 0, 7, 9)},
            {(0, 0, 0, 3, 5), (0, 0, 0, 7, 8), (0, 0, 0, 1, 9)},
        ),
    ],
)
def test_ambiguous_configurations_decode_as_documented(gold, decoded):
    assert not _guaranteed(gold)
    table = _table(gold)
    assert decode(table) == decoded
    assert np.array_equal(_table(decoded), table)  # same table: no decoder could tell them apart


def test_one_head_with_several_tails_pairs_each_tail_with_its_own_begin():
    """OneRel's "next non-zero cell" rule would pair the first begin with the last end here."""
    gold = {(0, 1, 2, 4, 5), (0, 1, 2, 7, 7), (0, 1, 2, 9, 11), (0, 3, 3, 4, 5)}
    assert decode(_table(gold)) == gold


def test_the_same_span_as_head_and_tail():
    gold = {(0, 3, 5, 3, 5), (1, 3, 5, 3, 3)}
    assert decode(_table(gold)) == gold


@settings(max_examples=100)
@given(st.integers(0, 2**32 - 1))
def test_decode_of_a_noisy_table_never_invents_a_mark(seed):
    rng = np.random.default_rng(seed)
    table = np.where(
        rng.random((2, 8, 8)) < 0.2, rng.integers(1, NUM_LABELS, (2, 8, 8)), 0
    )  # what an untrained model emits
    for triple in decode(table):
        for k, i, j, mark in cells(triple):
            assert mark in marks_of(int(table[k, i, j]))


@given(triple_sets())
def test_decode_cells_does_not_depend_on_the_order_of_the_cells(triples):
    rel, row, col, classes = encode_cells(triples, MAX_RELATIONS, MAX_LENGTH)
    order = np.random.default_rng(0).permutation(len(classes))
    assert decode_cells(rel[order], row[order], col[order], classes[order]) == decode(_table(triples))


def test_decode_cells_rejects_bad_cells():
    with pytest.raises(ValueError, match="differ in length"):
        decode_cells([0, 0], [0], [0], [1])
    with pytest.raises(ValueError, match=r"class ids must lie in \[0, 8\)"):
        decode(np.full((1, 2, 2), 9))


def test_decode_of_a_sparse_k44_l256_table():
    """The size decode meets per window at inference: K = 44 relations, 256 tokens, 20 triples."""
    rng = random.Random(0)
    gold = {(k, *sorted(rng.sample(range(256), 2)), *sorted(rng.sample(range(256), 2))) for k in range(20)}
    table = encode(gold, 44, 256).astype(np.uint8)
    assert decode(table) == gold


# ---------------------------------------------------------------- oracle recall
def _example(text: str, *triples: tuple[int, int, str, int, int]) -> Example:
    def entity(start: int, end: int) -> Entity:
        return Entity(start, end, text[start:end])

    return Example(text, [Triple(entity(hs, he), rel, entity(ts, te)) for hs, he, rel, ts, te in triples])


def test_oracle_recall_counts_each_loss_by_reason():
    def words(text: str) -> list[tuple[int, int]]:  # two characters per token
        return [(i, min(i + 2, len(text))) for i in range(0, len(text), 2)]

    examples = [
        _example("糖尿病患者服用二甲双胍", (0, 3, "r", 9, 11)),  # exact at character level
        _example("胰岛素", (0, 1, "r", 1, 2), (0, 1, "unknown", 2, 3)),  # single characters
        _example("abcdefghij", (0, 1, "r", 1, 4), (0, 1, "r", 3, 6)),  # crossing tails of one head
        _example("没有关系"),
    ]
    report = oracle_recall(examples, ["r"], char_offsets)
    assert (report.gold, report.aligned, report.recovered) == (5, 4, 2)
    assert report.losses == {"unknown relation": 1, "decode ambiguity": 2}
    assert report.spurious == 2 and report.recall == pytest.approx(2 / 5)

    coarse = oracle_recall([_example("糖尿病患者服", (0, 4, "r", 4, 6), (0, 3, "r", 4, 6))], ["r"], words)
    assert (coarse.recovered, coarse.losses) == (1, {"unaligned boundary": 1})
    assert coarse.as_dict()["recall"] == 0.5


def _read_diakg(folder) -> list[Example]:
    """Just enough of DiaKG's JSON for this test; the real reader lives in extractor.datasets."""
    examples = []
    for path in sorted(folder.glob("*.json")):
        for paragraph in json.loads(path.read_text(encoding="utf-8"))["paragraphs"]:
            for sentence in paragraph["sentences"]:
                entities = {
                    e["entity_id"]: Entity(e["start_idx"], e["end_idx"], e["entity"], e["entity_type"])
                    for e in sentence["entities"]
                }
                triples = [
                    Triple(entities[r["head_entity_id"]], r["relation_type"], entities[r["tail_entity_id"]])
                    for r in sentence["relations"]
                ]
                examples.append(Example(sentence["sentence"], triples))
    return examples


@pytest.mark.shared_data
def test_char_level_oracle_recall_on_diakg_train(shared_data):
    examples = _read_diakg(shared_data / "diakg" / "train")
    relations = sorted({t.relation for e in examples for t in e.triples})
    report = oracle_recall(examples, relations, char_offsets)
    assert report.gold > 6000
    assert report.recall >= 0.999, report.as_dict()
    assert report.spurious == 0
