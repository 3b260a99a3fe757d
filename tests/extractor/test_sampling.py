"""Negative relation sampling: sizes, positives kept, reproducible, uniform negatives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from extractor.sampling import sample_relations, sample_relations_per_example


@st.composite
def draws(draw) -> tuple[set[int], int, int, int]:
    num_relations = draw(st.integers(1, 50))
    positives = draw(st.sets(st.integers(0, num_relations - 1), max_size=num_relations))
    return positives, num_relations, draw(st.integers(1, 60)), draw(st.integers(0, 2**32 - 1))


@given(draws())
def test_sample_scores_exactly_ns_types_and_keeps_every_positive(args):
    positives, num_relations, ns, seed = args
    chosen = sample_relations(positives, num_relations, ns, np.random.default_rng(seed))
    assert chosen.dtype == np.int64
    assert len(chosen) == max(min(ns, num_relations), len(positives))
    assert positives <= set(chosen.tolist())
    assert np.all(np.diff(chosen) > 0)  # sorted and unique
    assert chosen.min() >= 0 and chosen.max() < num_relations
    again = sample_relations(positives, num_relations, ns, np.random.default_rng(seed))
    assert np.array_equal(chosen, again)


def test_all_relations_when_ns_reaches_k():
    rng = np.random.default_rng(0)
    assert sample_relations([3], 5, 5, rng).tolist() == [0, 1, 2, 3, 4]
    assert sample_relations([], 5, 99, rng).tolist() == [0, 1, 2, 3, 4]


def test_more_positives_than_ns_keeps_all_positives_and_no_negative():
    chosen = sample_relations([7, 1, 4, 1], 10, 2, np.random.default_rng(0))
    assert chosen.tolist() == [1, 4, 7]


def test_different_seeds_draw_different_negatives():
    draws = {tuple(sample_relations([0], 40, 5, np.random.default_rng(seed))) for seed in range(20)}
    assert len(draws) > 10


def test_negatives_are_uniform():
    """Chi-square over 4,000 draws of 3 negatives among 8 candidates; 24.3 is the 0.1% point for 7 dof."""
    rng = np.random.default_rng(12345)
    counts = np.zeros(10)
    for _ in range(4000):
        counts[sample_relations({0, 1}, 10, 5, rng)] += 1
    assert counts[0] == counts[1] == 4000
    expected = 4000 * 3 / 8
    chi_square = ((counts[2:] - expected) ** 2 / expected).sum()
    assert chi_square < 24.3


@pytest.mark.parametrize(
    ("positives", "num_relations", "ns", "message"),
    [
        ([0], 5, 0, "ns must be >= 1, got 0"),
        ([5], 5, 2, r"lie in \[0, 5\), got \[5\]"),
        ([-1], 5, 2, r"got \[-1\]"),
        ([], 0, 2, "num_relations must be >= 1"),
    ],
)
def test_bad_arguments_raise_with_the_numbers(positives, num_relations, ns, message):
    with pytest.raises(ValueError, match=message):
        sample_relations(positives, num_relations, ns, np.random.default_rng(0))


@given(st.lists(st.sets(st.integers(0, 15), max_size=8), min_size=1, max_size=6), st.integers(1, 20))
def test_per_sentence_rows_keep_their_positives_at_one_common_width(positives, ns):
    rows = sample_relations_per_example(positives, 16, ns, np.random.default_rng(0))
    width = min(16, max([ns, *map(len, positives)]))
    assert rows.shape == (len(positives), width)
    for row, mine in zip(rows, positives, strict=True):
        assert mine <= set(row.tolist())
        assert np.all(np.diff(row) > 0)  # sorted and distinct


def test_per_sentence_negatives_differ_between_sentences():
    """The point of sampling per sentence: sentences of one batch score different negative types."""
    rows = sample_relations_per_example([set()] * 8, 44, 5, np.random.default_rng(0))
    assert len({tuple(r) for r in rows.tolist()}) > 1


def test_negatives_come_only_from_the_types_the_corpus_annotates():
    for seed in range(20):
        row = sample_relations([1], 10, 4, np.random.default_rng(seed), candidates=frozenset({1, 2, 3, 7, 8}))
        assert 1 in row and set(row.tolist()) <= {1, 2, 3, 7, 8} and len(row) == 4


def test_candidates_covering_every_type_draw_what_no_candidates_draw():
    """One corpus annotates every type of its schema: its runs sample as they did before corpora had types."""
    for seed in range(10):
        plain = sample_relations_per_example([{0}, {3, 4}], 16, 5, np.random.default_rng(seed))
        every = [frozenset(range(16))] * 2
        restricted = sample_relations_per_example([{0}, {3, 4}], 16, 5, np.random.default_rng(seed), every)
        assert np.array_equal(plain, restricted)


def test_a_row_whose_types_run_out_is_filled_to_the_common_width_with_other_types():
    types = [frozenset({0, 1}), None]
    rows = sample_relations_per_example([{0}, {5}], 8, 4, np.random.default_rng(0), types)
    assert rows.shape == (2, 4)
    assert rows[0].tolist() == [0, 1, 2, 3]  # its two types, then the lowest others (collate: unscored)
    assert 5 in rows[1] and np.all(np.diff(rows[1]) > 0)
