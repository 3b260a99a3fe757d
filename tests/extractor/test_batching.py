"""Length-bucketed batches, inference batches within a device budget, and label tables per sentence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from extractor import tagging
from extractor.batching import (
    BatchBudget,
    EncodedExample,
    auto_budget,
    budget_batches,
    collate,
    length_batches,
    pad_inputs,
    pair_bytes,
)
from extractor.configuration import BatchSettings
from extractor.losses import IGNORE_INDEX


def test_length_batches_cover_every_index_once_in_similar_lengths():
    lengths = [9, 3, 7, 3, 12, 5, 8]
    batches = length_batches(lengths, 3)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert [[lengths[i] for i in b] for b in batches] == [[3, 3, 5], [7, 8, 9], [12]]
    shuffled = length_batches(lengths, 3, np.random.default_rng(0))
    assert sorted(i for b in shuffled for i in b) == list(range(len(lengths)))
    assert all(max(lengths[i] for i in b) - min(lengths[i] for i in b) <= 4 for b in shuffled)
    assert shuffled == length_batches(lengths, 3, np.random.default_rng(0))  # seeded: reproducible


def test_pad_inputs_right_pads_and_masks():
    input_ids, attention_mask = pad_inputs([[2, 5, 3], [2, 3]], pad_id=0)
    assert input_ids.tolist() == [[2, 5, 3], [2, 3, 0]]
    assert attention_mask.tolist() == [[1, 1, 1], [1, 1, 0]]


def test_collate_builds_label_tables_for_the_sampled_relations_only():
    # Relation 4 (head tokens 0-1, tail token 3) and relation 1 (single-token head and tail).
    long = EncodedExample(
        [2, 11, 12, 13, 14, 3], [(i, i + 1) for i in range(4)], [(4, 0, 1, 3, 3), (1, 2, 2, 0, 0)]
    )
    short = EncodedExample([2, 11, 12, 3], [(0, 1), (1, 2)], [(1, 0, 0, 1, 1)])
    batch = collate([long, short], np.array([1, 4]), pad_id=0)
    assert batch.input_ids.shape == (2, 6) and batch.labels.shape == (2, 5, 5, 2)
    assert batch.relation_ids.tolist() == [1, 4]
    # Column n of the labels is relation relation_ids[n], re-indexed to 0..NS-1 for the tagger.
    expected_long = tagging.encode([(1, 0, 1, 3, 3), (0, 2, 2, 0, 0)], 2, 4)  # (NS, L, L)
    assert torch.equal(batch.labels[0, :4, :4], torch.as_tensor(expected_long).permute(1, 2, 0))
    assert bool((batch.labels[0, 4:] == IGNORE_INDEX).all()) and bool(
        (batch.labels[0, :, 4:] == IGNORE_INDEX).all()
    )
    expected_short = tagging.encode([(0, 0, 0, 1, 1)], 2, 2)
    assert torch.equal(batch.labels[1, :2, :2], torch.as_tensor(expected_short).permute(1, 2, 0))
    assert int((batch.labels[1] != IGNORE_INDEX).sum()) == 2 * 2 * 2


def test_collate_drops_triples_of_relations_not_sampled():
    item = EncodedExample([2, 11, 12, 3], [(0, 1), (1, 2)], [(0, 0, 0, 1, 1)])
    batch = collate([item], np.array([2, 3]), pad_id=0)
    assert int(batch.labels[0, :2, :2].abs().sum()) == 0  # relation 0 not scored: its cells are not labelled


def test_collate_leaves_the_tables_of_types_the_corpus_does_not_annotate_unscored():
    """A corpus silent on a type says nothing about its cells: they are neither "-" nor marked."""
    item = EncodedExample([2, 11, 12, 3], [(0, 1), (1, 2)], [(2, 0, 0, 1, 1)], relations=frozenset({2, 5}))
    batch = collate([item], np.array([2, 3, 5]), pad_id=0)
    assert bool((batch.labels[0, :, :, 1] == IGNORE_INDEX).all())  # relation 3: not this corpus's
    expected = tagging.encode([(0, 0, 0, 1, 1)], 3, 2)[[0, 2]]  # relations 2 and 5, scored as before
    assert torch.equal(batch.labels[0, :2, :2][..., [0, 2]], torch.as_tensor(expected).permute(1, 2, 0))


def test_collate_gives_each_sentence_its_own_relation_columns():
    first = EncodedExample([2, 11, 12, 3], [(0, 1), (1, 2)], [(4, 0, 0, 1, 1)])
    second = EncodedExample([2, 11, 12, 3], [(0, 1), (1, 2)], [(1, 1, 1, 0, 0)])
    batch = collate([first, second], np.array([[0, 4], [1, 2]]), pad_id=0)
    assert batch.relation_ids.tolist() == [[0, 4], [1, 2]]
    # Sentence 0's relation 4 is its column 1; sentence 1's relation 1 is its column 0.
    assert torch.equal(
        batch.labels[0, :2, :2], torch.as_tensor(tagging.encode([(1, 0, 0, 1, 1)], 2, 2)).permute(1, 2, 0)
    )
    assert torch.equal(
        batch.labels[1, :2, :2], torch.as_tensor(tagging.encode([(0, 1, 1, 0, 0)], 2, 2)).permute(1, 2, 0)
    )


def test_collate_scores_the_mention_column_last_where_mentions_are_annotated():
    """Each mention is tagged as the pair of itself: HB-TB at its begin, HB-TE, HE-TE at its end."""
    annotated = EncodedExample(
        [2, 11, 12, 13, 3], [(0, 1), (1, 2), (2, 3)], [(1, 0, 0, 2, 2)], mentions=[(0, 0), (1, 2)]
    )
    silent = EncodedExample([2, 11, 12, 13, 3], [(0, 1), (1, 2), (2, 3)], [(1, 0, 0, 2, 2)])
    batch = collate([annotated, silent], np.array([[0, 1], [1, 3]]), pad_id=0, mention_id=5)
    assert batch.relation_ids.tolist() == [[0, 1, 5], [1, 3, 5]]
    expected = tagging.encode([(1, 0, 0, 2, 2), (2, 0, 0, 0, 0), (2, 1, 2, 1, 2)], 3, 3)
    assert torch.equal(batch.labels[0, :3, :3], torch.as_tensor(expected).permute(1, 2, 0))
    # Mentions not annotated (None): the column says nothing, the relations are scored as without it.
    assert bool((batch.labels[1, :, :, 2] == IGNORE_INDEX).all())
    plain = collate([silent], np.array([1, 3]), pad_id=0)
    assert torch.equal(batch.labels[1, :3, :3, :2], plain.labels[0, :3, :3])


@pytest.fixture
def lengths() -> list[int]:
    return np.random.default_rng(0).integers(5, 200, size=2_000).tolist()


def test_budget_batches_cover_every_index_once_within_the_budget(lengths: list[int]) -> None:
    budget = BatchBudget(max_pairs=200 * 200 * 16, max_batch_size=64)
    batches = budget_batches(lengths, budget)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 64 and len(batch) * max(lengths[i] for i in batch) ** 2 <= budget.max_pairs


def test_budget_batches_waste_little_on_padding(lengths: list[int]) -> None:
    batches = budget_batches(lengths, BatchBudget(640_000, 32))
    padded = sum(len(b) * max(lengths[i] for i in b) ** 2 for b in batches)
    assert 1 - sum(n * n for n in lengths) / padded < 0.05


def test_short_inputs_share_batches_and_one_over_budget_goes_alone() -> None:
    assert budget_batches([10, 100, 10, 10, 100, 10], BatchBudget(20_000, 8)) == [[1, 4], [0, 2, 3, 5]]
    assert budget_batches([500, 3, 3], BatchBudget(100, 8)) == [[0], [1, 2]]
    assert budget_batches([], BatchBudget(100, 8)) == []


def test_the_budget_follows_free_memory_and_is_clamped_and_fixed_on_the_cpu() -> None:
    settings = BatchSettings(memory_fraction=0.5, min_pairs=10, max_pairs=10**9)
    small = auto_budget(8 * 10**9, 1000, settings)
    assert small == BatchBudget(4_000_000, settings.max_batch_size)
    assert auto_budget(80 * 10**9, 1000, settings).max_pairs == 10 * small.max_pairs
    assert auto_budget(1, 1000, settings).max_pairs == 10  # floor
    assert auto_budget(10**15, 1000, settings).max_pairs == 10**9  # ceiling
    assert auto_budget(None, 1000, settings) == BatchBudget(settings.cpu_pairs, settings.max_batch_size)


def test_pair_bytes_grow_with_the_head_and_the_schema() -> None:
    assert pair_bytes(256, 16, 3) == 4 * (512 + 96) + 24 * 16
    assert pair_bytes(256, 44, 3) > pair_bytes(256, 16, 3) > pair_bytes(128, 16, 3)
