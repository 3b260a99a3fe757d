"""Loads of different documents at once that share entities and relationships: what each transaction adds
to and takes from a shared node or relationship (surface-form counts, `count`, the evidence sample) must add
up."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import neo4j
import pytest

from graph.schema import GraphSchema
from graph.types import DocumentNode, EntityNode, Evidence, GraphBatch, Mention, RelationEdge, SentenceNode
from graph.writer import remove_documents, replace_documents

pytestmark = pytest.mark.neo4j

SCHEMA = GraphSchema.from_names(["Drug_Disease"], ["Drug", "Disease"])
FORMS = ["二甲双胍", "二甲双胍片", "Metformin", "格华止"]


def _batch(doc_id: str, forms: list[str]) -> GraphBatch:
    """One sentence per form, each reading the drug so spelt as treating 2型糖尿病."""
    sents = [f"{doc_id}:{i}" for i in range(len(forms))]
    return GraphBatch(
        documents=[DocumentNode(doc_id=doc_id, source=f"{doc_id}.txt")],
        sentences=[SentenceNode(sent_id=s, doc_id=doc_id, text=f"{doc_id} 第{s}句") for s in sents],
        entities=[
            EntityNode(key="Drug:二甲双胍", name="二甲双胍", type="Drug"),
            EntityNode(key="Disease:2型糖尿病", name="2型糖尿病", type="Disease"),
        ],
        mentions=[
            m
            for s, form in zip(sents, forms, strict=True)
            for m in (
                Mention(entity_key="Drug:二甲双胍", sent_id=s, surface_forms=[form]),
                Mention(entity_key="Disease:2型糖尿病", sent_id=s, surface_forms=["2型糖尿病"]),
            )
        ],
        relations=[
            RelationEdge(
                head_key="Drug:二甲双胍", relation="Drug_Disease", tail_key="Disease:2型糖尿病",
                count=len(sents), model_version="v1",
                evidence=[Evidence(sent_id=s, head_start=0, head_end=1, tail_start=2, tail_end=3,
                                   confidence=0.5 + 0.1 * i) for i, s in enumerate(sents)],
            )
        ],
    )  # fmt: skip


def _rows(graph: tuple[neo4j.Driver, str], cypher: str) -> list[dict[str, Any]]:
    records, _, _ = graph[0].execute_query(cypher, database_=graph[1])
    return [r.data() for r in records]


@pytest.mark.parametrize("written_before_counting", [False, True])
def test_loads_and_removals_at_once_keep_shared_counts_equal_to_the_links(
    graph: tuple[neo4j.Driver, str], written_before_counting: bool
) -> None:
    """Written before counting: the entities start counting their forms under these loads at once."""
    driver, database = graph
    rng = random.Random(5)
    docs = [f"d{i}" for i in range(8)]
    if written_before_counting:  # as a graph written before forms were counted holds them
        for doc_id in docs:
            replace_documents(driver, [doc_id], _batch(doc_id, FORMS[:2]), "v1", SCHEMA, database=database)
        _rows(graph, "MATCH (e:Entity)-[m:MENTIONED_IN]->() REMOVE e.surface_form_counts, m.surface_forms")

    def step(doc_id: str, seed: int) -> None:
        r = random.Random(seed)
        if r.random() < 0.25:
            remove_documents(driver, [doc_id], database=database)
        else:
            forms = [r.choice(FORMS) for _ in range(r.randint(1, 3))]
            replace_documents(driver, [doc_id], _batch(doc_id, forms), "v1", SCHEMA, database=database)

    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(6):  # each round writes every document once, four transactions at a time
            list(pool.map(step, docs, [rng.randrange(10**9) for _ in docs]))

    [drug] = _rows(
        graph,
        """MATCH (e:Drug) RETURN e.surface_forms AS forms, e.surface_form_counts AS counts,
           coalesce(e.uncounted_mentions, 0) AS uncounted""",
    )
    links = _rows(
        graph, "MATCH (:Drug)-[m:MENTIONED_IN]->() UNWIND m.surface_forms AS f RETURN f, count(*) AS n"
    )
    [bare] = _rows(
        graph, "MATCH (:Drug)-[m:MENTIONED_IN]->() WHERE m.surface_forms IS NULL RETURN count(*) AS n"
    )
    # Forms of links written before counting stay at 0 while such links are left.
    counted = dict(zip(drug["forms"], drug["counts"], strict=True))
    counted = {f: n for f, n in counted.items() if n > 0 or not drug["uncounted"]}
    assert counted == {r["f"]: r["n"] for r in links} and drug["uncounted"] == bare["n"], drug
    [rel] = _rows(
        graph,
        """MATCH (h:Drug)-[r:DRUG_DISEASE]->(t) RETURN r.count AS count, size(r.evidence) AS sample,
           COUNT { ()-[:EVIDENCE {tail_key: t.key}]->(h) } AS places""",
    )
    assert rel["count"] == rel["places"] and rel["sample"] == min(rel["places"], 10), rel
