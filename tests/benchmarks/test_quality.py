"""benchmarks.quality: NS arms, positive-type statistics, headline, plot (fast), a miniature study (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.plots import ns_curve, tick_labels
from benchmarks.quality import (
    headline,
    ns_arms,
    ns_study,
    parse_args,
    positive_types,
    scored_types,
    training_batches,
    union_types,
)
from benchmarks.study import EVERY_RELATION, StudyConfig
from extractor.configuration import TrainConfig, with_settings
from extractor.datasets import Document
from extractor.schema import Entity, Example, Triple


def test_ns_arms_fold_values_at_or_above_k_into_onerel() -> None:
    arms = ns_arms(["10", "2", "20", "K", "5"], 16)
    assert [a.name for a in arms] == ["ns2", "ns5", "ns10", "nsK"]  # 20 >= K scores every type, as K does
    assert [a.settings["ns"] for a in arms] == [2, 5, 10, EVERY_RELATION]


def test_close_ns_ticks_are_moved_a_line_down() -> None:
    assert tick_labels([2, 5, 10, 20, 22, 44]) == ["2", "5", "10", "20", "\n22", "44"]


def test_positive_types_are_counted_per_sentence_and_batch_and_bound_the_scored_types() -> None:
    a, b = Entity(0, 1, "甲"), Entity(1, 2, "乙")
    examples = [Example("甲乙", [Triple(a, rel, b)]) for rel in ("r1", "r2", "r3", "r1")]
    batches = training_batches(
        [Document("d", "d.json", examples)], with_settings(TrainConfig(), batch_size=2)
    )
    assert positive_types(batches) == [[1, 1], [1, 1]]  # each sentence holds one type
    assert sorted(union_types(batches)) in ([1, 2], [2, 2])  # {r1,r2,r3,r1} in two batches of two
    # Per batch the union is kept; per sentence, each row scores max(NS, the batch's largest count).
    assert scored_types([[1, 1]], 2, 16, "batch", [6, 12]) == 9.0
    assert scored_types([[1, 3], [0, 12]], 2, 16, "sentence", []) == (3 + 12) / 2
    assert scored_types([[1, 3]], 10, 16, "sentence", []) == 10.0
    assert scored_types([], 16, 16, "batch", []) == 16.0


def _study(f1: dict[str, list[float]]) -> dict:
    """A finished NS study's JSON, as far as the headline and the plot read it."""
    summary = [{"arm": arm, "n": len(v), "f1_mean": sum(v) / len(v), "f1_std": 0.01, "f1_min": min(v),
                "f1_max": max(v)} for arm, v in f1.items()]  # fmt: skip
    ns = {"K": 16, "ns_by_arm": {"ns2": 2, "ns10": 10, "nsK": 16}}
    return {"config": {"dataset": "diakg"}, "ns": ns, "summary": summary}


def test_headline_sets_ns10_against_nsk_and_the_plot_draws_every_arm(tmp_path: Path) -> None:
    results = _study({"ns2": [0.2], "ns10": [0.5, 0.7], "nsK": [0.4, 0.4]})
    assert headline(results) == (
        "diakg: NS=10 0.600 ± 0.010 (n=2) vs NS=K=16 0.400 ± 0.010 (n=2), diff +0.200; best ns10"
    )
    assert headline(_study({"ns2": [0.2], "nsK": [0.4]})) is None
    assert ns_curve([results], tmp_path / "ns.png").read_bytes()[:4] == b"\x89PNG"


def test_options_build_the_study_and_refuse_bad_ns() -> None:
    config, specs, out, plot = parse_args(["--ns", "2, 10,K", "--set", "max_steps=50", "--seeds", "0,1"])
    assert specs == ["2", "10", "K"] and config.common == {"max_steps": 50} and config.seeds == [0, 1]
    assert (out.name, plot.name) == ("quality.json", "quality_ns.png")
    assert parse_args(["--quick"])[1] == ["2", "10", "K"] and parse_args([])[0].seeds == [0, 1, 2]
    with pytest.raises(SystemExit):
        parse_args(["--ns", "K/2"])


@pytest.mark.slow
@pytest.mark.shared_data
def test_miniature_study_writes_statistics_runs_and_plot(shared_data: Path, tmp_path: Path) -> None:
    config = StudyConfig(
        data_root=shared_data, encoder="tiny", max_docs=2, parallel=2, threads=1,
        common={"max_steps": 2, "eval_every": 2, "window_chars": 32, "batch_size": 4, "d_e": 16,
                "train_eval_limit": 10, "device": "cpu"},
    )  # fmt: skip
    out = tmp_path / "quality.json"
    results = ns_study(config, ["2", "K"], out, [])
    saved = json.loads(out.read_text())
    stats = saved["ns"]
    assert stats["K"] >= 2 and stats["val_documents"] >= 1 and set(stats["ns_by_arm"]) == {"ns2", "nsK"}
    assert stats["scored_types_per_sentence"]["nsK"] == stats["K"]
    assert sorted(r["arm"] for r in saved["runs"]) == ["ns2", "nsK"]
    assert all(r["finished"] and r["steps"] == 2 for r in saved["runs"]), saved["runs"]
    assert saved["headline"] is None  # no ns10 arm
    assert ns_curve([results], tmp_path / "ns.png").stat().st_size > 1000
