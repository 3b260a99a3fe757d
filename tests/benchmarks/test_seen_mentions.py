from __future__ import annotations

from benchmarks.seen_mentions import recall_by_familiarity


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
