"""benchmarks.study: arms, settings, summaries and options (fast); test_quality.py runs a whole study."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import study
from benchmarks.study import EVERY_RELATION, Arm, StudyConfig, markdown_table, parse_args, table, train_config
from extractor.configuration import TINY_TRAIN, TrainConfig
from nrskg.errors import ModelError


def test_an_arm_holds_settings_extra_corpora_and_its_own_encoder() -> None:
    arm = Arm.parse(
        "mix:d_e=64,ns=K,extra=ruijin+cmeie,relation_aliases=SideEff-Drug=ADE_Drug;Other=,encoder=/m/pre"
    )
    assert arm.settings == {"d_e": 64, "ns": EVERY_RELATION,
                            "relation_aliases": {"SideEff-Drug": "ADE_Drug", "Other": ""}}  # fmt: skip
    assert (arm.extra, arm.encoder) == (["ruijin", "cmeie"], "/m/pre")
    assert Arm.parse("base") == Arm("base")
    first = Arm.parse("via:first=ruijin,first_steps=500,relation_aliases=SideEff-Drug=ADE_Drug")
    assert (first.first, first.first_steps, first.settings) == (
        "ruijin",
        500,
        {"relation_aliases": {"SideEff-Drug": "ADE_Drug"}},
    )
    with pytest.raises(ModelError, match="not a training or model setting"):
        Arm.parse("bad:width=3")


def test_settings_go_defaults_then_common_then_arm() -> None:
    config = StudyConfig(encoder="tiny", common={"d_e": 32, "lr": 0.5})
    settings = train_config(config, Arm("a", {"lr": 0.1}), seed=4)
    assert (settings.model.d_e, settings.lr, settings.seed) == (32, 0.1, 4)
    assert settings.encoder_lr == TINY_TRAIN.encoder_lr and settings.curves
    assert train_config(StudyConfig(encoder="some/dir"), Arm("a"), 0).lr == TrainConfig().lr


def test_a_run_trains_with_the_arms_own_encoder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    used: list[str] = []
    monkeypatch.setattr(study, "train", lambda data, fmt, encoder, *a, **k: used.append(encoder))
    config = StudyConfig(encoder="tiny", data_root=tmp_path)
    study.run_one(config, Arm("own", encoder="/m/pre"), 0, tmp_path / "out")
    study.run_one(config, Arm("study's"), 0, tmp_path / "out")
    assert used == ["/m/pre", "tiny"]


def test_table_gives_mean_std_and_range_per_arm_and_names_k() -> None:
    scores = {"train_f1_at_best": None, "steps": 10, "wall_s": 2.0}
    runs = [{"arm": "nsK", "seed": s, "val_f1": f, "val_precision": f, "val_recall": f, **scores}
            for s, f in enumerate([0.5, 0.6, 0.7])]  # fmt: skip
    (row,) = table(runs + [{"arm": "failed", "seed": 0}])
    assert row["n"] == 3 and row["f1_mean"] == pytest.approx(0.6) and row["f1_std"] == pytest.approx(0.1)
    arms = {"nsK": Arm("nsK", {"ns": EVERY_RELATION}, encoder="/m/pretrained")}
    assert "| nsK | ns=K, encoder=pretrained | 3 | 0.600 ± 0.100 | 0.500-0.700 |" in markdown_table(
        [row], arms
    )


def test_options_and_quick_preset() -> None:
    args = "--quick --set lr=0.01 max_minutes=7 --seeds 1,2 --parallel 2 --set epochs=8"  # --set twice
    config, out, plot = parse_args(args.split())
    assert config.max_docs == study.QUICK["max_docs"]
    assert (config.common["lr"], config.common["max_minutes"], config.common["epochs"]) == (0.01, 7.0, 8)
    assert (config.seeds, config.parallel) == ([1, 2], 2)
    assert (out.name, plot.name) == ("study_quick.json", "study_quick.png")
    with pytest.raises(SystemExit):
        parse_args(["--arms", "a:extra=nowhere"])
