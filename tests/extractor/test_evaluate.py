"""Micro P/R/F1 on exact (subject, relation, object) match per sentence, with per-relation rows."""

from __future__ import annotations

import json

import pytest

from extractor.evaluate import (
    CurvePoint,
    OperatingPoints,
    Score,
    confidence_curve,
    edge_score,
    kept,
    score,
    threshold_for_precision,
)

DRUG, SYMPTOM = "Drug_Disease", "Symptom_Disease"


def test_micro_and_per_relation_scores_on_hand_made_sentences():
    gold = [
        {("二甲双胍", DRUG, "2型糖尿病"), ("多饮", SYMPTOM, "糖尿病")},
        {("胰岛素", DRUG, "1型糖尿病")},
        set(),
    ]
    predicted = [
        {("二甲双胍", DRUG, "2型糖尿病"), ("多尿", SYMPTOM, "糖尿病")},  # one right, one wrong
        {("胰岛素", DRUG, "糖尿病")},  # wrong object span
        {("胰岛素", DRUG, "1型糖尿病")},  # right triple, wrong sentence: does not count
    ]
    report = score(gold, predicted)
    assert (report.micro.gold, report.micro.predicted, report.micro.correct) == (3, 4, 1)
    assert report.micro.precision == pytest.approx(1 / 4)
    assert report.micro.recall == pytest.approx(1 / 3)
    assert report.micro.f1 == pytest.approx(2 * (1 / 4) * (1 / 3) / (1 / 4 + 1 / 3))
    rows = {s.name: s for s in report.relations}
    assert [s.name for s in report.relations] == [DRUG, SYMPTOM]  # most gold first
    assert (rows[DRUG].gold, rows[DRUG].predicted, rows[DRUG].correct) == (2, 3, 1)
    assert (rows[SYMPTOM].gold, rows[SYMPTOM].predicted, rows[SYMPTOM].correct) == (1, 1, 0)
    assert rows[SYMPTOM].f1 == 0.0


def test_perfect_and_empty_predictions():
    gold = [{("a", "R", "b")}, {("c", "R", "d")}]
    assert score(gold, gold).micro.f1 == 1.0
    empty = score(gold, [set(), set()]).micro
    assert (empty.precision, empty.recall, empty.f1) == (0.0, 0.0, 0.0)


def test_report_as_json_and_text():
    report = score([{("二甲双胍", DRUG, "糖尿病")}], [{("二甲双胍", DRUG, "糖尿病"), ("x", SYMPTOM, "y")}])
    data = json.loads(json.dumps(report.to_json()))
    assert data["sentences"] == 1
    assert data["micro"]["precision"] == 0.5 and data["micro"]["recall"] == 1.0
    assert {row["name"] for row in data["relations"]} == {DRUG, SYMPTOM}
    lines = report.to_text().splitlines()
    assert lines[0].split()[:2] == ["relation", "gold"]
    assert lines[-1].split() == ["micro", "1", "2", "1", "0.500", "1.000", "0.667"]
    assert any(line.startswith(SYMPTOM) for line in lines)


def test_mismatched_lengths_are_an_error():
    with pytest.raises(ValueError, match="1 gold sentences but 0 predicted"):
        score([set()], [])


def test_confidence_curve_trades_recall_for_precision_and_finds_the_threshold():
    gold = [{("a", "r", "b"), ("c", "r", "d")}, {("e", "r", "f")}]
    predicted = [
        {("a", "r", "b"): 0.9, ("x", "r", "y"): 0.6, ("c", "r", "d"): 0.7},
        {("e", "r", "f"): 0.95, ("p", "r", "q"): 0.55},
    ]
    curve = confidence_curve(gold, predicted, [0.0, 0.58, 0.65, 0.8, 0.99])
    assert [(p.predicted, round(p.precision, 3), round(p.recall, 3)) for p in curve] == [
        (5, 0.6, 1.0), (4, 0.75, 1.0), (3, 1.0, 1.0), (2, 1.0, 0.667), (0, 0.0, 0.0),
    ]  # fmt: skip
    assert threshold_for_precision(curve, 0.9).min_confidence == 0.65  # the most recall at that precision
    assert threshold_for_precision(curve[:2], 0.9) is None


def test_edges_count_each_triple_once_over_all_sentences():
    metformin = ("二甲双胍", DRUG, "2型糖尿病")
    gold = [{metformin}, {metformin, ("多饮", SYMPTOM, "糖尿病")}, set()]
    predicted = [
        {metformin: 0.99},
        {metformin: 0.98, ("多尿", SYMPTOM, "糖尿病"): 0.6},  # one right, one wrong
        {("多饮", SYMPTOM, "糖尿病"): 0.95},  # annotated in another sentence only: a right edge
    ]
    sentences = score(gold, kept(predicted, 0.0)).micro
    assert (sentences.gold, sentences.predicted, sentences.correct) == (3, 4, 2)
    edges = edge_score(gold, kept(predicted, 0.0))
    assert (edges.gold, edges.predicted, edges.correct) == (2, 3, 2)  # one edge of metformin, not two
    assert edges.precision == pytest.approx(2 / 3) and edges.recall == 1.0
    assert kept(predicted, 0.97) == [{metformin}, {metformin}, set()]
    high = edge_score(gold, kept(predicted, 0.97))
    assert (high.predicted, high.correct, high.recall) == (1, 1, 0.5)


def test_operating_points_say_the_models_threshold_its_edges_and_the_recall_at_the_target_precision():
    own = CurvePoint(0.95, 0.913, 0.07, 0.13, 40)
    reaching = CurvePoint(0.8, 0.902, 0.31, 0.461, 170)
    edges = Score("edges", gold=200, predicted=25, correct=20)
    text = "\n".join(OperatingPoints(0.9, own, reaching, edges).lines())
    assert "minimum confidence 0.95" in text and "R 0.070" in text
    assert "25 edges, P 0.800, R 0.100 of 200 annotated" in text
    assert "recall at precision 0.90 on these sentences: R 0.310 (minimum confidence 0.8, P 0.902)" in text
    assert "no minimum confidence reaches precision 0.90" in "\n".join(
        OperatingPoints(0.9, own, None, edges).lines()
    )
