"""Smoke test of `benchmarks.speed`: the whole run at toy sizes, in-process, and the JSON it writes."""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks.common import write_json
from benchmarks.reference_head import ReferenceOneRelHead, onerel_labels
from benchmarks.speed import SpeedConfig, main, report, run
from extractor.losses import IGNORE_INDEX
from nrskg.errors import ModelError

TOY = SpeedConfig(
    texts_path=None,  # synthetic texts: no dependence on ../shared/data
    lengths=(8, 16),
    num_relations=6,
    ns_values=(5, 10),  # 5 > the 4 gold relation types, so exact; 10 >= K scores all K (headline row)
    batch_size=2,
    d_e=16,
    warmup_steps=1,
    timed_steps=2,
    infer_texts=8,
    infer_batch_size=4,
    long_tokens=40,
    long_batch=1,
    row_block=8,
)


@pytest.mark.slow
def test_toy_run_has_every_row_and_ratio(tmp_path) -> None:
    result = json.loads(write_json(tmp_path / "speed.json", run(TOY)).read_text(encoding="utf-8"))
    assert {"config", "machine", "memory_method", "texts_source", "wall_s"} <= set(result)

    training = result["training"]
    assert [(r["L"], r["arm"], r["ns"]) for r in training] == [
        (L, arm, ns)
        for L in (8, 16)
        for arm, ns in (
            ("encoder only", 0), ("reference", 6), ("ours", 5), ("ours", 10), ("ours, no distance", 10),
            ("ours, no between", 10),
        )
    ]  # fmt: skip
    for row in training:
        assert "error" not in row
        assert row["step_ms"] > 0 and len(row["step_ms_all"]) == TOY.timed_steps
        assert row["time_ratio"] > 0 and row["peak_mb"] > 0
    assert [r["ns_scored"] for r in training if r["L"] == 8] == [0, 6, 5, 6, 6, 6]
    assert all(r["time_ratio"] == 1.0 for r in training if r["arm"] == "reference")
    # The heads' own cost: each step minus the encoder-only step of the same L.
    assert all("head_ratio" in r for r in training if r["arm"] != "encoder only")

    inference = result["inference"]
    assert [r["batching"] for r in inference] == ["length buckets", "input order"]
    for row in inference:
        assert row["texts"] == 8 and row["windows"] >= 8
        assert row["extract_texts_per_s"] > 0 and row["encoder_texts_per_s"] > 0
        # The times are stored rounded to 1 ms; a toy run takes a few ms, so allow for that rounding.
        rounding = row["ratio"] * (0.0005 / row["encoder_s"] + 0.0005 / row["extract_s"])
        assert row["ratio"] == pytest.approx(row["encoder_s"] / row["extract_s"], abs=1e-3 + rounding)
    # Bucketing sorts by length, so it never pads more than input order does.
    assert inference[0]["padding_share"] <= inference[1]["padding_share"]

    assert [r["row_block"] for r in result["row_block"]] == [None, 8]
    assert all(r["delta_mb"] >= 0 and r["ms"] > 0 for r in result["row_block"])

    headline = result["headline"]
    assert (
        set(headline["train_time_ratio_ns10_by_L"])
        == set(headline["head_time_ratio_ns10_by_L"])
        == set(headline["distance_time_ratio_ns10_by_L"])
        == set(headline["between_time_ratio_ns10_by_L"])
        == {"8", "16"}
    )
    # The arms without a term score the same relation types as our NS = 10 arm, on the same batch.
    by_arm = {(r["L"], r["arm"], r["ns"]): r for r in training}
    for arm, key in (("ours, no distance", "distance"), ("ours, no between", "between")):
        assert all(by_arm[L, arm, 10]["ns_scored"] == by_arm[L, "ours", 10]["ns_scored"] for L in (8, 16))
        assert all(
            headline[f"{key}_time_ratio_ns10_by_L"][str(L)]
            == pytest.approx(by_arm[L, "ours", 10]["step_ms"] / by_arm[L, arm, 10]["step_ms"], abs=1e-3)
            for L in (8, 16)
        )
    assert set(headline["extract_vs_encoder"]) == {"length buckets", "input order"}
    assert "training step" in report(result)


def test_reference_head_materialises_all_relations() -> None:
    head = ReferenceOneRelHead(hidden_size=8, num_relations=3, d_e=5, dropout=0.0)
    logits = head(torch.randn(2, 7, 8))
    assert logits.shape == (2, 7, 7, 3, 4)
    # The pair at (i, j) sees s_i and o_j: swapping two tokens swaps the rows and the columns alike.
    hidden = torch.randn(1, 4, 8)
    swapped = hidden[:, [1, 0, 2, 3]]
    assert torch.allclose(head(swapped)[0, 0, 2], head(hidden)[0, 1, 2], atol=1e-6)


def test_onerel_labels_keep_single_marks_and_ignored_cells() -> None:
    ours = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, IGNORE_INDEX])
    mapped = onerel_labels(ours)
    assert mapped[:4].tolist() == [0, 1, 2, 3]
    assert set(mapped[4:8].tolist()) <= {1, 2, 3}
    assert mapped[-1] == IGNORE_INDEX


def test_cli_rejects_an_unknown_encoder(tmp_path) -> None:
    with pytest.raises(ModelError, match="expected one of"):
        main(
            [
                "--quick",
                "--encoder",
                str(tmp_path / "nowhere"),
                "--texts",
                "",
                "--out",
                str(tmp_path / "o.json"),
            ]
        )
