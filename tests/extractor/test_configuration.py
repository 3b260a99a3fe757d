"""Settings from `key=value` text take their field's type; anything else is refused with the reason."""

from __future__ import annotations

import pytest

from extractor.configuration import TrainConfig, parse_settings, with_settings
from nrskg.errors import ModelError


def test_values_take_the_type_of_their_training_or_model_field():
    settings = parse_settings(
        ["lr=3e-3", "d_e=1536", "split-seed=none", "amp=false", "ns_scope=batch", "empty_windows=0.1",
         "relation_aliases=SideEff-Drug=ADE_Drug;Test_Disease="]
    )  # fmt: skip
    assert settings == {
        "lr": 0.003, "d_e": 1536, "split_seed": None, "amp": False, "ns_scope": "batch",
        "empty_windows": 0.1, "relation_aliases": {"SideEff-Drug": "ADE_Drug", "Test_Disease": ""},
    }  # fmt: skip
    config = with_settings(TrainConfig(), **settings)
    assert (config.model.d_e, config.lr, config.relation_aliases["SideEff-Drug"]) == (1536, 0.003, "ADE_Drug")


@pytest.mark.parametrize(
    ("pair", "reason"),
    [("loss=hinge", "use one of mcce"), ("epochs=many", "expected int"), ("amp=yes", "true or false"),
     ("colour=red", "a training or model setting"), ("lr", "KEY=VALUE"), ("model=x", "a training or model")],
)  # fmt: skip
def test_bad_settings_say_why(pair, reason):
    with pytest.raises(ModelError, match=reason):
        parse_settings([pair])
