"""`nrskg train`'s options come from the training settings' declarations: every one is there, typed, with its
help and default, and what a person types reaches the TrainConfig that training gets."""

from __future__ import annotations

import click
import pytest
import typer
from typer.testing import CliRunner

import flows.cli.train as train_command
from extractor.configuration import TINY_TRAIN, TrainConfig, settable
from flows.cli import app

runner = CliRunner()


def options() -> dict[str, click.Option]:
    group = typer.main.get_command(app)
    command = group.get_command(click.Context(group), "train")
    return {p.name: p for p in command.params}


def test_every_setting_is_an_option_with_its_declared_help_and_default():
    found = options()
    for name, field in settable().items():
        assert name in found, name
        assert field.metadata["help"] in found[name].help
        assert "(default " in found[name].help
    assert found["window_chars"].opts == ["--window-chars"] and found["curves"].secondary_opts == [
        "--no-curves"
    ]


@pytest.fixture()
def captured(monkeypatch):
    """The config and corpora `nrskg train` hands to training (training itself is tested elsewhere)."""
    seen = {}

    class Result:
        out_dir, model_version, best_val_f1, train_f1, steps, wall_time_s = "m", "v", 0.5, 0.6, 3, 1.0
        metrics = {"selected_on": "validation", "min_confidence": {"min_confidence": 0.4}}

    def fake_train(data, fmt, encoder, out, config, extra=()):
        seen.update(config=config, extra=extra, encoder=encoder)
        return Result()

    monkeypatch.setattr(train_command, "train", fake_train)
    return seen


def test_typed_options_reach_the_config_and_unset_ones_keep_the_encoder_kinds_defaults(captured):
    args = ["train", "--data", "d", "--format", "diakg", "--out", "m", "--encoder", "/enc/bge",
            "--epochs", "8", "--window-chars", "128", "--d-e", "1536", "--loss", "bce", "--no-amp",
            "--split-seed", "none", "--relation-aliases", "SideEff-Drug=ADE_Drug", "--relation-aliases",
            "ruijin:Test_Disease=", "--extra", "ruijin:r/train", "--extra-ratio", "0.5"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    config = captured["config"]
    assert (config.epochs, config.model.window_chars, config.model.window_stride) == (8, 128, 96)
    assert (config.model.d_e, config.model.loss, config.amp, config.split_seed) == (1536, "bce", False, None)
    assert config.relation_aliases == {"SideEff-Drug": "ADE_Drug", "ruijin:Test_Disease": ""}
    assert config.extra_ratio == 0.5
    assert config.lr == TrainConfig().lr and [str(c) for c in captured["extra"]] == ["ruijin:r/train"]

    assert runner.invoke(app, ["train", "--data", "d", "--format", "jsonl", "--out", "m"]).exit_code == 0
    assert captured["config"] == TINY_TRAIN and captured["encoder"] == "tiny"


def test_a_bad_value_is_refused_with_the_choices(captured):
    result = runner.invoke(
        app, ["train", "--data", "d", "--format", "jsonl", "--out", "m", "--loss", "hinge"]
    )
    assert result.exit_code == 1 and "error: loss=hinge: use one of mcce" in result.output
    assert captured == {}


def test_an_interrupted_training_says_what_its_folder_holds(monkeypatch, tmp_path):
    """Ctrl-C after a checkpoint was saved: the folder holds usable weights that register refuses; say so."""

    def interrupted(data, fmt, encoder, out, config, extra=()):
        (out / "config.json").parent.mkdir(parents=True)
        (out / "config.json").write_text("{}", encoding="utf-8")
        raise KeyboardInterrupt

    monkeypatch.setattr(train_command, "train", interrupted)
    out = tmp_path / "m"
    ran = runner.invoke(
        app, ["train", "--data", "d.jsonl", "--format", "jsonl", "--encoder", "tiny", "--out", str(out)]
    )
    assert ran.exit_code == 130
    assert f"{out}: the best weights so far" in ran.output and "models register` does not" in ran.output
