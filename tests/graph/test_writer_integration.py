"""The writer on the real local Neo4j: constraints, idempotence, hostile names, whitelist, re-extraction."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import neo4j
import pytest

from graph import write_statements as cypher
from graph.schema import GraphSchema, ensure_schema
from graph.types import DocumentNode, EntityNode, Evidence, GraphBatch, Mention, RelationEdge, SentenceNode
from graph.writer import EVIDENCE_SAMPLE, remove_documents, replace_documents
from nrskg.errors import UnknownRelationError

pytestmark = pytest.mark.neo4j

SCHEMA = GraphSchema.from_names(["Drug_Disease", "ADE_Drug"], ["Drug", "Disease", "ADE"])
T1, T2 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
SHOW_CONSTRAINTS = "SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties"


def rows(graph: tuple[neo4j.Driver, str], cypher: str, **params: Any) -> list[dict[str, Any]]:
    driver, database = graph
    records, _, _ = driver.execute_query(cypher, params, database_=database)
    return [r.data() for r in records]


def entity(name: str, type_: str = "Drug") -> EntityNode:
    return EntityNode(key=f"{type_}:{name}", name=name, type=type_)


def relation(head: str, tail: str, sents: list[str], version: str, conf: float = 0.8) -> RelationEdge:
    evidence = [
        Evidence(sent_id=s, head_start=0, head_end=1, tail_start=2, tail_end=3, confidence=conf)
        for s in sents
    ]
    return RelationEdge(
        head_key=f"Drug:{head}", relation="Drug_Disease", tail_key=f"Disease:{tail}", count=len(sents),
        model_version=version, evidence=evidence,
    )  # fmt: skip


def docs_batch(
    doc_ids: list[str], entities: list[EntityNode], relations: list[RelationEdge], **kw: Any
) -> GraphBatch:
    return GraphBatch(
        documents=[DocumentNode(doc_id=d, source=f"{d}.txt") for d in doc_ids],
        sentences=[
            SentenceNode(sent_id=f"{d}:{i}", doc_id=d, text=f"{d} 第{i}句") for d in doc_ids for i in (0, 1)
        ],
        entities=entities,
        relations=relations,
        **kw,
    )


def test_constraints_and_name_index_exist(graph: tuple[neo4j.Driver, str]) -> None:
    constraints = {r["name"]: (r["labelsOrTypes"], r["properties"]) for r in rows(graph, SHOW_CONSTRAINTS)}
    assert constraints["entity_key"] == (["Entity"], ["key"])
    assert constraints["document_doc_id"] == (["Document"], ["doc_id"])
    assert constraints["sentence_sent_id"] == (["Sentence"], ["sent_id"])
    indexes = rows(
        graph, "SHOW INDEXES YIELD name, type, state WHERE name = 'entity_name_text' RETURN type, state"
    )
    assert indexes == [{"type": "TEXT", "state": "ONLINE"}]
    assert ensure_schema(graph[0], graph[1])  # a second call is a no-op, not an error


def test_second_identical_load_creates_nothing_and_doubles_no_count(graph: tuple[neo4j.Driver, str]) -> None:
    batch = docs_batch(
        ["d1"],
        [entity("二甲双胍"), entity("2型糖尿病", "Disease")],
        [relation("二甲双胍", "2型糖尿病", ["d1:0", "d1:1"], "v1")],
        mentions=[Mention(entity_key="Disease:2型糖尿病", sent_id="d1:1")],
    )
    first = replace_documents(graph[0], ["d1"], batch, "v1", SCHEMA, database=graph[1], now=T1)
    # 1 document, 2 sentences, 2 entities; IN x2, MENTIONED_IN x4 (head and tail of 2 sentences), 1 relation,
    # EVIDENCE x2 (one per place it was read).
    assert (first.nodes_created, first.relationships_created) == (5, 9)
    second = replace_documents(graph[0], ["d1"], batch, "v1", SCHEMA, database=graph[1], batch_size=1, now=T2)
    # What the document said is taken back and said again: the same links, no node, no label, no relation.
    assert (second.nodes_created, second.nodes_deleted, second.labels_added) == (0, 0, 0)
    assert second.relationships_created == second.relationships_deleted == 6  # MENTIONED_IN x4, EVIDENCE x2
    places = rows(graph, "MATCH (s)-[e:EVIDENCE]->(:Drug) RETURN s.sent_id AS s, e.tail_key AS t ORDER BY s")
    assert places == [{"s": "d1:0", "t": "Disease:2型糖尿病"}, {"s": "d1:1", "t": "Disease:2型糖尿病"}]
    [rel] = rows(graph, "MATCH (:Drug)-[r:DRUG_DISEASE]->(:Disease) RETURN properties(r) AS p")
    p = rel["p"]
    assert p["count"] == 2 and p["evidence"] == ["d1:0|0|1|2|3|v1", "d1:1|0|1|2|3|v1"]
    assert (p["relation"], p["confidence"], p["model_version"]) == ("Drug_Disease", 0.8, "v1")
    assert (p["first_seen"].to_native(), p["last_seen"].to_native()) == (T1, T2)


def test_evidence_of_documents_adds_up_as_a_set_and_confidence_keeps_the_maximum(
    graph: tuple[neo4j.Driver, str],
) -> None:
    ents = [entity("二甲双胍"), entity("2型糖尿病", "Disease")]

    def load(doc_id: str, sents: list[str], confidence: float) -> None:
        batch = docs_batch([doc_id], ents, [relation("二甲双胍", "2型糖尿病", sents, "v1", confidence)])
        replace_documents(graph[0], [doc_id], batch, "v1", SCHEMA, database=graph[1])

    load("d1", ["d1:0"], 0.9)
    load("d2", ["d2:0", "d2:1", "d2:0"], 0.5)  # one place twice: counted once
    [rel] = rows(graph, "MATCH ()-[r:DRUG_DISEASE]->() RETURN r.count AS count, r.confidence AS confidence")
    assert rel == {"count": 3, "confidence": 0.9}


def test_confidence_falls_back_to_the_places_left_when_evidence_is_taken_back(
    graph: tuple[neo4j.Driver, str],
) -> None:
    ents = [entity("二甲双胍"), entity("2型糖尿病", "Disease")]

    def load(doc_id: str, confidence: float, version: str = "v1") -> None:
        rel = relation("二甲双胍", "2型糖尿病", [f"{doc_id}:0"], version, confidence)
        replace_documents(
            graph[0], [doc_id], docs_batch([doc_id], ents, [rel]), version, SCHEMA, database=graph[1]
        )

    def confidence() -> float:
        [row] = rows(graph, "MATCH ()-[r:DRUG_DISEASE]->() RETURN r.confidence AS c")
        return row["c"]

    for doc_id, conf in (("d1", 0.9), ("d2", 0.6), ("d3", 0.7)):
        load(doc_id, conf)
    assert confidence() == 0.9
    remove_documents(graph[0], ["d1"], database=graph[1])  # the 0.9 place goes: 0.7 is the highest left
    assert confidence() == 0.7
    load("d3", 0.5, "v2")  # re-extracted lower by another model: 0.6 (d2) is now the highest
    assert confidence() == 0.6
    remove_documents(graph[0], ["d3"], database=graph[1])  # a place below the highest goes: nothing moves
    assert confidence() == 0.6
    assert rows(graph, "MATCH ()-[e:EVIDENCE]->() RETURN e.confidence AS c") == [{"c": 0.6}]


def test_removing_the_places_that_filled_the_sample_refills_it_from_the_places_left(
    graph: tuple[neo4j.Driver, str],
) -> None:
    """The sample holds only the first 10 places; when they go, those left take their place (and give the
    relationship its model), as a clean load of the remaining documents would."""
    ents = [entity("二甲双胍"), entity("2型糖尿病", "Disease")]

    def load(doc_id: str, n: int, version: str) -> None:
        sents = [f"{doc_id}:{i}" for i in range(n)]
        batch = GraphBatch(
            documents=[DocumentNode(doc_id=doc_id, source=f"{doc_id}.txt")],
            sentences=[SentenceNode(sent_id=s, doc_id=doc_id, text="二甲双胍治疗2型糖尿病") for s in sents],
            entities=ents,
            relations=[relation("二甲双胍", "2型糖尿病", sents, version)],
        )
        replace_documents(graph[0], [doc_id], batch, version, SCHEMA, database=graph[1])

    load("d1", EVIDENCE_SAMPLE, "v1")  # fills the sample
    load("d2", 2, "v2")
    load("d3", 1, "v1")
    remove_documents(graph[0], ["d1", "d3"], database=graph[1])
    [rel] = rows(
        graph, "MATCH ()-[r:DRUG_DISEASE]->() RETURN r.count AS n, r.evidence AS ev, r.model_version AS v"
    )
    assert (rel["n"], sorted(rel["ev"]), rel["v"]) == (2, ["d2:0|0|1|2|3|v2", "d2:1|0|1|2|3|v2"], "v2")


def test_the_cypher_that_encodes_an_evidence_link_spells_what_evidence_encode_does(
    graph: tuple[neo4j.Driver, str],
) -> None:
    """The refill of a relationship's sample encodes its places in Cypher: as the writer stores them."""
    rel = relation("二甲双胍", "2型糖尿病", ["d1:0", "d1:1"], "v1")
    ents = [entity("二甲双胍"), entity("2型糖尿病", "Disease")]
    replace_documents(graph[0], ["d1"], docs_batch(["d1"], ents, [rel]), "v1", SCHEMA, database=graph[1])
    encoded = rows(
        graph, f"MATCH (s:Sentence)-[e:EVIDENCE]->() RETURN {cypher.encoded_evidence('s', 'e')} AS item"
    )
    assert sorted(row["item"] for row in encoded) == sorted(ev.encode("v1") for ev in rel.evidence)


