"""benchmarks.quality: arm planning and summaries (fast), and one in-process miniature run on DiaKG (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.plots import ns_curve, tick_labels
from benchmarks.quality import (
    QUICK,
    QualityConfig,
    arm_summary,
    headline,
    main,
    markdown_table,
    merge,
    parse_args,
    plan_runs,
    positive_types,
    resolve_ns,
    run,
    scored_types,
    union_types,
)
from extractor.datasets import Document
from extractor.encoders import TinyEncoderConfig
from extractor.schema import Entity, Example, Triple


def test_ns_grid_resolves_against_k() -> None:
    assert resolve_ns(["2", "5", "10", "20", "K/2", "K"], 16) == [2, 5, 8, 10, 16]  # 20 >= K is OneRel
    assert resolve_ns(["2", "5", "10", "20", "K/2", "K"], 44) == [2, 5, 10, 20, 22, 44]


def test_close_ns_ticks_are_moved_a_line_down() -> None:
    assert tick_labels([2, 5, 10, 20, 22, 44]) == ["2", "5", "10", "20", "\n22", "44"]


def test_headline_arms_get_every_seed_and_come_first() -> None:
    runs = plan_runs([2, 5, 8, 10, 16], 16, [0, 1, 2], curve_seeds=1)
    assert runs[:5] == [(2, 0), (5, 0), (8, 0), (10, 0), (16, 0)]
    assert sorted(runs[5:]) == [(10, 1), (10, 2), (16, 1), (16, 2)]


def test_loss_weight_and_pair_width_reach_every_arm() -> None:
    config, _, _, _ = parse_args(["--positive-weight", "30", "--d-e", "64"])
    assert (config.positive_weight, config.d_e) == (30.0, 64)
    assert parse_args([])[0].positive_weight == 1.0  # the plain mean unless asked


def test_positive_types_are_counted_per_sentence_and_batch_and_bound_the_scored_types() -> None:
    a, b = Entity(0, 1, "甲"), Entity(1, 2, "乙")
    examples = [Example("甲乙", [Triple(a, rel, b)]) for rel in ("r1", "r2", "r3", "r1")]
    config = QualityConfig(batch_size=2, window_chars=8)
    docs = [Document("d", "d.json", examples)]
    assert positive_types(docs, config) == [[1, 1], [1, 1]]  # each sentence holds one type
    assert sorted(union_types(docs, config)) in ([1, 2], [2, 2])  # {r1,r2,r3,r1} in two batches of two
    # Per batch the union is kept; per sentence, each row scores max(NS, the batch's largest count).
    assert scored_types([[1, 1]], 2, 16, "batch", [6, 12]) == 9.0
    assert scored_types([[1, 3], [0, 12]], 2, 16, "sentence", []) == (3 + 12) / 2
    assert (
        scored_types([[1, 3]], 10, 16, "sentence", []) == 10.0
        and scored_types([], 16, 16, "batch", []) == 16.0
    )


def test_summary_reports_mean_std_and_range() -> None:
    runs = [{"ns": 10, "seed": s, "f1": f, "precision": f, "recall": f, "wall_s": 1, "best_step": 5}
            for s, f in enumerate([0.5, 0.6, 0.7])]  # fmt: skip
    (row,) = arm_summary(runs)
    assert row["n"] == 3 and row["f1_mean"] == pytest.approx(0.6)
    assert row["f1_std"] == pytest.approx(0.1) and (row["f1_min"], row["f1_max"]) == (0.5, 0.7)


def test_merge_pools_runs_of_several_processes(tmp_path: Path) -> None:
    def part(name: str, ns: int, seed: int, f1: float) -> Path:
        run_ = {"ns": ns, "seed": seed, "f1": f1, "precision": f1, "recall": f1, "wall_s": 1, "best_step": 1}
        data = {
            "command": name, "config": {**QualityConfig().__dict__, "data_root": "x", "tiny": None},
            "machine": {}, "skipped": [],
            "datasets": {"diakg": {"K": 16, "runs": [run_], "summary": arm_summary([run_])}},
        }  # fmt: skip
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(data, default=str))
        return path

    merged = merge([part("a", 10, 0, 0.5), part("b", 10, 1, 0.7), part("c", 16, 0, 0.4)])
    rows = {r["ns"]: r for r in merged["datasets"]["diakg"]["summary"]}
    assert rows[10]["n"] == 2 and rows[10]["f1_mean"] == pytest.approx(0.6)
    assert "diff +0.200" in headline(merged)[0]
    assert "| diakg | 16 | OneRel (all K) | 16 | 1 |" in markdown_table(merged)

    out, png = tmp_path / "pooled.json", tmp_path / "pooled.png"
    main(
        ["--merge", str(tmp_path / "a.json"), str(tmp_path / "c.json"), "--out", str(out), "--plot", str(png)]
    )
    pooled = json.loads(out.read_text())["datasets"]["diakg"]["runs"]
    assert sorted((r["ns"], r["seed"]) for r in pooled) == [(10, 0), (16, 0)]
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
@pytest.mark.shared_data
def test_miniature_run_writes_json_table_and_plot(shared_data: Path, tmp_path: Path) -> None:
    config = QualityConfig(
        **{**QUICK, "max_docs": 2, "steps": 4, "eval_every": 4, "ns": ["2", "K"], "seeds": [0],
           "batch_size": 4, "window_chars": 32, "d_e": 16},
        data_root=shared_data, device="cpu",
        tiny=TinyEncoderConfig(hidden=32, layers=1, heads=2, intermediate=64, max_positions=64),
    )  # fmt: skip
    out = tmp_path / "quality.json"
    results = run(config, out)
    entry = json.loads(out.read_text())["datasets"]["diakg"]
    assert entry["K"] >= 2 and entry["val_documents"] >= 1
    assert sorted((r["ns"], r["seed"]) for r in entry["runs"]) == [(2, 0), (entry["K"], 0)]
    assert all(0.0 <= r["f1"] <= 1.0 and r["steps"] == 4 for r in entry["runs"])
    assert [row["n"] for row in entry["summary"]] == [1, 1]
    assert "OneRel (all K)" in markdown_table(results)
    png = ns_curve([out], tmp_path / "ns.png")
    assert png.stat().st_size > 1000
