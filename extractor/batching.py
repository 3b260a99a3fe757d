"""Examples to tensors: gold triples as token spans, length-bucketed batches, padded inputs, label tables;
and how many sentences one batch may hold on a device (the one place batch sizes are decided).

Label tables are built per batch, for the batch's sampled relations only: a (K, L, L) table per sentence would
cost K times the memory for columns the batch never scores.

Batches: training uses a fixed size (`length_batches`). Inference fills each batch up to a budget of token
pairs (`budget_batches`), because NRS-OneRel's memory and work grow with B x L^2: the budget comes from the
device's free memory on an accelerator and is a fixed modest one on the CPU (`auto_budget`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

from extractor import tagging
from extractor.alignment import char_span_to_tokens
from extractor.configuration import BatchSettings
from extractor.losses import IGNORE_INDEX
from extractor.schema import Example
from extractor.tokenization import TextTokenizer

Span = tuple[int, int, int, int, int]  # (relation id, head begin, head end, tail begin, tail end), inclusive


@dataclass
class EncodedExample:
    input_ids: list[int]  # with the two special tokens
    offsets: list[tuple[int, int]]  # character span of each text token
    spans: list[Span] = field(default_factory=list)
    # The relation types its corpus annotates (None: all): the tables of other types are not scored, since
    # the corpus says nothing about them.
    relations: frozenset[int] | None = None
    # Token spans (begin, end), inclusive, of every annotated mention; None where the corpus does not annotate
    # them all, so that the mention column is not scored there.
    mentions: list[tuple[int, int]] | None = None

    @property
    def length(self) -> int:
        return len(self.input_ids)


@dataclass
class Batch:
    input_ids: torch.Tensor  # (B, T)
    attention_mask: torch.Tensor  # (B, T)
    relation_ids: torch.Tensor | None = None  # (NS,) for the batch, or (B, NS) per sentence; rows sorted
    labels: torch.Tensor | None = None  # (B, L, L, NS), L = T - 1

    def to(self, device: torch.device | str) -> Batch:
        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device, non_blocking=True)

        return Batch(
            move(self.input_ids), move(self.attention_mask), move(self.relation_ids), move(self.labels)
        )


def encode_examples(
    examples: list[Example],
    tokenizer: TextTokenizer,
    relation_index: dict[str, int],
    annotated: Collection[str] | None = None,
) -> tuple[list[EncodedExample], Counter[str]]:
    """Tokenize examples and map their triples to token spans; count each triple it cannot represent.

    `annotated`: the relation types the examples' corpus annotates (None: every type of the index).
    """
    relations = None
    if annotated is not None:
        relations = frozenset(relation_index[r] for r in annotated if r in relation_index)
    lost: Counter[str] = Counter()
    encoded = []
    for example, tokens in zip(examples, tokenizer([e.text for e in examples]), strict=True):
        spans: set[Span] = set()
        for triple in example.triples:
            relation = relation_index.get(triple.relation)
            if relation is None:
                lost["relation not in the model's schema"] += 1
                continue
            head = char_span_to_tokens(tokens.offsets, triple.head.start, triple.head.end)
            tail = char_span_to_tokens(tokens.offsets, triple.tail.start, triple.tail.end)
            if head is None or tail is None:
                # Past the truncation point, or a boundary inside a subword piece.
                lost["entity boundary not on a token boundary, or truncated"] += 1
                continue
            spans.add((relation, *head, *tail))
        mentions = None
        if example.mentions is not None:  # a mention off the token boundaries is left out
            found = (char_span_to_tokens(tokens.offsets, m.start, m.end) for m in example.mentions)
            mentions = sorted({span for span in found if span is not None})
        encoded.append(EncodedExample(tokens.input_ids, tokens.offsets, sorted(spans), relations, mentions))
    return encoded, lost


def length_batches(
    lengths: list[int], batch_size: int, rng: np.random.Generator | None = None
) -> list[list[int]]:
    """Indices grouped into batches of similar length, so little compute goes to padding.

    With `rng` (training) equal lengths are ordered randomly and the batch order is shuffled; without it the
    order is deterministic (inference restores the input order from the indices).
    """
    order = np.arange(len(lengths)) if rng is None else rng.permutation(len(lengths))
    order = order[np.argsort(np.asarray(lengths)[order], kind="stable")]
    batches = [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def pad_inputs(sequences: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask), both (B, T), right-padded to the longest sequence."""
    ids = [torch.tensor(seq, dtype=torch.long) for seq in sequences]
    input_ids = pad_sequence(ids, batch_first=True, padding_value=pad_id)
    return input_ids, pad_sequence([torch.ones_like(t) for t in ids], batch_first=True)


