"""benchmarks.pretraining: options and the arms' difference (fast; the study itself takes minutes)."""

from __future__ import annotations

from benchmarks.pretraining import QUICK_PRETRAIN_STEPS, SETTINGS, TINY_PRETRAIN_LR, difference, parse_args


def test_quick_and_tiny_defaults() -> None:
    config, pre, out, _ = parse_args(["--quick", "--set", "device=cpu"])
    assert pre.steps == QUICK_PRETRAIN_STEPS and pre.lr == TINY_PRETRAIN_LR and pre.device == "cpu"
    assert config.seeds == [0] and config.dataset == "diakg" and config.max_docs
    assert out.name == "pretraining_quick.json"
    config, pre, *_ = parse_args(["--encoder", "some/dir", "--pretrain-steps", "7", "--seeds", "3,4"])
    assert pre.steps == 7 and pre.lr == 5e-5 and config.seeds == [3, 4] and config.common == SETTINGS


def test_difference_is_pretrained_minus_original_once_both_have_runs() -> None:
    rows = [{"arm": "original", "f1_mean": 0.15}, {"arm": "pretrained", "f1_mean": 0.30}]
    assert difference(rows) == "pretrained - original: +0.150 F1"
    assert difference(rows[:1]) is None