def test_a_graph_whose_places_have_no_confidence_keeps_its_highest_until_they_are_re_extracted(
    graph: tuple[neo4j.Driver, str],
) -> None:
    ents = [entity("二甲双胍"), entity("2型糖尿病", "Disease")]
    for doc_id, conf in (("d1", 0.9), ("d2", 0.6)):
        rel = relation("二甲双胍", "2型糖尿病", [f"{doc_id}:0"], "v1", conf)
        replace_documents(
            graph[0], [doc_id], docs_batch([doc_id], ents, [rel]), "v1", SCHEMA, database=graph[1]
        )
    rows(
        graph, "MATCH ()-[e:EVIDENCE]->() REMOVE e.confidence, e.head_key"
    )  # as loaded before places kept one

    remove_documents(graph[0], ["d1"], database=graph[1])
    # d2's place may be the 0.9 one as far as the graph knows: the highest stays.
    assert rows(graph, "MATCH ()-[r:DRUG_DISEASE]->() RETURN r.confidence AS c, r.count AS n") == [
        {"c": 0.9, "n": 1}
    ]
    rel = relation("二甲双胍", "2型糖尿病", ["d2:0"], "v2", 0.6)
    replace_documents(graph[0], ["d2"], docs_batch(["d2"], ents, [rel]), "v2", SCHEMA, database=graph[1])
    assert rows(graph, "MATCH ()-[r:DRUG_DISEASE]->() RETURN r.confidence AS c") == [{"c": 0.6}]


