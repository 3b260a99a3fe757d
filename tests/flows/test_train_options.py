"""The training options shared by `nrskg train`, the train flow and prefect.yaml, mapped onto TrainConfig."""

from __future__ import annotations

import pytest

from extractor.configuration import TINY_TRAIN, TrainConfig
from flows.train_options import TRAIN_OPTIONS, options_in, train_config
from nrskg.errors import ModelError


def test_unset_options_keep_the_encoder_kinds_defaults() -> None:
    assert train_config("tiny", epochs=None, loss=None) == TINY_TRAIN
    assert train_config("/models/bge-small-zh") == TrainConfig()


def test_options_named_for_people_reach_their_config_fields() -> None:
    config = train_config(
        "tiny", eval_every=50, curves=True, window_chars=120, ns_scope="batch", d_e=64, patience=3,
        target_precision=0.8, loss="bce",
    )  # fmt: skip
    assert (config.eval_every_steps, config.curve_train_f1, config.ns_scope) == (50, True, "batch")
    assert (config.model.window_chars, config.model.window_stride) == (120, 90)  # a quarter overlaps
    assert (config.model.d_e, config.patience, config.target_precision, config.model.loss) == (
        64,
        3,
        0.8,
        "bce",
    )


def test_unknown_options_and_losses_are_refused() -> None:
    with pytest.raises(TypeError, match="eval_every_steps"):
        train_config("tiny", eval_every_steps=5)
    with pytest.raises(ModelError, match="loss 'l2'"):
        train_config("tiny", loss="l2")


def test_the_options_are_taken_from_arguments_that_name_every_one() -> None:
    arguments = {"data": "d.jsonl", **dict.fromkeys(TRAIN_OPTIONS), "epochs": 3}
    assert options_in(arguments) == {**dict.fromkeys(TRAIN_OPTIONS), "epochs": 3}
    with pytest.raises(TypeError, match="patience"):
        options_in({k: v for k, v in arguments.items() if k != "patience"})
