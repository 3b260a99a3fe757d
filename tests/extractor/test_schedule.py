"""The shared learning-rate schedule: the first step already learns, the peak follows warmup, the end is 0."""

from __future__ import annotations

import torch

from extractor.schedule import warmup_then_decay


def test_rates_rise_over_warmup_then_fall_to_zero_at_the_last_step():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = warmup_then_decay(optimizer, warmup=3, total=7)
    rates = []
    for _ in range(8):
        rates.append(schedule.get_last_lr()[0])
        optimizer.step()
        schedule.step()
    assert rates == [0.25, 0.5, 0.75, 1.0, 0.75, 0.5, 0.25, 0.0]