def spelt(doc_id: str, forms: dict[str, list[str]]) -> GraphBatch:
    """Document `doc_id` reading 二甲双胍 treating 2型糖尿病 in its sentence 0, the drug spelt there as each
    of `forms[doc_id]`."""
    rel = relation("二甲双胍", "2型糖尿病", [f"{doc_id}:0"], "v1")
    mentions = [
        Mention(entity_key="Drug:二甲双胍", sent_id=f"{doc_id}:0", surface_forms=forms[doc_id]),
        Mention(entity_key="Disease:2型糖尿病", sent_id=f"{doc_id}:0", surface_forms=["2型糖尿病"]),
    ]
    return docs_batch(
        [doc_id], [entity("二甲双胍"), entity("2型糖尿病", "Disease")], [rel], mentions=mentions
    )


def drug_forms(graph: tuple[neo4j.Driver, str]) -> dict[str, Any]:
    [drug] = rows(
        graph,
        """MATCH (e:Drug) RETURN e.name AS name, e.surface_forms AS forms, e.surface_form_counts AS counts,
                                 e.uncounted_mentions AS uncounted""",
    )
    return drug


def test_a_spelling_goes_with_the_last_document_that_used_it(graph: tuple[neo4j.Driver, str]) -> None:
    forms = {"d1": ["二甲双胍"], "d2": ["二甲双胍", "二甲双胍片"], "d3": ["Metformin"]}
    for doc_id in forms:
        replace_documents(graph[0], [doc_id], spelt(doc_id, forms), "v1", SCHEMA, database=graph[1])
    assert drug_forms(graph) == {
        "name": "二甲双胍",
        "forms": ["Metformin", "二甲双胍", "二甲双胍片"],
        "counts": [1, 2, 1],
        "uncounted": None,
    }

    remove_documents(graph[0], ["d2"], database=graph[1])
    assert drug_forms(graph) == {
        "name": "二甲双胍",
        "forms": ["Metformin", "二甲双胍"],
        "counts": [1, 1],
        "uncounted": None,
    }

    again = replace_documents(graph[0], ["d3"], spelt("d3", forms), "v1", SCHEMA, database=graph[1])
    assert drug_forms(graph)["forms"] == ["Metformin", "二甲双胍"] and drug_forms(graph)["counts"] == [1, 1]
    assert (again.nodes_created, again.nodes_deleted) == (0, 0)

    forms["d3"] = ["二甲双胍"]  # d3 edited: its spelling goes, the name stays as first written
    replace_documents(graph[0], ["d3"], spelt("d3", forms), "v1", SCHEMA, database=graph[1])
    assert drug_forms(graph) == {"name": "二甲双胍", "forms": ["二甲双胍"], "counts": [2], "uncounted": None}


