"""Dedup: normalised keys, aggregation counts, deterministic output, and the graph batch."""

from __future__ import annotations

import pandas as pd
import pytest

from nrskg.contracts import TRIPLE_COLUMNS
from nrskg.errors import DataFormatError
from pipeline.dedup import ENTITY_COLUMNS, RELATION_COLUMNS, deduplicate
from pipeline.graph_batch import to_graph_batch
from pipeline.keys import entity_key, normalise_name

D1, D2 = "a" * 64, "b" * 64


def _triple(sent, head, relation, tail, hs=0, ts=10, conf=0.9, head_type="Drug", tail_type="Disease"):
    return dict(
        sent_id=sent,
        head=head,
        head_type=head_type,
        head_start=hs,
        head_end=hs + len(head),
        relation=relation,
        tail=tail,
        tail_type=tail_type,
        tail_start=ts,
        tail_end=ts + len(tail),
        confidence=conf,
        model_version="v1",
    )


@pytest.fixture
def triples() -> pd.DataFrame:
    rows = [
        _triple(f"{D1}:0", "二甲双胍", "Drug_Disease", "2型糖尿病", conf=0.8),
        _triple(f"{D1}:0", "二甲双胍", "Drug_Disease", "2型糖尿病", conf=0.95),  # same place twice
        _triple(f"{D1}:10", "二甲双胍 ", "Drug_Disease", "２型糖尿病", conf=0.7),
        _triple(f"{D2}:2", "Metformin", "Drug_Disease", "2型糖尿病", conf=0.6),
        _triple(f"{D2}:3", "ＭＥＴＦＯＲＭＩＮ", "Drug_Disease", "2型糖尿病", conf=0.5),
        _triple(f"{D2}:3", "metformin", "Drug_Disease", "2型糖尿病", hs=20, conf=0.4),
        _triple(f"{D1}:2", "胰岛素", "Drug_Disease", "1型糖尿病", conf=0.3),
        _triple(f"{D1}:2", "低血糖", "ADE_Drug", "胰岛素", head_type="ADE", tail_type="Drug", conf=0.2),
    ]
    return pd.DataFrame(rows, columns=TRIPLE_COLUMNS)


def test_names_normalise_width_case_and_spaces() -> None:
    assert normalise_name(" ＭｅｔＦｏｒｍｉｎ　ＸＲ ") == "metforminxr"
    assert entity_key("二甲 双胍", "Drug") == "Drug:二甲双胍"
    assert entity_key("二甲双胍", "Drug") != entity_key("二甲双胍", "Treatment")


def test_entities_collapse_surface_forms_and_list_mentions(triples: pd.DataFrame) -> None:
    entities, _ = deduplicate(triples)
    assert list(entities.columns) == ENTITY_COLUMNS
    assert entities["key"].tolist() == sorted(entities["key"])
    row = entities.set_index("key").loc["Drug:二甲双胍"]
    assert row["name"] == "二甲双胍"  # 2 places against 1 for "二甲双胍 "
    assert row["surface_forms"] == ["二甲双胍", "二甲双胍 "]
    assert row["mentions"] == [f"{D1}:0", f"{D1}:10"]  # document order, not string order
    assert row["mention_forms"] == [["二甲双胍"], ["二甲双胍 "]]  # the forms read in each of them
    assert row["n_mentions"] == 2
    metformin = entities.set_index("key").loc["Drug:metformin"]
    assert metformin["name"] == "Metformin"  # 1-1-1 tie: the smallest string
    assert metformin["n_mentions"] == 3
    assert metformin["mention_forms"] == [["Metformin"], ["metformin", "ＭＥＴＦＯＲＭＩＮ"]]  # 2 in D2:3
    disease = entities.set_index("key").loc["Disease:2型糖尿病"]
    assert disease["surface_forms"] == ["2型糖尿病", "２型糖尿病"]
    # Insulin is a Drug as a head and as a tail: one entity.
    assert (entities["key"] == "Drug:胰岛素").sum() == 1


def test_relations_count_distinct_evidence_and_keep_max_confidence(triples: pd.DataFrame) -> None:
    _, relations = deduplicate(triples)
    assert list(relations.columns) == RELATION_COLUMNS
    by_head = relations.set_index("head_key")
    chinese = by_head.loc["Drug:二甲双胍"]
    assert chinese["count"] == 2
    assert chinese["confidence_max"] == 0.95
    assert chinese["doc_ids"] == [D1]
    assert chinese["evidence"][0] == {
        "sent_id": f"{D1}:0",
        "head_start": 0,
        "head_end": 4,
        "tail_start": 10,
        "tail_end": 15,
        "confidence": 0.95,
    }
    english = by_head.loc["Drug:metformin"]
    assert english["count"] == 3 and english["doc_ids"] == [D2]
    assert [e["sent_id"] for e in english["evidence"]] == [f"{D2}:2", f"{D2}:3", f"{D2}:3"]
    assert relations["count"].sum() == 7  # 8 rows, one repeated place
    assert set(relations["model_version"]) == {"v1"}


