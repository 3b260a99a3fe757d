from __future__ import annotations

import json
from pathlib import Path

import torch

from benchmarks.decoding import (
    ANYWHERE,
    MENTION,
    marks_above,
    mention_uses,
    oracle_rows,
    predicted_mentions,
    snapped,
)
from extractor import model as nrs_model
from extractor import tagging
from extractor.infer import PredictedTriple
from extractor.schema import Entity

TEXT = "糖尿病肾病综合征晚期患者用二甲双胍"


def entity(entity_id: str, surface: str, kind: str) -> dict[str, object]:
    start = TEXT.index(surface)
    return {"entity_id": entity_id, "entity": surface, "entity_type": kind, "start_idx": start,
            "end_idx": start + len(surface)}  # fmt: skip


def test_the_oracle_loses_nested_gold_spans_sharing_a_begin_beyond_the_reach(tmp_path: Path) -> None:
    """One drug with two nested diseases that share their first character: the longer one (10 characters)
    needs the shared begin, so a reach of 8 tokens loses it and an unlimited reach keeps it."""
    sentence = {
        "sentence_id": "0", "sentence": TEXT, "start_idx": 0, "end_idx": len(TEXT),
        "entities": [entity("T0", "糖尿病", "Disease"), entity("T1", "糖尿病肾病综合征晚期", "Disease"),
                     entity("T2", "二甲双胍", "Drug")],
        "relations": [{"relation_type": "Drug_Disease", "relation_id": f"R{k}", "head_entity_id": "T2",
                       "tail_entity_id": tail} for k, tail in enumerate(("T0", "T1"))],
    }  # fmt: skip
    folder = tmp_path / "diakg" / "train"
    folder.mkdir(parents=True)
    paragraph = {"paragraph_id": "0", "paragraph": TEXT, "sentences": [sentence]}
    document = {"doc_id": "1", "paragraphs": [paragraph]}
    (folder / "1.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    rows = oracle_rows(tmp_path, [ANYWHERE, 8, 0])
    assert [(r["data set"], r["reach"], r["gold"], r["recovered"]) for r in rows] == [
        ("diakg", "anywhere", 2, 2),
        ("diakg", "8", 2, 1),
        ("diakg", "0", 2, 1),
    ]


def test_a_lower_mark_threshold_reads_more_marks_and_only_inside_its_block() -> None:
    """Logits -0.5, 0.2, -2.0 for HB-TB, HB-TE, HE-TE: one mark at the losses' 0, two at -1, none at 1."""
    logits = torch.tensor([[-0.5, 0.2, -2.0]])
    classes = {}
    for threshold in (-1.0, 1.0):
        with marks_above(threshold):
            classes[threshold] = nrs_model.cell_classes("mcce", logits).item()
            assert nrs_model.marked_cells("mcce", logits).item() is (threshold < 0.2)
    classes[0.0] = nrs_model.cell_classes("mcce", logits).item()
    assert tagging.marks_of(classes[0.0]) == {tagging.HB_TE}
    assert tagging.marks_of(classes[-1.0]) == {tagging.HB_TB, tagging.HB_TE}
    assert classes[1.0] == 0


def test_mention_uses_filter_and_snap_arguments_to_the_predicted_mentions() -> None:
    """Predicted mentions 二甲双胍 and 2型糖尿病: a triple whose tail 糖尿病 lies inside 2型糖尿病 is
    dropped by the filter and moved to it by snapping; the mention column's self-pairs are no triple."""
    text = "二甲双胍用于2型糖尿病。"

    def triple(head: tuple[int, int], relation: str, tail: tuple[int, int]) -> PredictedTriple:
        h, t = (Entity(s, e, text[s:e], relation) for s, e in (head, tail))
        return PredictedTriple(h, relation, t, confidence=0.9)

    triples = [
        triple((0, 4), MENTION, (0, 4)),
        triple((6, 11), MENTION, (6, 11)),
        triple((0, 4), "Drug_Disease", (8, 11)),
        triple((0, 2), "Drug_Disease", (6, 11)),  # 二甲 has no mention but overlaps 二甲双胍
    ]
    assert snapped((8, 11), {(0, 4), (6, 11)}) == (6, 11) and snapped((4, 6), {(0, 4), (6, 11)}) is None
    mentions = predicted_mentions(triples)
    assert mentions == {(0, 4), (6, 11)}
    uses = mention_uses(text, triples, mentions)
    decoded = {("二甲双胍", "Drug_Disease", "糖尿病"), ("二甲", "Drug_Disease", "2型糖尿病")}
    assert uses["as decoded"] == decoded
    assert uses["both on mentions"] == set()
    assert uses["snapped"] == {("二甲双胍", "Drug_Disease", "2型糖尿病")}
