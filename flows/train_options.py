"""The training settings a person may override, named alike in `nrskg train`, the train flow and prefect.yaml.

Unset options (None) take the defaults that suit the encoder kind: `TINY_TRAIN` for the random tiny encoder,
`TrainConfig()` for a pretrained one.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from extractor.configuration import LOSSES, TINY_TRAIN, TrainConfig
from extractor.encoders import TINY
from nrskg.errors import ModelError

TRAIN_OPTIONS = (
    "ns", "epochs", "batch_size", "lr", "encoder_lr", "seed", "max_steps", "val_fraction", "tokenization",
    "device", "loss", "positive_weight",
)  # fmt: skip


def train_config(encoder: str, **overrides: Any) -> TrainConfig:
    """The encoder kind's defaults with the given (not None) `overrides`, which must be `TRAIN_OPTIONS`."""
    unknown = sorted(set(overrides) - set(TRAIN_OPTIONS))
    if unknown:
        raise TypeError(f"not training options: {unknown}")
    if overrides.get("loss") is not None and overrides["loss"] not in LOSSES:
        raise ModelError(f"loss {overrides['loss']!r} is not one of {', '.join(LOSSES)}")
    base = TINY_TRAIN if encoder == TINY else TrainConfig()
    return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})