def test_shuffled_input_gives_identical_tables(triples: pd.DataFrame) -> None:
    entities, relations = deduplicate(triples)
    for seed in range(5):
        shuffled = triples.sample(frac=1, random_state=seed).reset_index(drop=True)
        other_entities, other_relations = deduplicate(shuffled)
        pd.testing.assert_frame_equal(entities, other_entities)
        pd.testing.assert_frame_equal(relations, other_relations)


def test_overlapping_windows_count_a_place_once() -> None:
    # Windows 0 and 1 of one sentence overlap by 50 characters starting at document offset 150.
    sentences = pd.DataFrame({"sent_id": [f"{D1}:0", f"{D1}:1"], "start": [0, 150]})
    triples = pd.DataFrame(
        [
            _triple(f"{D1}:0", "胰岛素", "Drug_Disease", "糖尿病", hs=160, ts=170),
            _triple(f"{D1}:1", "胰岛素", "Drug_Disease", "糖尿病", hs=10, ts=20),  # the same place
            _triple(f"{D1}:1", "胰岛素", "Drug_Disease", "糖尿病", hs=100, ts=120),
        ]
    )
    _, without = deduplicate(triples)
    _, with_sentences = deduplicate(triples, sentences)
    assert without["count"].tolist() == [3]
    assert with_sentences["count"].tolist() == [2]
    assert [e["sent_id"] for e in with_sentences["evidence"].iloc[0]] == [f"{D1}:0", f"{D1}:1"]


def test_bad_tables_fail_with_the_column_named(triples: pd.DataFrame) -> None:
    with pytest.raises(DataFormatError, match="missing columns \\['confidence'\\]"):
        deduplicate(triples.drop(columns="confidence"))
    broken = triples.assign(head_start="x")
    with pytest.raises(DataFormatError, match="wrong type"):
        deduplicate(broken)


def test_unkeyable_rows_are_dropped_and_empty_input_gives_empty_tables(triples: pd.DataFrame) -> None:
    blank = pd.DataFrame([_triple(f"{D1}:5", "  ", "Drug_Disease", "糖尿病")])
    entities, relations = deduplicate(pd.concat([triples, blank], ignore_index=True))
    assert relations["count"].sum() == 7
    empty_entities, empty_relations = deduplicate(triples.iloc[:0])
    assert empty_entities.empty and list(empty_entities.columns) == ENTITY_COLUMNS
    assert empty_relations.empty and list(empty_relations.columns) == RELATION_COLUMNS


def test_graph_batch_carries_every_table(triples: pd.DataFrame) -> None:
    entities, relations = deduplicate(triples)
    used = sorted(set(triples["sent_id"]))
    sentences = pd.DataFrame(
        {
            "sent_id": used,
            "doc_id": [s.split(":")[0] for s in used],
            "text": ["句子"] * len(used),
            "start": [2 * i for i in range(len(used))],
            "end": [2 * i + 2 for i in range(len(used))],
            "orig_start": [3 * i for i in range(len(used))],
            "orig_end": [3 * i + 2 for i in range(len(used))],
        }
    )
    documents = pd.DataFrame(
        {
            "doc_id": [D1, D2, None, D2],
            "source": ["a.txt", "b.txt", "broken.bin", "copy-of-b.txt"],
            "status": ["new", "new", "failed:binary", "skipped"],
        }
    )
    batch = to_graph_batch(documents, sentences, entities, relations)
    assert [(d.doc_id, d.source) for d in batch.documents] == [(D1, "a.txt"), (D2, "b.txt")]
    assert len(batch.sentences) == len(used)
    assert [(s.start, s.end, s.source_start, s.source_end) for s in batch.sentences][:2] == [
        (0, 2, 0, 2),
        (2, 4, 3, 5),
    ]
    assert len(batch.entities) == len(entities)
    assert len(batch.mentions) == sum(len(m) for m in entities["mentions"])
    forms = {(m.entity_key, m.sent_id): m.surface_forms for m in batch.mentions}
    assert forms[("Drug:二甲双胍", f"{D1}:10")] == ["二甲双胍 "]
    edge = next(r for r in batch.relations if r.head_key == "Drug:二甲双胍")
    assert (edge.count, edge.confidence, edge.model_version) == (2, 0.95, "v1")
    assert edge.evidence[0].sent_id == f"{D1}:0" and edge.evidence[0].head_end == 4
    assert max(ev.confidence for ev in edge.evidence) == 0.95 > min(ev.confidence for ev in edge.evidence)
    with pytest.raises(DataFormatError, match="not in the batch"):
        to_graph_batch(documents.iloc[:1], sentences, entities, relations)
