"""The whitelist of labels and relationship types, and the constraint/index statements (mocked driver)."""

from __future__ import annotations

import re
from pathlib import Path
from unittest.mock import MagicMock, call

import neo4j
import pytest
from hypothesis import given
from hypothesis import strategies as st

from graph import identifiers, queries
from graph.identifiers import LABEL_PATTERN, RELATIONSHIP_TYPE_PATTERN
from graph.schema import (
    AWAIT_INDEXES,
    INDEX_WAIT_SECONDS,
    SCHEMA_STATEMENTS,
    GraphSchema,
    ensure_schema,
    label_for,
    relationship_type_for,
)
from nrskg.errors import GraphError, UnknownRelationError

# The relation and entity type names of DiaKG and Ruijin round 2, as shared/data/README.md lists them.
DIAKG_RELATIONS = [
    "Anatomy_Disease", "Test_items_Disease", "Drug_Disease", "Class_Disease", "ADE_Drug", "Treatment_Disease",
    "Symptom_Disease", "Method_Drug", "Test_Disease", "Reason_Disease", "Amount_Drug", "Frequency_Drug",
    "Pathogenesis_Disease", "Duration_Drug", "Operation_Disease", "ADE_Disease",
]  # fmt: skip
RUIJIN_RELATIONS = ["SideEff-Drug"]
ENTITY_TYPES = [
    "Disease", "Class", "Reason", "Pathogenesis", "Symptom", "Test", "Test_items", "Test_Value", "Drug",
    "Frequency", "Amount", "Method", "Treatment", "Operation", "ADE", "Anatomy", "Level", "Duration",
    "SideEff",
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Drug_Disease", "DRUG_DISEASE"),
        ("Test_items_Disease", "TEST_ITEMS_DISEASE"),
        ("SideEff-Drug", "SIDE_EFF_DRUG"),
        ("ADE_Drug", "ADE_DRUG"),
        ("x`]->() DETACH DELETE n //", "X_DETACH_DELETE_N"),
    ],
)
def test_relationship_type_for_ascii_names(name: str, expected: str) -> None:
    assert relationship_type_for(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Test_items", "TestItems"), ("ADE", "ADE"), ("SideEff", "SideEff"), ("drug", "Drug")],
)
def test_label_for_ascii_types(name: str, expected: str) -> None:
    assert label_for(name) == expected


def test_non_ascii_names_get_stable_hashed_identifiers() -> None:
    rel, label = relationship_type_for("药物治疗"), label_for("疾病")
    assert re.fullmatch(r"REL_[0-9A-F]{8}", rel) and re.fullmatch(r"Type[0-9A-F]{8}", label)
    assert rel == relationship_type_for("药物治疗") and rel != relationship_type_for("手术治疗")


@given(st.text(max_size=40))
def test_any_text_becomes_a_safe_identifier(name: str) -> None:
    assert RELATIONSHIP_TYPE_PATTERN.match(relationship_type_for(name))
    assert LABEL_PATTERN.match(label_for(name))


def test_schema_keeps_model_order_and_refuses_unknown_names() -> None:
    schema = GraphSchema.from_names(["Drug_Disease", "ADE_Drug"], ["Drug", "Disease"])
    assert list(schema.relationship_types.items()) == [
        ("Drug_Disease", "DRUG_DISEASE"),
        ("ADE_Drug", "ADE_DRUG"),
    ]
    with pytest.raises(UnknownRelationError, match="relation 'Cures'.*known: Drug_Disease, ADE_Drug"):
        schema.relationship_type("Cures")
    with pytest.raises(UnknownRelationError, match="entity type 'Gene'.*known: Drug, Disease"):
        schema.label("Gene")


def test_schema_refuses_two_names_on_one_identifier() -> None:
    with pytest.raises(GraphError, match="'Drug-Disease' and 'Drug_Disease' both map to 'DRUG_DISEASE'"):
        GraphSchema.from_names(["Drug_Disease", "Drug-Disease"], [])


def test_schema_refuses_names_that_shadow_the_graph_model() -> None:
    with pytest.raises(GraphError, match="not a valid relationship type"):
        GraphSchema.from_names(["In"], [])
    with pytest.raises(GraphError, match="not a valid entity label"):
        GraphSchema.from_names([], ["Entity"])


@pytest.mark.parametrize("bad", ["MENTIONED_IN", "IN", "drug_disease", "A-B", "A`B", "A B", ""])
def test_check_relationship_type_refuses_reserved_and_unsafe(bad: str) -> None:
    with pytest.raises(GraphError):
        identifiers.check_relationship_type(bad)


@pytest.mark.parametrize("bad", ["Entity", "Document", "Sentence", "drug", "Dr ug", "Drug`", ""])
def test_check_label_refuses_reserved_and_unsafe(bad: str) -> None:
    with pytest.raises(GraphError):
        identifiers.check_label(bad)


def test_cookbook_uses_only_identifiers_the_diabetes_schema_produces() -> None:
    schema = GraphSchema.from_names(DIAKG_RELATIONS + RUIJIN_RELATIONS, ENTITY_TYPES)
    allowed_types = set(schema.relationship_types.values()) | {"MENTIONED_IN", "IN"}
    allowed_labels = set(schema.labels.values()) | {"Entity", "Document", "Sentence"}
    for q in queries.COOKBOOK:
        for group in re.findall(r"\[\w*:([A-Z_|]+)\]", q.cypher):
            assert set(group.split("|")) <= allowed_types, (q.name, group)
        for group in re.findall(r"\(\w*:([A-Za-z:|&]+)[ )]", q.cypher):
            assert set(re.split(r"[|:&]", group)) <= allowed_labels, (q.name, group)


def test_ensure_schema_runs_every_statement_then_waits_for_indexes() -> None:
    driver = MagicMock(spec=neo4j.Driver)
    session = driver.session.return_value.__enter__.return_value
    names = ensure_schema(driver, database="kg")
    driver.session.assert_called_once_with(database="kg")
    expected = [call(text) for text in SCHEMA_STATEMENTS.values()]
    expected.append(call(AWAIT_INDEXES, seconds=INDEX_WAIT_SECONDS))
    assert [c for c in session.run.call_args_list] == expected
    assert names == [
        "entity_key",
        "document_doc_id",
        "sentence_sent_id",
        "entity_name_text",
        "entity_key_text",
        "evidence_triple",
    ]
    assert all("IF NOT EXISTS" in text for text in SCHEMA_STATEMENTS.values())


def test_ensure_schema_turns_driver_errors_into_graph_errors() -> None:
    driver = MagicMock(spec=neo4j.Driver)
    driver.session.return_value.__enter__.return_value.run.side_effect = neo4j.exceptions.ServiceUnavailable(
        "down"
    )
    with pytest.raises(GraphError, match=r"does not answer \(down\) while creating constraints and indexes"):
        ensure_schema(driver)


def test_docs_list_every_cookbook_query_verbatim() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "queries.md").read_text(encoding="utf-8")
    for q in queries.COOKBOOK:
        assert q.question in docs and q.cypher.strip() in docs, q.name
        assert all(f"`${name}`" in docs for name in q.params), q.name