def test_a_graph_written_before_forms_were_counted_keeps_its_forms_until_its_mentions_are_re_extracted(
    graph: tuple[neo4j.Driver, str],
) -> None:
    forms = {"d1": ["二甲双胍"], "d2": ["二甲双胍片"], "d3": ["Metformin"]}
    for doc_id in ("d1", "d2"):
        replace_documents(graph[0], [doc_id], spelt(doc_id, forms), "v1", SCHEMA, database=graph[1])
    # As written before: forms as a set on the entity, none on the links.
    rows(graph, "MATCH (e:Entity) REMOVE e.surface_form_counts")
    rows(graph, "MATCH ()-[m:MENTIONED_IN]->() REMOVE m.surface_forms")

    remove_documents(graph[0], ["d1"], database=graph[1])  # nothing counted: nothing taken back
    assert drug_forms(graph) == {
        "name": "二甲双胍",
        "forms": ["二甲双胍", "二甲双胍片"],
        "counts": None,
        "uncounted": None,
    }

    replace_documents(graph[0], ["d3"], spelt("d3", forms), "v1", SCHEMA, database=graph[1])
    # Counting starts: d2's link is uncounted, the old forms kept at 0 while it stays.
    assert drug_forms(graph) == {
        "name": "二甲双胍",
        "forms": ["Metformin", "二甲双胍", "二甲双胍片"],
        "counts": [1, 0, 0],
        "uncounted": 1,
    }

    replace_documents(graph[0], ["d2"], spelt("d2", forms), "v1", SCHEMA, database=graph[1])  # re-extracted
    assert drug_forms(graph) == {
        "name": "二甲双胍",
        "forms": ["Metformin", "二甲双胍片"],
        "counts": [1, 1],
        "uncounted": None,
    }


HOSTILE_NAMES = [
    'it\'s "quoted"',
    "back`tick`",
    "}) DETACH DELETE n //",
    "'}) MATCH (n) DETACH DELETE n //",
    "\\u0027; DROP CONSTRAINT entity_key",
    "胰岛素🩺💉",
    "x" * 10_240,
    "糖" * 10_240,
]


def test_injection_like_and_huge_names_are_stored_verbatim_and_harm_nothing(
    graph: tuple[neo4j.Driver, str],
) -> None:
    ents = [entity(n) for n in HOSTILE_NAMES] + [entity("2型糖尿病", "Disease")]
    rels = [relation(n, "2型糖尿病", ["d1:0"], "v1") for n in HOSTILE_NAMES]
    spelt = [Mention(entity_key=f"Drug:{n}", sent_id="d1:0", surface_forms=[n]) for n in HOSTILE_NAMES]
    counters = replace_documents(
        graph[0], ["d1"], docs_batch(["d1"], ents, rels, mentions=spelt), "v1", SCHEMA, database=graph[1]
    )
    assert counters.nodes_created == 3 + len(ents) and counters.nodes_deleted == 0
    stored = rows(
        graph, "MATCH (e:Drug) RETURN e.name AS name, e.surface_forms AS forms, labels(e) AS labels"
    )
    assert sorted(r["name"] for r in stored) == sorted(HOSTILE_NAMES)
    assert all(r["forms"] == [r["name"]] and sorted(r["labels"]) == ["Drug", "Entity"] for r in stored)
    assert rows(graph, "MATCH ()-[r:DRUG_DISEASE]->() RETURN count(r) AS n") == [{"n": len(HOSTILE_NAMES)}]
    assert rows(graph, "MATCH (n) RETURN count(n) AS n") == [{"n": 3 + len(ents)}]
    assert {r["name"] for r in rows(graph, SHOW_CONSTRAINTS)} >= {"entity_key", "sentence_sent_id"}


