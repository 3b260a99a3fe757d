"""benchmarks.recipe: summaries, merging, the table and the curves plot (fast), a miniature run (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.plots import recipe_curves
from benchmarks.recipe import ARMS, markdown_table, merge, parse_args, run, summarise
from extractor.configuration import TrainConfig, with_settings


def curve(*points: tuple[int, float, float]) -> list[dict]:
    return [
        {"step": s, "val_f1": v, "val_precision": v, "val_recall": v, "train_f1": t} for s, v, t in points
    ]


def test_every_arm_overrides_only_training_or_model_settings() -> None:
    for overrides in ARMS.values():
        with_settings(TrainConfig(), **overrides)  # raises TypeError on anything else


def test_summary_takes_the_best_validation_point_and_the_fit_there_and_at_the_end() -> None:
    record = {"curve": curve((100, 0.2, 0.3), (200, 0.5, 0.6), (300, 0.4, 0.9)), "wall_s": 12.0}
    row = summarise("mcce", record)
    assert (row["val_f1"], row["best_step"], row["train_f1_at_best"], row["train_f1_last"]) == (
        0.5,
        200,
        0.6,
        0.9,
    )
    assert row["overrides"] == ARMS["mcce"]


def test_merge_pools_arms_of_one_setting_and_refuses_others(tmp_path: Path) -> None:
    def part(name: str, arm: str, steps: int) -> Path:
        data = {"command": name, "dataset": "diakg", "config": {"steps": steps}, "machine": {},
                "arms": [summarise(arm, {"curve": curve((10, 0.1, 0.2)), "wall_s": 1.0})]}  # fmt: skip
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(data))
        return path

    merged = merge([part("a", "mcce", 600), part("b", "softmax", 600)])
    assert [a["arm"] for a in merged["arms"]] == ["mcce", "softmax"]
    assert "| softmax | loss=softmax | 0.100 |" in markdown_table(merged)
    with pytest.raises(ValueError, match="steps"):
        merge([part("c", "mcce", 600), part("d", "bce", 300)])
    png = recipe_curves(merged, tmp_path / "curves.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_unknown_arms_are_refused() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--arms", "mcce,hinge"])
    config, arms, *_ = parse_args(["--arms", "mcce", "--steps", "50"])
    assert arms == ["mcce"] and config.steps == 50 and config.curves


@pytest.mark.slow
@pytest.mark.shared_data
def test_miniature_run_writes_arms_with_curves(shared_data: Path, tmp_path: Path) -> None:
    config, arms, *_ = parse_args(
        ["--arms", "softmax,mcce", "--steps", "4", "--eval-every", "2", "--max-docs", "2",
         "--window-chars", "32", "--batch-size", "4", "--data-root", str(shared_data), "--device", "cpu"]
    )  # fmt: skip
    results = run(config, arms, tmp_path / "recipe.json", [])
    assert [a["arm"] for a in results["arms"]] == ["softmax", "mcce"]
    for arm in results["arms"]:
        assert [p["step"] for p in arm["curve"]] == [2, 4]
        assert all("train_f1" in p for p in arm["curve"])
    assert json.loads((tmp_path / "recipe.json").read_text())["arms"][1]["arm"] == "mcce"
