"""The learning-rate schedule that training and pretraining share: linear warmup, then linear decay to zero.

Unlike transformers' `get_linear_schedule_with_warmup`, whose first step runs at rate 0, the first step here
already learns, at 1/(warmup + 1) of the full rate.
"""

from __future__ import annotations

import torch


def warmup_then_decay(
    optimizer: torch.optim.Optimizer, warmup: int, total: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Each rate of `optimizer` rises linearly to its full value over `warmup` steps, then falls linearly to
    zero at step `total`."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
