"""Training losses over tagged tables, where ~1e-5 of the cells carry a mark and the rest are "-".

Two output forms, chosen by the loss:
- "softmax": C = 8 logits per cell, one per class (a set of horn marks, `tagging`), cross-entropy averaged
  over the scored cells, marked cells weighted by `positive_weight`. The mean over ~1e6 "-" cells per
  sentence is what kept the first model from fitting its training set.
- "mcce", "bce", "focal": C = 3 logits per cell, one per mark (HB-TB, HB-TE, HE-TE); a mark is predicted
  where its logit is > 0, so a cell's class is the set of marks above zero.

"mcce" is the multilabel categorical cross-entropy of GlobalPointer / GPLinker (Su, 2020): per sentence,
relation and mark, log(1 + sum_neg e^s) + log(1 + sum_pos e^-s) over that table's cells. It ranks every marked
cell above 0 and every empty cell below 0 without a mean over the empty ones, so it needs no weighting.

Every function takes `labels` of class ids (B, L, L, NS), IGNORE_INDEX on cells that are not scored.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from extractor import tagging
from extractor.configuration import LOSSES

IGNORE_INDEX = -100  # label of cells that are not scored (padding, the trailing special token)
FOCAL_GAMMA = 2.0  # RetinaNet's values
FOCAL_ALPHA = 0.25

# Class id -> its marks as a 0/1 row (HB-TB, HB-TE, HE-TE), to turn class labels into per-mark targets.
_CLASS_MARKS = torch.tensor(
    [[float(mark in tagging.marks_of(c)) for mark in tagging.MARKS] for c in range(tagging.NUM_LABELS)]
)


def mark_targets(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(targets (..., 3) in {0, 1}, scored (...) bool) from class labels (...) with IGNORE_INDEX."""
    scored = labels != IGNORE_INDEX
    table = _CLASS_MARKS.to(labels.device)
    return table[labels.clamp(min=0)], scored


def softmax_loss(logits: torch.Tensor, labels: torch.Tensor, positive_weight: float = 1.0) -> torch.Tensor:
    """Cross-entropy over the 8 classes, mean over scored cells; marked cells count `positive_weight`x."""
    weight = None
    if positive_weight != 1.0:
        weight = torch.full((logits.shape[-1],), positive_weight, device=logits.device)
        weight[0] = 1.0
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), weight=weight,
        ignore_index=IGNORE_INDEX,
    )  # fmt: skip


def mcce_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Multilabel categorical CE per (sentence, relation, mark) table; sum over tables, mean over sentences.

    Summing over a sentence's tables keeps the gradient of its positive tables the same whatever NS is (a
    mean would shrink it as more empty negative tables are scored).
    """
    targets, scored = mark_targets(labels)  # (B, L, L, NS, 3), (B, L, L, NS)
    s = logits.float().masked_fill(~scored[..., None], float("-inf"))
    t = targets.bool()
    # log(1 + sum e^x) = softplus(logsumexp(x)) over a table's cells (dims 1, 2), in place: no copy of the
    # table is permuted or padded; -inf entries (other class, not scored) contribute nothing.
    negative = F.softplus(torch.logsumexp(s.masked_fill(t, float("-inf")), dim=(1, 2)))  # (B, NS, 3)
    positive = F.softplus(torch.logsumexp((-s).masked_fill(~t, float("-inf")), dim=(1, 2)))
    return (negative + positive).sum(dim=(1, 2)).mean()


def bce_loss(logits: torch.Tensor, labels: torch.Tensor, positive_weight: float = 1.0) -> torch.Tensor:
    """Sigmoid cross-entropy per mark, mean over scored cells and marks; marks present weighted."""
    targets, scored = mark_targets(labels)
    pos_weight = torch.tensor(positive_weight, device=logits.device)
    per_mark = F.binary_cross_entropy_with_logits(
        logits.float(), targets, pos_weight=pos_weight, reduction="none"
    )
    return per_mark[scored].mean()


def focal_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Sigmoid focal loss per mark (RetinaNet), summed over scored cells and divided by the marks present."""
    targets, scored = mark_targets(labels)
    x, t = logits.float()[scored], targets[scored]
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    alpha_t = FOCAL_ALPHA * t + (1 - FOCAL_ALPHA) * (1 - t)
    return (alpha_t * (1 - p_t) ** FOCAL_GAMMA * ce).sum() / t.sum().clamp(min=1.0)


def table_loss(
    loss: str, logits: torch.Tensor, labels: torch.Tensor, positive_weight: float = 1.0
) -> torch.Tensor:
    """The named loss of logits (B, L, L, NS, C) against class labels (B, L, L, NS)."""
    if loss == "softmax":
        return softmax_loss(logits, labels, positive_weight)
    if loss == "mcce":
        return mcce_loss(logits, labels)
    if loss == "bce":
        return bce_loss(logits, labels, positive_weight)
    if loss == "focal":
        return focal_loss(logits, labels)
    raise ValueError(f"unknown loss {loss!r}: use one of {', '.join(LOSSES)}")


def marked(loss: str, logits: torch.Tensor) -> torch.Tensor:
    """(...) bool: cells whose class is not "-", in one cheap pass over logits (..., C) (no int64 tables)."""
    if loss == "softmax":
        return logits[..., 1:].amax(dim=-1) > logits[..., 0]
    return (logits > 0).any(dim=-1)


def marked_cells(loss: str, logits: torch.Tensor) -> torch.Tensor:
    """(...) bool over logits (..., K, C): cells marked for at least one relation. For the mark losses this
    is one max over K x C values, with no (..., K) intermediate: the cheap first pass of inference."""
    if loss == "softmax":
        return marked(loss, logits).any(dim=-1)
    return logits.flatten(-2).amax(dim=-1) > 0


def cell_classes(loss: str, logits: torch.Tensor) -> torch.Tensor:
    """The predicted class id (a set of marks, 0 = "-") of each cell's logits (..., C)."""
    if loss == "softmax":
        return logits.argmax(dim=-1)
    bits = (logits > 0).long() @ _MARK_BITS.to(logits.device)  # (...) bit set of the marks above zero
    return _BITS_TO_CLASS.to(logits.device)[bits]


def mark_probabilities(loss: str, logits: torch.Tensor) -> torch.Tensor:
    """P(cell carries mark) (..., 3) from logits (..., C): summed class probabilities, or sigmoids."""
    if loss == "softmax":
        return logits.float().softmax(dim=-1) @ _CLASS_MARKS.to(logits.device)
    return torch.sigmoid(logits.float())


# Mark n of a (..., 3) row is bit n of a set; a set of marks -> its class id, for all 8 sets.
_MARK_BITS = torch.tensor([1 << n for n in range(len(tagging.MARKS))])
_BITS_TO_CLASS = torch.tensor(
    [tagging.class_of(m for n, m in enumerate(tagging.MARKS) if bits >> n & 1) for bits in range(8)]
)