def collate(
    items: list[EncodedExample], relation_ids: np.ndarray, pad_id: int, mention_id: int | None = None
) -> Batch:
    """A training batch scoring `relation_ids`: (NS,) for every sentence, or (B, NS) one row per sentence.

    Label column n of sentence b is relation `relation_ids[b, n]` (or `relation_ids[n]`); it is left
    unscored (IGNORE_INDEX) where that relation is not among the sentence's annotated `relations`. With
    `mention_id` (the model's mention column) one more column is scored last: every mention of the sentence
    tagged as a pair with itself, unscored where the sentence's `mentions` are not annotated.
    """
    if mention_id is not None:
        last = np.full((*relation_ids.shape[:-1], 1), mention_id, dtype=np.int64)
        relation_ids = np.concatenate([relation_ids, last], axis=-1)
    input_ids, attention_mask = pad_inputs([item.input_ids for item in items], pad_id)
    per_row = np.broadcast_to(relation_ids, (len(items), relation_ids.shape[-1]))  # (B, NS) either way
    size = input_ids.shape[1] - 1  # L: the table drops the leading special token
    labels = torch.full((len(items), size, size, per_row.shape[1]), IGNORE_INDEX, dtype=torch.long)
    for row, (item, ids) in enumerate(zip(items, per_row, strict=True)):
        column = {int(r): n for n, r in enumerate(ids)}
        n = len(item.offsets)
        kept = [(column[s[0]], *s[1:]) for s in item.spans if s[0] in column]
        if mention_id is not None:
            kept += [(len(ids) - 1, begin, end, begin, end) for begin, end in item.mentions or ()]
        table = torch.as_tensor(np.asarray(tagging.encode(kept, len(column), n)))  # (NS, n, n)
        labels[row, :n, :n, :] = table.permute(1, 2, 0)
        silent = []
        if item.relations is not None:
            silent = [c for c, r in enumerate(ids) if int(r) not in item.relations and int(r) != mention_id]
        if mention_id is not None and item.mentions is None:
            silent.append(len(ids) - 1)
        labels[row, :, :, silent] = IGNORE_INDEX
    return Batch(
        input_ids, attention_mask, torch.as_tensor(np.asarray(relation_ids), dtype=torch.long), labels
    )


@dataclass(frozen=True)
class BatchBudget:
    """How much one inference batch may hold: token pairs (sentences x longest length squared), and rows."""

    max_pairs: int
    max_batch_size: int


def pair_bytes(d_e: int, num_relations: int, num_labels: int, bytes_per_float: int = 4) -> int:
    """Inference memory per token pair: the d_e-wide pair vector (its ReLU runs in place), the distance
    vectors added to it (one per row and column, shared by the batch, so at most as many), the K x C logits,
    and the per-relation class ids decoding makes from them (int64)."""
    return bytes_per_float * (2 * d_e + 2 * num_relations * num_labels) + 8 * 3 * num_relations


def auto_budget(free_bytes: int | None, bytes_per_pair: int, settings: BatchSettings) -> BatchBudget:
    """The budget for a device with `free_bytes` free (None: the CPU, where a fixed one keeps batches short).

    On an accelerator it is the share `memory_fraction` of free memory over the bytes one pair costs,
    clamped to `[min_pairs, max_pairs]`.
    """
    if free_bytes is None:
        return BatchBudget(settings.cpu_pairs, settings.max_batch_size)
    pairs = int(free_bytes * settings.memory_fraction) // bytes_per_pair
    return BatchBudget(min(max(pairs, settings.min_pairs), settings.max_pairs), settings.max_batch_size)


def budget_batches(lengths: list[int], budget: BatchBudget) -> list[list[int]]:
    """Indices grouped into batches of similar length whose padded cost (B x longest^2) fits the budget.

    Longest first, so an out-of-memory error shows in the first batch rather than an hour in; ties keep
    input order, so the result is deterministic. A single input over budget gets a batch of its own (the
    model's row blocks cap its memory).
    """
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable").tolist()
    batches: list[list[int]] = []
    for index in order:
        current = batches[-1] if batches else None
        if (
            current is not None
            and len(current) < budget.max_batch_size
            and (len(current) + 1) * lengths[current[0]] ** 2 <= budget.max_pairs
        ):
            current.append(index)
        else:
            batches.append([index])
    return batches