def test_unknown_relation_type_is_refused_with_a_clear_error_and_nothing_written(
    graph: tuple[neo4j.Driver, str],
) -> None:
    bad = relation("二甲双胍", "2型糖尿病", ["d1:0"], "v1").model_copy(
        update={"relation": "Cures`]->() DELETE n"}
    )
    batch = docs_batch(["d1"], [entity("二甲双胍"), entity("2型糖尿病", "Disease")], [bad])
    with pytest.raises(
        UnknownRelationError, match="relation 'Cures`\\]->\\(\\) DELETE n' is not in the relation schema"
    ):
        replace_documents(graph[0], ["d1"], batch, "v1", SCHEMA, database=graph[1])
    assert rows(graph, "MATCH (n) RETURN count(n) AS n") == [{"n": 0}]


def test_re_extraction_replaces_exactly_the_stale_relationships(graph: tuple[neo4j.Driver, str]) -> None:
    disease = entity("2型糖尿病", "Disease")
    v1 = docs_batch(
        ["d1", "d2"],
        [entity(n) for n in ("A", "B", "C", "Z")] + [disease],
        [
            relation("A", "2型糖尿病", ["d1:0"], "v1", 0.9),  # found again by v2: kept, evidence renewed
            relation("B", "2型糖尿病", ["d1:1", "d2:0"], "v1"),  # v2 misses it on d1: keeps its d2 evidence
            relation("C", "2型糖尿病", ["d2:1"], "v1"),  # on d2 only: untouched
            relation("Z", "2型糖尿病", ["d1:1"], "v1"),  # v2 misses it: deleted, and Z with it
        ],
    )
    replace_documents(graph[0], ["d1", "d2"], v1, "v1", SCHEMA, database=graph[1], now=T1)
    v2 = docs_batch(
        ["d1"],
        [entity("A"), entity("D"), disease],
        [relation("A", "2型糖尿病", ["d1:0"], "v2", 0.6), relation("D", "2型糖尿病", ["d1:1"], "v2")],
    )
    counters = replace_documents(graph[0], ["d1"], v2, "v2", SCHEMA, database=graph[1], now=T2)
    got = {
        r["head"]: r
        for r in rows(
            graph,
            """MATCH (h:Drug)-[r:DRUG_DISEASE]->(:Disease)
               RETURN h.name AS head, r.evidence AS evidence, r.count AS count, r.model_version AS version,
                      r.confidence AS confidence, r.first_seen AS first_seen""",
        )
    }
    assert sorted(got) == ["A", "B", "C", "D"]
    assert got["A"]["evidence"] == ["d1:0|0|1|2|3|v2"] and got["A"]["version"] == "v2"
    assert got["A"]["confidence"] == 0.6 and got["A"]["first_seen"].to_native() == T1
    assert got["B"]["evidence"] == ["d2:0|0|1|2|3|v1"] and (got["B"]["count"], got["B"]["version"]) == (
        1,
        "v1",
    )
    assert got["C"]["evidence"] == ["d2:1|0|1|2|3|v1"]
    assert got["D"]["evidence"] == ["d1:1|0|1|2|3|v2"] and got["D"]["first_seen"].to_native() == T2
    assert rows(graph, "MATCH (e:Entity {key: 'Drug:Z'}) RETURN count(e) AS n") == [{"n": 0}]
    # B is still linked to d2 where it was read, no longer to d1 where v2 did not see it.
    assert rows(graph, "MATCH (:Entity {key: 'Drug:B'})-[:MENTIONED_IN]->(s) RETURN s.sent_id AS s") == [
        {"s": "d2:0"}
    ]
    assert (counters.relationships_deleted >= 1, counters.nodes_deleted) == (True, 1)
    # Doing it again changes no relationship: v2 evidence is not stale for v2.
    again = replace_documents(graph[0], ["d1"], v2, "v2", SCHEMA, database=graph[1], now=T2)
    assert rows(graph, "MATCH ()-[r:DRUG_DISEASE]->() RETURN count(r) AS n") == [{"n": 4}]
    assert again.nodes_created == again.nodes_deleted == 0


