"""The table losses against hand-computed references, and the decoder's view of each output form."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from extractor import tagging
from extractor.losses import (
    IGNORE_INDEX,
    bce_loss,
    cell_classes,
    focal_loss,
    mark_probabilities,
    mark_targets,
    marked,
    mcce_loss,
    softmax_loss,
    table_loss,
)

B, L, NS = 2, 5, 3


def class_labels(seed: int = 0, density: float = 0.1) -> torch.Tensor:
    """(B, L, L, NS) class ids, mostly 0, with row 1's last token unscored (padding)."""
    g = torch.Generator().manual_seed(seed)
    marked = torch.rand(B, L, L, NS, generator=g) < density
    labels = torch.where(marked, torch.randint(1, tagging.NUM_LABELS, (B, L, L, NS), generator=g), 0)
    labels[1, -1, :, :] = IGNORE_INDEX
    labels[1, :, -1, :] = IGNORE_INDEX
    return labels


def mark_logits(seed: int = 1) -> torch.Tensor:
    return torch.randn(B, L, L, NS, 3, generator=torch.Generator().manual_seed(seed))


def test_mark_targets_spell_out_each_class_as_its_marks():
    labels = torch.arange(tagging.NUM_LABELS)
    targets, scored = mark_targets(labels)
    for c in range(tagging.NUM_LABELS):
        expected = [float(mark in tagging.marks_of(c)) for mark in tagging.MARKS]
        assert targets[c].tolist() == expected
    assert bool(scored.all())
    assert not mark_targets(torch.tensor([IGNORE_INDEX]))[1].any()


def test_mcce_is_the_sum_over_tables_of_the_two_log_sum_exps():
    logits, labels = mark_logits(), class_labels()
    targets, scored = mark_targets(labels)
    expected = 0.0
    for b in range(B):
        for n in range(NS):
            for m in range(3):
                cells = scored[b, :, :, n]
                s = logits[b, :, :, n, m][cells]
                t = targets[b, :, :, n, m][cells].bool()
                expected += math.log1p(torch.exp(s[~t]).sum().item())
                expected += math.log1p(torch.exp(-s[t]).sum().item())
    torch.testing.assert_close(mcce_loss(logits, labels), torch.tensor(expected / B))


def test_mcce_ignores_unscored_cells_and_vanishes_on_a_separated_table():
    logits, labels = mark_logits(), class_labels()
    noisy = logits.clone()
    noisy[1, -1] = 50.0  # the unscored row: any value
    torch.testing.assert_close(mcce_loss(noisy, labels), mcce_loss(logits, labels))
    targets, _ = mark_targets(labels)
    separated = torch.where(targets.bool(), 30.0, -30.0)
    assert mcce_loss(separated, labels).item() < 1e-9


def test_an_empty_table_scored_well_adds_almost_nothing_to_mcce():
    """More negative relation tables (a larger NS) do not dilute the positive tables' loss."""
    logits, labels = mark_logits(), class_labels()
    extra_logits = torch.cat([logits, torch.full((B, L, L, 1, 3), -30.0)], dim=3)
    extra_labels = torch.cat([labels, torch.zeros(B, L, L, 1, dtype=torch.long)], dim=3)
    extra_labels[1, -1], extra_labels[1, :, -1] = IGNORE_INDEX, IGNORE_INDEX
    torch.testing.assert_close(mcce_loss(extra_logits, extra_labels), mcce_loss(logits, labels))


def test_softmax_loss_is_the_weighted_mean_over_scored_cells():
    labels = class_labels()
    logits = torch.randn(B, L, L, NS, tagging.NUM_LABELS, generator=torch.Generator().manual_seed(3))
    scored = labels != IGNORE_INDEX
    per_cell = F.cross_entropy(logits[scored], labels[scored], reduction="none")
    torch.testing.assert_close(softmax_loss(logits, labels), per_cell.mean())
    w = torch.where(labels[scored] == 0, 1.0, 5.0)
    torch.testing.assert_close(softmax_loss(logits, labels, 5.0), (w * per_cell).sum() / w.sum())


def test_bce_is_the_mean_per_mark_and_focal_is_normalised_by_the_marks_present():
    logits, labels = mark_logits(), class_labels()
    targets, scored = mark_targets(labels)
    x, t = logits[scored], targets[scored]
    torch.testing.assert_close(bce_loss(logits, labels), F.binary_cross_entropy_with_logits(x, t))
    p = torch.sigmoid(x)
    p_t = torch.where(t.bool(), p, 1 - p)
    alpha = torch.where(t.bool(), 0.25, 0.75)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    torch.testing.assert_close(focal_loss(logits, labels), (alpha * (1 - p_t) ** 2 * ce).sum() / t.sum())


def test_table_loss_names_every_loss_and_rejects_others():
    logits, labels = mark_logits(), class_labels()
    torch.testing.assert_close(table_loss("mcce", logits, labels), mcce_loss(logits, labels))
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        table_loss("hinge", logits, labels)


def test_mark_logits_decode_to_the_class_of_the_marks_above_zero():
    for bits in range(8):
        logits = torch.tensor([[3.0 if bits >> n & 1 else -3.0 for n in range(3)]])
        marks = {mark for n, mark in enumerate(tagging.MARKS) if bits >> n & 1}
        assert cell_classes("mcce", logits).item() == tagging.class_of(marks)
    torch.testing.assert_close(mark_probabilities("bce", logits), torch.sigmoid(logits))


def test_softmax_cells_decode_to_the_argmax_with_mark_probabilities_summed_over_classes():
    logits = torch.randn(6, tagging.NUM_LABELS, generator=torch.Generator().manual_seed(4))
    assert torch.equal(cell_classes("softmax", logits), logits.argmax(dim=-1))
    probs = logits.softmax(dim=-1)
    expected = torch.stack(
        [
            probs[:, [c for c in range(tagging.NUM_LABELS) if mark in tagging.marks_of(c)]].sum(dim=1)
            for mark in tagging.MARKS
        ],
        dim=1,
    )
    torch.testing.assert_close(mark_probabilities("softmax", logits), expected)


@pytest.mark.parametrize("loss,channels", [("mcce", 3), ("softmax", 8)])
def test_the_cheap_marked_pass_finds_exactly_the_cells_of_a_class_above_zero(loss: str, channels: int):
    logits = torch.randn(4, 6, 6, 5, channels, generator=torch.Generator().manual_seed(5))
    assert torch.equal(marked(loss, logits), cell_classes(loss, logits) != 0)
