"""A reference-style OneRel head, written only to measure what our factored, sampled head saves.

It scores pairs the way OneRel's released code does: the concatenation [s_i; o_j] of every token pair is
materialised as a (B, L, L, 2d) tensor, projected by one Linear(2d -> d_e), passed through ReLU and dropout,
and mapped by Linear(d_e -> 4K) to OneRel's four classes (`-`, HB-TB, HB-TE, HE-TE) for ALL K relations,
trained with softmax cross-entropy. Two choices favour the reference, so our measured savings are a floor:
- d_e is the same as ours (OneRel's code uses d_e = 3d, e.g. 2304 for a BERT-base encoder);
- it has 4 classes per relation where ours has 8 (the sets of marks), so its output layer is half as wide.

Not used by the extractor; `benchmarks.speed` is its only caller.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from extractor import tagging
from extractor.losses import IGNORE_INDEX
from extractor.model import table_mask

ONEREL_LABELS = 4  # `-`, HB-TB, HB-TE, HE-TE

# Our class id -> OneRel's: the single-mark classes 0-3 are OneRel's own; a cell carrying several marks
# keeps only its first one, as OneRel (one label per cell) must.
_TO_ONEREL = torch.as_tensor(
    [min(tagging.marks_of(c), default=0) for c in range(tagging.NUM_LABELS)], dtype=torch.long
)


def onerel_labels(labels: torch.Tensor) -> torch.Tensor:
    """Our (.., K) class tables as OneRel's four-class tables; IGNORE_INDEX cells stay ignored."""
    ignored = labels == IGNORE_INDEX
    return _TO_ONEREL.to(labels.device)[labels.clamp(min=0)].masked_fill(ignored, IGNORE_INDEX)


class ReferenceOneRelHead(nn.Module):
    """logits_ij = W_r Dropout(ReLU(W [s_i; o_j] + b)) for all K relations, with [s_i; o_j] materialised."""

    def __init__(self, hidden_size: int, num_relations: int, d_e: int, dropout: float) -> None:
        super().__init__()
        self.num_relations = num_relations
        self.projection = nn.Linear(2 * hidden_size, d_e)
        self.dropout = nn.Dropout(dropout)
        self.relation = nn.Linear(d_e, num_relations * ONEREL_LABELS)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """Logits (B, L, L, K, C) from token states `hidden` (B, L, d)."""
        b, n, d = hidden.shape
        heads = hidden[:, :, None, :].expand(b, n, n, d)  # (B, L, L, d): [b, i, j] = s_i
        tails = hidden[:, None, :, :].expand(b, n, n, d)  # (B, L, L, d): [b, i, j] = o_j
        pairs = torch.cat([heads, tails], dim=-1)  # (B, L, L, 2d): the tensor the factored head avoids
        features = self.dropout(F.relu(self.projection(pairs)))  # (B, L, L, d_e)
        return self.relation(features).view(b, n, n, self.num_relations, ONEREL_LABELS)


class ReferenceOneRel(nn.Module):
    """Encoder + reference head, with the same table layout and cell mask as `NRSOneRelModel`.

    `.encoder` and `.head` mirror our model, so both train under the same optimiser set-up.
    """

    def __init__(self, encoder: nn.Module, num_relations: int, d_e: int, dropout: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = ReferenceOneRelHead(encoder.config.hidden_size, num_relations, d_e, dropout)

    def forward(
        self,
        input_ids: torch.Tensor,  # (B, T)
        attention_mask: torch.Tensor,  # (B, T)
        labels: torch.Tensor,  # (B, L, L, K) OneRel class ids (see `onerel_labels`), L = T - 1
    ) -> torch.Tensor:
        """The mean cross-entropy over every scored cell of all K tables."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        logits = self.head(hidden[:, 1:])  # (B, L, L, K, C)
        valid = table_mask(attention_mask)  # (B, L)
        cells = valid[:, :, None] & valid[:, None, :]  # (B, L, L)
        labels = labels.masked_fill(~cells[..., None], IGNORE_INDEX)
        return F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=IGNORE_INDEX
        )
