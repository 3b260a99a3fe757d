"""The writer against a mocked driver: the exact statements and parameters, batching, counters and errors."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from unittest.mock import MagicMock

import neo4j
import pytest
from pydantic import ValidationError

from graph import write_statements as cypher
from graph.schema import GraphSchema
from graph.types import (
    MAX_ID_LENGTH,
    DocumentNode,
    EntityNode,
    Evidence,
    GraphBatch,
    Mention,
    RelationEdge,
    SentenceNode,
    WriteCounters,
    graph_key,
)
from graph.writer import EVIDENCE_SAMPLE, plan_statements, replace_documents
from nrskg.errors import DataFormatError, GraphError, UnknownRelationError

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SCHEMA = GraphSchema.from_names(["Drug_Disease", "ADE_Drug"], ["Drug", "Disease", "ADE"])
DRUG, DISEASE = "Drug:二甲双胍", "Disease:2型糖尿病"
EV = Evidence(sent_id="d1:0", head_start=0, head_end=4, tail_start=6, tail_end=11, confidence=0.9)


def make_batch(relation: str = "Drug_Disease", model_version: str = "v1") -> GraphBatch:
    return GraphBatch(
        documents=[DocumentNode(doc_id="d1", source="guide.txt")],
        sentences=[
            SentenceNode(sent_id="d1:0", doc_id="d1", text="二甲双胍治疗2型糖尿病"),
            SentenceNode(sent_id="d1:1", doc_id="d1", text="2型糖尿病"),
        ],
        entities=[
            EntityNode(key=DRUG, name="二甲双胍", type="Drug"),
            EntityNode(key=DISEASE, name="2型糖尿病", type="Disease"),
        ],
        mentions=[
            Mention(entity_key=DISEASE, sent_id="d1:1", surface_forms=["2型糖尿病"]),
            Mention(entity_key=DRUG, sent_id="d1:0", surface_forms=["格", "二甲双胍"]),
            Mention(entity_key=DRUG, sent_id="d1:0", surface_forms=["二甲双胍"]),
        ],
        relations=[
            RelationEdge(
                head_key=DRUG, relation=relation, tail_key=DISEASE, count=2,
                model_version=model_version, evidence=[EV.model_copy(update={"confidence": 0.4}), EV],
            )
        ],
    )  # fmt: skip


def mocked_driver(counters: dict[str, int] | None = None) -> tuple[MagicMock, MagicMock, MagicMock]:
    """A driver whose managed transactions really call the transaction function, with a mocked `tx`."""
    driver = MagicMock(spec=neo4j.Driver)
    session = driver.session.return_value.__enter__.return_value
    tx = MagicMock(spec=neo4j.ManagedTransaction)
    session.execute_write.side_effect = lambda fn, *args: fn(tx, *args)
    values = {name: 0 for name in WriteCounters.model_fields} | (counters or {})
    tx.run.return_value.consume.return_value.counters = SimpleNamespace(**values)
    return driver, session, tx


def test_plan_is_one_unwind_statement_per_kind_label_and_type_in_dependency_order() -> None:
    statements = plan_statements(make_batch(), SCHEMA, now=NOW)
    assert [s.what for s in statements] == [
        "documents", "sentences", "entities:Drug", "entities:Disease", "mentions", "relations:DRUG_DISEASE",
    ]  # fmt: skip
    assert [s.text for s in statements] == [
        cypher.MERGE_DOCUMENTS,
        cypher.MERGE_SENTENCES,
        cypher.merge_entities("Drug"),
        cypher.merge_entities("Disease"),
        cypher.MERGE_MENTIONS,
        cypher.merge_relationships("DRUG_DISEASE"),
    ]
    docs, sents, drugs, _, mentions, rels = (s.params for s in statements)
    assert docs == {"rows": [{"doc_id": "d1", "source": "guide.txt", "content_hash": None}]}
    assert sents["rows"][0] == {
        "sent_id": "d1:0",
        "doc_id": "d1",
        "text": "二甲双胍治疗2型糖尿病",
        "start": None,
        "end": None,
        "source_start": None,
        "source_end": None,
    }
    assert drugs == {"rows": [{"key": DRUG, "name": "二甲双胍", "type": "Drug"}]}
    # The explicit mentions and head and tail of every evidence sentence: one row per (entity, sentence), in
    # key order (the order loads at once take the locks in), with the forms read there as a sorted set (none
    # known for a bare evidence end).
    assert mentions == {
        "rows": [
            {"entity_key": DISEASE, "sent_id": "d1:0", "surface_forms": []},
            {"entity_key": DISEASE, "sent_id": "d1:1", "surface_forms": ["2型糖尿病"]},
            {"entity_key": DRUG, "sent_id": "d1:0", "surface_forms": ["二甲双胍", "格"]},
        ]
    }
    # Each place once, with its offsets and highest confidence for the EVIDENCE link and its string for the
    # relationship's sample.
    place = {
        "sent_id": "d1:0",
        "head_start": 0,
        "head_end": 4,
        "tail_start": 6,
        "tail_end": 11,
        "confidence": 0.9,
    }
    assert rels == {
        "rows": [
            {
                "head_key": DRUG, "tail_key": DISEASE, "relation": "Drug_Disease", "confidence": 0.9,
                "model_version": "v1", "evidence": [{**place, "item": "d1:0|0|4|6|11|v1"}],
            }
        ],
        "now": NOW,
        "sample": EVIDENCE_SAMPLE,
    }  # fmt: skip


def test_plan_splits_rows_into_batches_of_the_configured_size() -> None:
    statements = plan_statements(make_batch(), SCHEMA, batch_size=1, now=NOW)
    assert [s.what for s in statements].count("sentences") == 2
    assert [s.what for s in statements].count("mentions") == 3
    assert all(len(s.params["rows"]) == 1 for s in statements)
    with pytest.raises(GraphError, match="batch size must be at least 1"):
        plan_statements(make_batch(), SCHEMA, batch_size=0)


def test_unknown_relation_or_entity_type_is_refused_before_anything_is_written() -> None:
    driver, _, _ = mocked_driver()
    with pytest.raises(UnknownRelationError, match="relation 'Cures' is not in the relation schema"):
        replace_documents(driver, ["d1"], make_batch(relation="Cures"), "v1", SCHEMA)
    without_drugs = GraphSchema.from_names(["Drug_Disease"], ["Disease"])
    with pytest.raises(UnknownRelationError, match="entity type 'Drug'"):
        replace_documents(driver, ["d1"], make_batch(), "v1", without_drugs)
    driver.session.assert_not_called()


def test_driver_errors_become_graph_errors_naming_the_write() -> None:
    driver, session, _ = mocked_driver()
    session.execute_write.side_effect = neo4j.exceptions.ServiceUnavailable("connection lost")
    with pytest.raises(
        GraphError,
        match=r"Neo4j does not answer \(connection lost\) while writing the extraction of 1 documents",
    ):
        replace_documents(driver, ["d1"], make_batch(), "v1", SCHEMA)


def test_replace_strips_rewrites_and_cleans_up_in_one_transaction() -> None:
    driver, session, tx = mocked_driver({"relationships_deleted": 1})
    tx.run.return_value.single.return_value = {"keys": ["Drug:old"], "emptied": ["5:abc:7"]}
    total = replace_documents(
        driver, ["d1", "d1"], make_batch(model_version="v2"), "v2", SCHEMA, now=NOW, min_confidence=0.9
    )
    assert session.execute_write.call_count == 1
    calls = [(c.args[0], c.args[1]) for c in tx.run.call_args_list]
    planned = plan_statements(make_batch(model_version="v2"), SCHEMA, now=NOW)
    assert calls[0] == (cypher.STRIP_DOCUMENT_EVIDENCE, {"doc_ids": ["d1"], "sample": EVIDENCE_SAMPLE})
    assert calls[1] == (cypher.DELETE_DOCUMENT_MENTIONS, {"doc_ids": ["d1"]})
    sent_ids = [s.sent_id for s in make_batch().sentences]
    assert calls[2] == (cypher.DELETE_STALE_SENTENCES, {"doc_ids": ["d1"], "sent_ids": sent_ids})
    assert calls[3:-3] == [(s.text, s.params) for s in planned]
    assert calls[-3] == (cypher.DELETE_EMPTIED_RELATIONSHIPS, {"ids": ["5:abc:7"]})
    assert calls[-2] == (cypher.DELETE_ORPHAN_ENTITIES, {"keys": ["Drug:old"]})
    assert calls[-1] == (
        cypher.MARK_DOCUMENTS_LOADED,
        {"doc_ids": ["d1"], "model_version": "v2", "min_confidence": 0.9, "now": NOW},
    )
    assert total.relationships_deleted == len(calls)


def test_replace_refuses_rows_of_other_versions_or_documents() -> None:
    driver, _, _ = mocked_driver()
    with pytest.raises(DataFormatError, match="relations\\[0\\] has model version 'v1', expected 'v2'"):
        replace_documents(driver, ["d1"], make_batch(model_version="v1"), "v2", SCHEMA)
    with pytest.raises(
        DataFormatError, match="documents\\[0\\] \\('d1'\\) is not one of the replaced documents"
    ):
        replace_documents(driver, ["d9"], make_batch(model_version="v2"), "v2", SCHEMA)
    driver.session.assert_not_called()


def test_batch_refuses_references_that_do_not_resolve() -> None:
    good = make_batch()
    with pytest.raises(DataFormatError, match="relations\\[0\\].*entity 'Drug:x' is not in the batch"):
        GraphBatch(
            **{**dict(good), "relations": [good.relations[0].model_copy(update={"head_key": "Drug:x"})]}
        )
    with pytest.raises(DataFormatError, match="mentions\\[0\\]: sentence 'd1:9' is not in the batch"):
        GraphBatch(**{**dict(good), "mentions": [Mention(entity_key=DRUG, sent_id="d1:9")]})
    with pytest.raises(DataFormatError, match="sentences\\[0\\].*document 'd2' is not in the batch"):
        GraphBatch(**{**dict(good), "sentences": [SentenceNode(sent_id="d2:0", doc_id="d2", text="x")]})


def test_evidence_fields_that_would_break_the_encoding_are_refused() -> None:
    with pytest.raises(ValidationError, match="must not contain '\\|'"):
        Evidence(sent_id="d1|0", head_start=0, head_end=1, tail_start=1, tail_end=2, confidence=0.5)
    with pytest.raises(ValidationError, match="empty span"):
        Evidence(sent_id="d1:0", head_start=3, head_end=3, tail_start=1, tail_end=2, confidence=0.5)
    assert EV.encode("v7") == "d1:0|0|4|6|11|v7"


def test_graph_key_keeps_short_keys_and_bounds_long_ones_uniquely() -> None:
    assert graph_key(DRUG) == DRUG
    long_a, long_b = "Drug:" + "糖" * 10_000, "Drug:" + "糖" * 9_999 + "尿"
    assert len(graph_key(long_a)) == MAX_ID_LENGTH and len(graph_key(long_a).encode()) < 8000
    assert graph_key(long_a) != graph_key(long_b) and graph_key(long_a).startswith("Drug:糖糖")