def test_removing_a_document_takes_back_what_it_said_and_leaves_the_others_whole(
    graph: tuple[neo4j.Driver, str],
) -> None:
    disease = entity("2型糖尿病", "Disease")
    batch = docs_batch(
        ["d1", "d2"],
        [entity(n) for n in ("B", "C", "Z")] + [disease],
        [
            relation("B", "2型糖尿病", ["d1:1", "d2:0"], "v1"),  # also read in d2: keeps that evidence
            relation("C", "2型糖尿病", ["d2:1"], "v1"),  # d2 only: untouched
            relation("Z", "2型糖尿病", ["d1:0"], "v1"),  # d1 only: goes, and Z with it
        ],
        mentions=[Mention(entity_key="Drug:Z", sent_id="d1:0"), Mention(entity_key="Drug:B", sent_id="d2:0")],
    )
    replace_documents(graph[0], ["d1", "d2"], batch, "v1", SCHEMA, database=graph[1], now=T1)
    d2_before = _document_world(graph, "d2")

    counters = remove_documents(graph[0], ["d1"], database=graph[1])
    assert rows(graph, "MATCH (d:Document) RETURN d.doc_id AS id") == [{"id": "d2"}]
    assert rows(graph, "MATCH (s:Sentence) RETURN s.sent_id AS s ORDER BY s") == [
        {"s": "d2:0"},
        {"s": "d2:1"},
    ]
    got = rows(
        graph,
        "MATCH (h:Drug)-[r:DRUG_DISEASE]->() RETURN h.name AS h, r.count AS n, r.evidence AS ev ORDER BY h",
    )
    assert got == [
        {"h": "B", "n": 1, "ev": ["d2:0|0|1|2|3|v1"]},
        {"h": "C", "n": 1, "ev": ["d2:1|0|1|2|3|v1"]},
    ]
    assert rows(graph, "MATCH (e:Entity {key: 'Drug:Z'}) RETURN count(e) AS n") == [{"n": 0}]
    d2_after = _document_world(graph, "d2")  # B's properties are now d2's alone, so compare the rest
    assert (d2_after["document"], d2_after["sentences"]) == (d2_before["document"], d2_before["sentences"])
    only_d2 = ("Drug:C", "Disease:2型糖尿病")
    assert d2_after["relationships"][only_d2] == d2_before["relationships"][only_d2]
    assert (counters.nodes_deleted, counters.relationships_deleted > 0) == (4, True)  # d1, 2 sentences, Z
    assert remove_documents(graph[0], ["d1"], database=graph[1]) == type(counters)()  # nothing left to do


def _document_world(graph: tuple[neo4j.Driver, str], doc_id: str) -> dict[str, Any]:
    """Everything that hangs off one document: its node, sentences, mentions, its evidence items, and all the
    properties of relationships read only there; replacing another document must leave all of it alone."""
    [doc] = rows(graph, "MATCH (d:Document {doc_id: $id}) RETURN properties(d) AS p", id=doc_id)
    found = rows(
        graph,
        """MATCH (d:Document {doc_id: $id})<-[:IN]-(s:Sentence)
           OPTIONAL MATCH (s)<-[:MENTIONED_IN]-(e:Entity)
           RETURN s.sent_id AS sent_id, s.text AS text, collect(e.key) AS mentions ORDER BY sent_id""",
        id=doc_id,
    )
    rels = rows(
        graph,
        """MATCH (h:Entity)-[r]->(t:Entity)
           WHERE any(item IN r.evidence WHERE item STARTS WITH $prefix)
           RETURN h.key AS h, t.key AS t, [item IN r.evidence WHERE item STARTS WITH $prefix] AS here,
                  CASE WHEN all(item IN r.evidence WHERE item STARTS WITH $prefix) THEN properties(r) END AS p
           ORDER BY h, t""",
        prefix=f"{doc_id}:",
    )
    return {"document": doc["p"], "sentences": found, "relationships": {(r["h"], r["t"]): r for r in rels}}


