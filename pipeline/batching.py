"""Length-bucketed batches for the extractor, with a budget that follows the device's free memory.

Padding is wasted compute, and for NRS-OneRel wasted memory too: every sentence in a batch is
padded to the longest, and the pair table costs L x L per sentence. Sorting by length and filling
each batch up to a cost budget keeps both low. The functions here are pure: the caller measures the
device (`torch.cuda.mem_get_info()`) and passes numbers in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.settings import BatchSettings

DEVICE_KINDS = ("cpu", "cuda", "mps", "xpu")


@dataclass(frozen=True)
class BatchBudget:
    """How much one batch may hold: a cost budget (tokens, or token pairs) and a size cap."""

    max_tokens_per_batch: int
    max_batch_size: int
    pairwise: bool = False


def batch_cost(longest: int, size: int, pairwise: bool = False) -> int:
    """Padded cost of a batch: `size` rows of `longest` tokens (or `longest`^2 pairs)."""
    return size * (longest * longest if pairwise else longest)


def buckets(
    lengths: Sequence[int] | np.ndarray,
    max_tokens_per_batch: int,
    max_batch_size: int,
    *,
    pairwise: bool = False,
) -> list[list[int]]:
    """Indices into `lengths`, grouped into batches of similar length whose padded cost fits the budget.

    Longest first, so an out-of-memory error shows in the first batch rather than an hour in; ties
    keep input order, so the result is deterministic. A single item over budget gets a batch of its
    own (it cannot be split here; the extractor's row blocks cap its memory).
    """
    if max_tokens_per_batch <= 0 or max_batch_size <= 0:
        raise ValueError(
            f"budget must be positive: max_tokens_per_batch={max_tokens_per_batch}, "
            f"max_batch_size={max_batch_size}"
        )
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order.tolist():
        full = len(current) >= max_batch_size
        if current and (
            full or batch_cost(int(lengths[current[0]]), len(current) + 1, pairwise) > max_tokens_per_batch
        ):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def padding_waste(
    lengths: Sequence[int] | np.ndarray, batches: list[list[int]], *, pairwise: bool = False
) -> float:
    """Share of the padded cost spent on padding: 0 is perfect, 0.5 means half the work is wasted."""
    lengths = np.asarray(lengths, dtype=np.int64)
    padded = sum(batch_cost(int(lengths[b].max()), len(b), pairwise) for b in batches if b)
    useful = int((lengths * lengths).sum() if pairwise else lengths.sum())
    return 1.0 - useful / padded if padded else 0.0


def pair_bytes(d_e: int, num_relations: int, num_labels: int, bytes_per_float: int = 4) -> int:
    """Inference memory per token pair of NRS-OneRel: the d_e-wide pair vector before and after ReLU,
    and the K x C logits with their softmax. Pass it as `BatchSettings.bytes_per_unit`."""
    return bytes_per_float * (2 * d_e + 2 * num_relations * num_labels)


def auto_batch_budget(
    device_kind: str, free_memory_bytes: int | None, settings: BatchSettings | None = None
) -> BatchBudget:
    """The batch budget for a device, from its kind and free memory (both measured by the caller).

    On CPU memory is not the limit, compute is: a fixed budget keeps batches short. On an
    accelerator the budget is the share `memory_fraction` of free memory divided by the bytes one
    unit costs, clamped to `[min_budget, max_budget]`.
    """
    settings = settings or BatchSettings()
    kind = device_kind.split(":")[0].lower()  # "cuda:1" is a cuda device
    if kind not in DEVICE_KINDS:
        raise ValueError(f"unknown device kind {device_kind!r}; expected one of {', '.join(DEVICE_KINDS)}")
    if kind == "cpu":
        return BatchBudget(settings.cpu_budget, settings.max_batch_size, settings.pairwise)
    if free_memory_bytes is None or free_memory_bytes <= 0:
        raise ValueError(
            f"{device_kind}: free memory must be a positive number of bytes, got {free_memory_bytes}"
        )
    units = int(free_memory_bytes * settings.memory_fraction) // settings.bytes_per_unit
    budget = min(max(units, settings.min_budget), settings.max_budget)
    return BatchBudget(budget, settings.max_batch_size, settings.pairwise)


def batch_size_for(budget: BatchBudget, longest: int) -> int:
    """Sentences per batch so that a batch of the longest inputs stays within `budget` (at least 1)."""
    return max(
        1, min(budget.max_batch_size, budget.max_tokens_per_batch // batch_cost(longest, 1, budget.pairwise))
    )
