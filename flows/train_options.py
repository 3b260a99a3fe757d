"""The training settings a person may override, named alike in `nrskg train`, the train flow and prefect.yaml.

Unset options (None) take the defaults that suit the encoder kind: `TINY_TRAIN` for the random tiny encoder,
`TrainConfig()` for a pretrained one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extractor.configuration import LOSSES, TINY_TRAIN, TrainConfig, with_settings
from extractor.encoders import TINY
from nrskg.errors import ModelError

TRAIN_OPTIONS = (
    "ns", "ns_scope", "epochs", "batch_size", "lr", "encoder_lr", "seed", "max_steps", "val_fraction",
    "tokenization", "device", "loss", "positive_weight", "d_e", "window_chars", "eval_every", "patience",
    "curves", "target_precision",
)  # fmt: skip
# Options named for the person typing them rather than after their `TrainConfig` field.
CONFIG_FIELDS = {"eval_every": "eval_every_steps", "curves": "curve_train_f1"}


def options_in(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The training options among a command's or flow's arguments (its `locals()` before anything else);
    every one of `TRAIN_OPTIONS` must be there, so neither side can leave one out."""
    missing = sorted(set(TRAIN_OPTIONS) - set(arguments))
    if missing:
        raise TypeError(f"training options missing from the arguments: {missing}")
    return {name: arguments[name] for name in TRAIN_OPTIONS}


def train_config(encoder: str, **overrides: Any) -> TrainConfig:
    """The encoder kind's defaults with the given (not None) `overrides`, which must be `TRAIN_OPTIONS`.

    `window_chars` also sets the stride (`with_settings`).
    """
    unknown = sorted(set(overrides) - set(TRAIN_OPTIONS))
    if unknown:
        raise TypeError(f"not training options: {unknown}")
    if overrides.get("loss") is not None and overrides["loss"] not in LOSSES:
        raise ModelError(f"loss {overrides['loss']!r} is not one of {', '.join(LOSSES)}")
    given = {CONFIG_FIELDS.get(k, k): v for k, v in overrides.items() if v is not None}
    return with_settings(TINY_TRAIN if encoder == TINY else TrainConfig(), **given)
