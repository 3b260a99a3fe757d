from __future__ import annotations

from benchmarks.seen_mentions import errors_by_nearness, nearness, recall_by_familiarity, recall_by_gap
from extractor.schema import Entity, Example, Triple


def test_recall_is_split_by_how_familiar_each_gold_triple_is():
    gold = [
        {("二甲双胍", "Drug_Disease", "糖尿病"), ("胰岛素", "Drug_Disease", "糖尿病")},
        {("利拉鲁肽", "Drug_Disease", "肥胖")},
    ]
    predicted = [{("二甲双胍", "Drug_Disease", "糖尿病"), ("阿卡波糖", "Drug_Disease", "糖尿病")}, set()]
    seen = {"二甲双胍", "糖尿病", "胰岛素"}
    rows = {
        r["validation triples"]: r
        for r in recall_by_familiarity(gold, predicted, seen, {("胰岛素", "Drug_Disease", "糖尿病")})
    }
    assert (rows["both mentions"]["gold"], rows["both mentions"]["found"]) == (2, 1)
    assert (rows["neither mention"]["gold"], rows["neither mention"]["recall"]) == (1, 0.0)
    assert rows["one mention"]["gold"] == 0 and rows["one mention"]["recall"] is None
    assert (rows["triple seen"]["gold"], rows["triple seen"]["found"], rows["triple new"]["gold"]) == (
        1,
        0,
        2,
    )
    assert rows["all"]["gold"] == 3
    assert rows["all"]["found"] == 1


def test_an_error_is_named_by_the_nearest_right_triple():
    gold = {("二甲双胍", "Drug_Disease", "2型糖尿病"), ("肾", "Anatomy_Disease", "糖尿病肾病")}
    assert nearness(("二甲双胍", "ADE_Drug", "2型糖尿病"), gold) == "other relation"
    assert nearness(("2型糖尿病", "Drug_Disease", "二甲双胍"), gold) == "reversed"
    assert nearness(("二甲双胍", "Drug_Disease", "糖尿病"), gold) == "other boundaries"
    assert nearness(("肾脏", "Anatomy_Disease", "糖尿病肾病"), gold) == "other boundaries"
    assert nearness(("眼", "Anatomy_Disease", "糖尿病肾病"), gold) == "one mention"
    assert nearness(("胰岛素", "Drug_Disease", "高血压"), gold) == "nothing near"


def test_false_positives_and_misses_are_counted_against_their_own_sentence():
    gold = [{("二甲双胍", "Drug_Disease", "糖尿病")}, {("胰岛素", "Drug_Disease", "糖尿病")}]
    predicted = [{("二甲双胍", "Drug_Disease", "2型糖尿病")}, {("二甲双胍", "Drug_Disease", "糖尿病")}]
    rows = {row["nearest"]: row for row in errors_by_nearness(gold, predicted)}
    assert (rows["other boundaries"]["false positives"], rows["other boundaries"]["missed"]) == (1, 1)
    assert (rows["one mention"]["false positives"], rows["one mention"]["missed"]) == (1, 1)
    assert (rows["all"]["false positives"], rows["all"]["missed"]) == (2, 2)


def test_recall_is_split_by_the_characters_between_the_two_mentions():
    text = "糖尿病肾病用二甲双胍，" + "。" * 30 + "二甲双胍高血压"
    disease, drug = Entity(0, 5, "糖尿病肾病"), Entity(6, 10, "二甲双胍")
    later_drug, pressure = Entity(41, 45, "二甲双胍"), Entity(45, 48, "高血压")
    kidney = Triple(Entity(3, 4, "肾"), "Anatomy_Disease", disease)  # inside the disease
    treats = [
        Triple(drug, "Drug_Disease", disease),
        Triple(later_drug, "Drug_Disease", disease),
    ]  # 1 and 36 apart
    lowers = [
        Triple(drug, "Drug_Disease", pressure),
        Triple(later_drug, "Drug_Disease", pressure),
    ]  # 35 and 0
    examples = [Example(text, [kidney, *treats, *lowers])]
    rows = {r["characters between"]: r for r in recall_by_gap(examples, [{treats[0].key(), lowers[0].key()}])}
    assert (rows["overlapping or touching"]["gold"], rows["overlapping or touching"]["found"]) == (2, 1)
    assert (rows["1-9"]["gold"], rows["1-9"]["recall"]) == (1, 1.0)
    assert rows["30-59"]["gold"] == 0 and rows["30-59"]["recall"] is None
