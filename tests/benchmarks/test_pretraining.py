"""benchmarks.pretraining: arguments, per-encoder summaries and the table (the study takes minutes)."""

from __future__ import annotations

import pytest

from benchmarks.pretraining import (
    QUICK_PRETRAIN_STEPS,
    TINY_PRETRAIN_LR,
    markdown_table,
    parse_args,
    summarise,
)


def _run(encoder: str, seed: int, f1: float) -> dict:
    return {"encoder": encoder, "ns": 10, "seed": seed, "f1": f1, "precision": f1, "recall": f1,
            "wall_s": 2.0, "best_step": 100}  # fmt: skip


def test_summary_groups_seeds_by_encoder_and_table_gives_the_difference() -> None:
    runs = [_run("original", 0, 0.10), _run("original", 1, 0.20), _run("pretrained", 0, 0.30)]
    summary = summarise(runs)
    assert list(summary) == ["original", "pretrained"]
    assert summary["original"]["n"] == 2 and summary["original"]["f1_mean"] == pytest.approx(0.15)
    table = markdown_table({"summary": summary})
    assert "| original | 2 | 0.150 | 0.150 | 0.150 ± 0.071 | 0.100-0.200 | 2 |" in table
    assert "pretrained - original: +0.150 F1" in table


def test_quick_and_tiny_defaults() -> None:
    config, out = parse_args(["--quick", "--device", "cpu"])
    assert config.pretrain.steps == QUICK_PRETRAIN_STEPS and config.pretrain.lr == TINY_PRETRAIN_LR
    assert config.quality.seeds == [0] and config.quality.ns == ["10"] and config.pretrain.device == "cpu"
    assert out.name == "pretraining_quick.json"
    config, _ = parse_args(["--encoder", "some/dir", "--pretrain-steps", "7", "--seeds", "3,4"])
    assert config.pretrain.steps == 7 and config.pretrain.lr == 5e-5 and config.quality.seeds == [3, 4]