def test_edited_document_replaces_its_sentences_and_relationships_and_nothing_else(
    graph: tuple[neo4j.Driver, str],
) -> None:
    def batch(docs: dict[str, tuple[str, dict[str, str]]], relations: list[RelationEdge]) -> GraphBatch:
        names = {key for r in relations for key in (r.head_key, r.tail_key)}
        return GraphBatch(
            documents=[DocumentNode(doc_id=d, source=f"/corpus/{d}.txt", content_hash=h)
                       for d, (h, _) in docs.items()],
            sentences=[SentenceNode(sent_id=s, doc_id=d, text=t)
                       for d, (_, texts) in docs.items() for s, t in texts.items()],
            entities=[entity(k.split(":")[1], k.split(":")[0]) for k in sorted(names)],
            relations=relations,
        )  # fmt: skip

    d1 = {"d1:0": "二甲双胍用于2型糖尿病", "d1:1": "格列本脲用于2型糖尿病", "d1:2": "阿卡波糖用于2型糖尿病"}
    d2 = {"d2:0": "胰岛素用于2型糖尿病", "d2:1": "格列本脲治疗2型糖尿病"}
    original = batch(
        {"d1": ("h1", d1), "d2": ("h2", d2)},
        [
            relation("二甲双胍", "2型糖尿病", ["d1:0"], "v1"),  # the edit keeps saying it
            relation("格列本脲", "2型糖尿病", ["d1:1", "d2:1"], "v1"),  # the edit drops it; d2 still says it
            relation("阿卡波糖", "2型糖尿病", ["d1:2"], "v1"),  # the sentence is gone from the edit
            relation("胰岛素", "2型糖尿病", ["d2:0"], "v1"),  # d2 only
        ],
    )
    replace_documents(graph[0], ["d1", "d2"], original, "v1", SCHEMA, database=graph[1], now=T1)
    d2_before = _document_world(graph, "d2")

    edited_text = {"d1:0": "二甲双胍仍用于2型糖尿病", "d1:1": "达格列净用于2型糖尿病"}
    edited = batch(
        {"d1": ("h1-edited", edited_text)},
        [
            relation("二甲双胍", "2型糖尿病", ["d1:0"], "v1"),
            relation("达格列净", "2型糖尿病", ["d1:1"], "v1"),
        ],
    )
    # Same model version: only the text changed, and that alone must replace what the old text said.
    replace_documents(graph[0], ["d1"], edited, "v1", SCHEMA, database=graph[1], now=T2)

    d1_after = _document_world(graph, "d1")
    assert d1_after["document"]["content_hash"] == "h1-edited"
    assert [(s["sent_id"], s["text"]) for s in d1_after["sentences"]] == list(edited_text.items())
    got = {r["h"]: r["p"] for r in rows(
        graph, "MATCH (h:Drug)-[r:DRUG_DISEASE]->() RETURN h.key AS h, properties(r) AS p"
    )}  # fmt: skip
    assert sorted(got) == ["Drug:二甲双胍", "Drug:格列本脲", "Drug:胰岛素", "Drug:达格列净"]
    assert got["Drug:二甲双胍"]["evidence"] == ["d1:0|0|1|2|3|v1"]
    assert got["Drug:二甲双胍"]["first_seen"].to_native() == T1  # found again: the same relationship
    assert got["Drug:格列本脲"]["evidence"] == ["d2:1|0|1|2|3|v1"] and got["Drug:格列本脲"]["count"] == 1
    assert rows(graph, "MATCH (e:Entity {key: 'Drug:阿卡波糖'}) RETURN count(e) AS n") == [{"n": 0}]
    assert rows(graph, "MATCH (d:Document) RETURN count(d) AS n") == [{"n": 2}]
    d2_after = _document_world(graph, "d2")  # not one property of the other document changed:
    assert (d2_after["document"], d2_after["sentences"]) == (d2_before["document"], d2_before["sentences"])
    assert d2_after["relationships"].keys() == d2_before["relationships"].keys()
    for key, before in d2_before["relationships"].items():
        assert d2_after["relationships"][key]["here"] == before["here"]
        assert before["p"] is None or d2_after["relationships"][key]["p"] == before["p"]


def _operators(plan: dict[str, Any]) -> list[str]:
    return [plan["operatorType"].split("@")[0]] + [
        op for c in plan.get("children", []) for op in _operators(c)
    ]


