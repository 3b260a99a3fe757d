"""The moving average of the weights: its warm-up and its decay, step by step."""

from __future__ import annotations

import pytest
import torch

from extractor.averaging import WARMUP, moving_average


def test_the_average_starts_at_the_weights_then_follows_them_with_a_rising_decay():
    layer = torch.nn.Linear(1, 1, bias=False)
    averaged = moving_average(layer, decay=0.5)
    expected = None
    for n, value in enumerate([1.0, 3.0, 7.0, 15.0]):
        layer.weight.data.fill_(value)
        averaged.update_parameters(layer)
        if expected is None:
            expected = value  # the first update copies the weights
        else:
            decay = min(0.5, (1 + n) / (WARMUP + n))
            expected = decay * expected + (1 - decay) * value
        assert averaged.module.weight.item() == pytest.approx(expected)
    assert layer.weight.item() == 15.0  # the trained weights are left alone
