"""Length-bucketed batching and the device-dependent budget."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.batching import (
    BatchBudget,
    auto_batch_budget,
    batch_cost,
    batch_size_for,
    buckets,
    padding_waste,
    pair_bytes,
)
from pipeline.settings import BatchSettings


@pytest.fixture
def lengths() -> np.ndarray:
    return np.random.default_rng(0).integers(5, 200, size=2_000)


@pytest.mark.parametrize("pairwise", [False, True])
def test_every_index_once_and_every_batch_within_budget(lengths: np.ndarray, pairwise: bool) -> None:
    budget = 200 * 200 * 16 if pairwise else 4_000
    batches = buckets(lengths, budget, 64, pairwise=pairwise)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 64
        assert batch_cost(int(lengths[batch].max()), len(batch), pairwise) <= budget


@pytest.mark.parametrize("pairwise", [False, True])
def test_bucketing_wastes_far_less_than_input_order(lengths: np.ndarray, pairwise: bool) -> None:
    bucketed = buckets(lengths, 4_000 if not pairwise else 640_000, 32, pairwise=pairwise)
    size = int(np.mean([len(b) for b in bucketed]))
    unsorted = [list(range(i, min(i + size, len(lengths)))) for i in range(0, len(lengths), size)]
    sorted_waste = padding_waste(lengths, bucketed, pairwise=pairwise)
    unsorted_waste = padding_waste(lengths, unsorted, pairwise=pairwise)
    assert sorted_waste < 0.05
    assert sorted_waste < unsorted_waste / 5


def test_short_items_share_batches_long_items_get_small_ones() -> None:
    batches = buckets([10, 100, 10, 10, 100, 10], max_tokens_per_batch=200, max_batch_size=8)
    assert batches == [[1, 4], [0, 2, 3, 5]]  # longest first, ties in input order


def test_an_item_over_budget_gets_its_own_batch_and_bad_budgets_fail() -> None:
    assert buckets([500, 3, 3], 100, 8) == [[0], [1, 2]]
    assert buckets([], 100, 8) == []
    with pytest.raises(ValueError, match="positive"):
        buckets([1], 0, 8)


def test_padding_waste_of_equal_lengths_is_zero() -> None:
    assert padding_waste([7, 7, 7], [[0, 1, 2]]) == 0.0
    assert padding_waste([2, 4], [[0, 1]]) == pytest.approx(0.25)
    assert padding_waste([2, 4], [[0, 1]], pairwise=True) == pytest.approx(1 - 20 / 32)


def test_budget_follows_free_memory_and_is_clamped() -> None:
    config = BatchSettings(bytes_per_unit=1000, memory_fraction=0.5, min_budget=10, max_budget=10**9)
    small = auto_batch_budget("cuda", 8 * 10**9, config)
    large = auto_batch_budget("cuda:0", 80 * 10**9, config)
    assert small == BatchBudget(4_000_000, config.max_batch_size, True)
    assert large.max_tokens_per_batch == 10 * small.max_tokens_per_batch
    assert auto_batch_budget("mps", 1, config).max_tokens_per_batch == 10  # floor
    assert auto_batch_budget("cuda", 10**15, config).max_tokens_per_batch == 10**9  # ceiling


def test_cpu_budget_ignores_memory_and_unknown_devices_fail() -> None:
    config = BatchSettings()
    assert auto_batch_budget("cpu", None, config).max_tokens_per_batch == config.cpu_budget
    with pytest.raises(ValueError, match="unknown device"):
        auto_batch_budget("tpu", 10**9)
    with pytest.raises(ValueError, match="free memory"):
        auto_batch_budget("cuda", 0)


def test_pair_bytes_grows_with_head_and_schema() -> None:
    assert pair_bytes(256, 16, 8) == 4 * (512 + 256)
    assert pair_bytes(256, 16, 8, bytes_per_float=2) == pair_bytes(256, 16, 8) // 2


def test_batch_size_for_fits_the_longest_inputs_in_the_budget() -> None:
    pairs = BatchBudget(max_tokens_per_batch=10 * 202 * 202, max_batch_size=128, pairwise=True)
    assert batch_size_for(pairs, 202) == 10
    assert batch_size_for(pairs, 20) == 128  # capped by the size limit
    assert batch_size_for(pairs, 5000) == 1  # never zero
    tokens = BatchBudget(max_tokens_per_batch=1000, max_batch_size=64, pairwise=False)
    assert batch_size_for(tokens, 100) == 10