def test_plans_seek_the_key_index_and_dynamic_types_would_scan(graph: tuple[neo4j.Driver, str]) -> None:
    """Why relationship types are spliced from the whitelist rather than passed as `$(type)` in 5.26."""
    driver, database = graph
    static = cypher.merge_relationships("DRUG_DISEASE")
    dynamic = static.replace("[r:DRUG_DISEASE]", "[r:$(row.type)]")
    params = {"rows": [], "now": T1, "sample": 10}
    with driver.session(database=database) as session:
        static_ops = _operators(session.run("EXPLAIN " + static, params).consume().plan)
        dynamic_ops = _operators(session.run("EXPLAIN " + dynamic, params).consume().plan)
        entity_ops = _operators(
            session.run("EXPLAIN " + cypher.merge_entities("Drug"), params).consume().plan
        )
        strip_ops = _operators(
            session.run("EXPLAIN " + cypher.STRIP_DOCUMENT_EVIDENCE, {"doc_ids": [], "sample": 10})
            .consume()
            .plan
        )
    # Head, tail and each evidence sentence are sought by key; the relationship between them expanded into.
    assert static_ops.count("NodeUniqueIndexSeek(Locking)") == 3 and "Expand(Into)" in static_ops
    assert not any("Scan" in op for op in static_ops)
    # Taking back a document's evidence starts from the document, seeks each tail by key and expands into the
    # relationship between head and tail (not through all of a dense head's relationships); it never scans.
    assert strip_ops.count("NodeUniqueIndexSeek(Locking)") == 2 and "Expand(Into)" in strip_ops
    assert not any("Scan" in op for op in strip_ops)
    # A relationship's confidence is recomputed from its own places, sought in the index, not from all of its
    # head's EVIDENCE links.
    assert any("RelationshipIndexSeek" in op for op in strip_ops)
    assert "DirectedAllRelationshipsScan" in dynamic_ops
    assert "NodeUniqueIndexSeek(Locking)" in entity_ops and not any("Scan" in op for op in entity_ops)


@pytest.mark.slow
def test_ten_thousand_mentions_of_one_triple_stay_bounded_in_size_and_time(
    graph: tuple[neo4j.Driver, str],
) -> None:
    """A triple that a corpus repeats 10,000 times: loaded like the flows do (chunks of documents, each
    replaced in one transaction), the relationship keeps count and a bounded sample, each place one EVIDENCE
    link, the drug's one spelling counted per sentence, and the last chunk takes no longer than the first (no
    property that grows with every mention, no count of forms that looks at all of them)."""
    docs_per_chunk, sentences_per_doc, chunks = 10, 100, 10
    ents = [entity("二甲双胍"), entity("2型糖尿病", "Disease")]

    def chunk_batch(c: int) -> tuple[list[str], GraphBatch]:
        doc_ids = [f"c{c}d{d}" for d in range(docs_per_chunk)]
        sent_ids = [f"{d}:{i}" for d in doc_ids for i in range(sentences_per_doc)]
        batch = GraphBatch(
            documents=[DocumentNode(doc_id=d, source=f"{d}.txt") for d in doc_ids],
            sentences=[
                SentenceNode(sent_id=s, doc_id=s.split(":")[0], text="二甲双胍治疗2型糖尿病")
                for s in sent_ids
            ],
            entities=ents,
            mentions=[
                Mention(entity_key="Drug:二甲双胍", sent_id=s, surface_forms=["二甲双胍"]) for s in sent_ids
            ],
            relations=[relation("二甲双胍", "2型糖尿病", sent_ids, "v1")],
        )
        return doc_ids, batch

    seconds = []
    for c in range(chunks):
        doc_ids, batch = chunk_batch(c)
        started = time.perf_counter()
        replace_documents(graph[0], doc_ids, batch, "v1", SCHEMA, database=graph[1], now=T1)
        seconds.append(time.perf_counter() - started)
    doc_ids, batch = chunk_batch(0)
    replace_documents(graph[0], doc_ids, batch, "v1", SCHEMA, database=graph[1], now=T2)  # a chunk reloaded

    [rel] = rows(
        graph,
        """MATCH (:Drug)-[r:DRUG_DISEASE]->(:Disease)
           RETURN r.count AS count, size(r.evidence) AS sample,
                  reduce(chars = 0, item IN r.evidence | chars + size(item)) AS chars""",
    )
    mentions = docs_per_chunk * sentences_per_doc * chunks
    assert rel["count"] == mentions == 10_000, "every place counted once, the reloaded chunk not twice"
    assert rel["sample"] == EVIDENCE_SAMPLE and rel["chars"] < 40 * EVIDENCE_SAMPLE
    assert rows(graph, "MATCH (:Sentence)-[e:EVIDENCE]->(:Drug) RETURN count(e) AS n") == [{"n": mentions}]
    assert drug_forms(graph)["counts"] == [mentions]  # one spelling, counted once per sentence
    first, last = sorted(seconds[1:4])[1], max(seconds[-3:])  # chunk 0 also compiles the plans
    assert last < 3 * first + 1.0, f"loads slow down as mentions accumulate: {[round(s, 2) for s in seconds]}"
