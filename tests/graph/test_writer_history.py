"""Any history of loads, edits, re-extractions and removals leaves the graph that a clean load of the final
documents builds: the writer's central promise, checked on the real local Neo4j over seeded histories."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

import neo4j
import pytest

from graph.types import DocumentNode, EntityNode, Evidence, GraphBatch, Mention, RelationEdge, SentenceNode
from graph.writer import EVIDENCE_SAMPLE, remove_documents, replace_documents
from tests.graph.test_writer_integration import SCHEMA, rows

pytestmark = pytest.mark.neo4j


# A small pool, drawn unevenly, so that places pile up on a few triples (past the sample of 10 at times).
# Each entity is read under a few spellings, so that a removed or edited document takes some of them back.
HEADS = [("Drug", n) for n in ("二甲双胍", "格列本脲", "阿卡波糖", "胰岛素")]
TAILS = [("Disease", "2型糖尿病"), ("Disease", "高血压"), ("ADE", "低血糖")]
RELATIONS = ["Drug_Disease", "ADE_Drug"]
HEAD_WEIGHTS, TAIL_WEIGHTS, RELATION_WEIGHTS = [10, 3, 2, 1], [8, 2, 1], [4, 1]
CONFIDENCES = [0.4, 0.55, 0.7, 0.85, 0.95]  # few values, so that ties between places happen too
VERSIONS = ["v1", "v2"]
DOC_IDS = [f"doc{i}" for i in range(5)]
SPELLINGS, SPELLING_WEIGHTS = ["{}", "{} ", "「{}」"], [6, 2, 1]  # an entity's name as the text may spell it
# (head, relation, tail, sent_id, head_start, head_end, tail_start, tail_end)
Place = tuple[tuple[str, str], str, tuple[str, str], str, int, int, int, int]


@dataclass(frozen=True)
class Doc:
    """One document as its latest write left it: what a clean load of it must say."""

    content_hash: str
    sentences: dict[str, str]
    places: dict[Place, float] = field(default_factory=dict)
    mentions: frozenset[tuple[tuple[str, str], str, str]] = frozenset()  # (entity, sent_id, spelling)
    version: str = "v1"
    min_confidence: float | None = None


def _key(ent: tuple[str, str]) -> str:
    return f"{ent[0]}:{ent[1]}"


def _spelt(rng: random.Random, ent: tuple[str, str], sent_id: str) -> tuple[tuple[str, str], str, str]:
    """A mention of the entity in the sentence, under one of its spellings."""
    return ent, sent_id, rng.choices(SPELLINGS, SPELLING_WEIGHTS)[0].format(ent[1])


def _extract(rng: random.Random, sentences: dict[str, str]) -> tuple[dict[Place, float], frozenset]:
    """A random extraction of the sentences: 0-4 triples each, at one of a few offsets, their heads and tails
    spelt as the text has them, plus bare mentions."""
    places: dict[Place, float] = {}
    mentions = set()
    for sent_id in sentences:
        for _ in range(rng.randint(0, 4)):
            head = rng.choices(HEADS, HEAD_WEIGHTS)[0]
            tail = rng.choices(TAILS, TAIL_WEIGHTS)[0]
            rel = rng.choices(RELATIONS, RELATION_WEIGHTS)[0]
            hs, ts = rng.choice([0, 2]), rng.choice([4, 6])
            places[(head, rel, tail, sent_id, hs, hs + 1, ts, ts + 2)] = rng.choice(CONFIDENCES)
            mentions |= {_spelt(rng, head, sent_id), _spelt(rng, tail, sent_id)}
        if rng.random() < 0.3:
            mentions.add(_spelt(rng, rng.choice(HEADS + TAILS), sent_id))
    return places, frozenset(mentions)


def _edit(rng: random.Random, doc_id: str, n: int) -> Doc:
    """A new text of the document (possibly fewer sentences than before), extracted afresh."""
    sentences = {f"{doc_id}:{i}": f"{doc_id} 第{i}句 {rng.randint(0, 99)}" for i in range(rng.randint(1, 5))}
    places, mentions = _extract(rng, sentences)
    return Doc(f"h{n}", sentences, places, mentions, rng.choice(VERSIONS), rng.choice([None, 0.5]))


def _batch(docs: dict[str, Doc], hashes: dict[str, str | None]) -> GraphBatch:
    """The pipeline's batch for these documents: one relation row per triple, its places from all of them."""
    evidence: dict[tuple[str, str, str], list[Evidence]] = defaultdict(list)
    keys: dict[str, tuple[str, str]] = {}
    for doc in docs.values():
        for (head, rel, tail, sent_id, hs, he, ts, te), conf in doc.places.items():
            keys |= {_key(head): head, _key(tail): tail}
            evidence[(_key(head), rel, _key(tail))].append(
                Evidence(
                    sent_id=sent_id, head_start=hs, head_end=he, tail_start=ts, tail_end=te, confidence=conf
                )
            )
        keys |= {_key(ent): ent for ent, _, _ in doc.mentions}
    forms: dict[tuple[str, str], set[str]] = defaultdict(set)  # the spellings of an entity in a sentence
    for doc in docs.values():
        for ent, sent_id, form in doc.mentions:
            forms[(_key(ent), sent_id)].add(form)
    [version] = {doc.version for doc in docs.values()}
    return GraphBatch(
        documents=[DocumentNode(doc_id=d, source=f"/corpus/{d}.txt", content_hash=hashes[d]) for d in docs],
        sentences=[
            SentenceNode(sent_id=s, doc_id=d, text=text, start=10 * i, end=10 * i + len(text))
            for d, doc in docs.items()
            for i, (s, text) in enumerate(doc.sentences.items())
        ],
        entities=[EntityNode(key=k, name=n, type=t) for k, (t, n) in sorted(keys.items())],
        mentions=[
            Mention(entity_key=k, sent_id=s, surface_forms=sorted(spellings))
            for (k, s), spellings in sorted(forms.items())
        ],
        relations=[
            RelationEdge(
                head_key=h, relation=r, tail_key=t, count=len(evs), model_version=version, evidence=evs
            )
            for (h, r, t), evs in evidence.items()
        ],
    )


def _load(graph: tuple[neo4j.Driver, str], docs: dict[str, Doc], hashes: dict[str, str | None]) -> None:
    [(version, min_confidence)] = {(d.version, d.min_confidence) for d in docs.values()}
    replace_documents(
        graph[0],
        list(docs),
        _batch(docs, hashes),
        version,
        SCHEMA,
        database=graph[1],
        min_confidence=min_confidence,
    )


def _history(
    rng: random.Random, graph: tuple[neo4j.Driver, str], steps: int
) -> tuple[dict[str, Doc], list[str]]:
    """Apply `steps` random operations, checking the relationships against their places after each; the
    documents they leave, and what was done (for a failure's message)."""
    final: dict[str, Doc] = {}
    done: list[str] = []
    for n in range(steps):
        op = rng.choices(["edit", "re-extract", "edit two", "remove"], [4, 3, 1, 2])[0]
        ids = [rng.choice(DOC_IDS)]
        if op == "remove":
            remove_documents(graph[0], ids, database=graph[1])
            final.pop(ids[0], None)
        elif op == "re-extract" and ids[0] in final:
            # The stored sentences read again, by either model: the content hash is kept (None in the batch).
            old = final[ids[0]]
            places, mentions = _extract(rng, old.sentences)
            version = rng.choice(VERSIONS)
            final[ids[0]] = replace(
                old, places=places, mentions=mentions, version=version, min_confidence=None
            )
            _load(graph, {ids[0]: final[ids[0]]}, {ids[0]: None})
        else:  # a new or edited document, or two of them in one transaction by one model
            op = "edit" if op == "re-extract" else op
            ids = sorted({*ids, rng.choice(DOC_IDS)}) if op == "edit two" else ids
            version, min_confidence = rng.choice(VERSIONS), rng.choice([None, 0.5])
            docs = {d: replace(_edit(rng, d, n), version=version, min_confidence=min_confidence) for d in ids}
            _load(graph, docs, {d: doc.content_hash for d, doc in docs.items()})
            final |= docs
        done.append(f"{n}: {op} {ids}: " + "; ".join(_summary(final.get(d)) for d in ids))
        _check_relationships_against_their_places(graph, "\n".join(done))
    return final, done


def _summary(doc: Doc | None) -> str:
    if doc is None:
        return "gone"
    return f"{len(doc.sentences)} sentences, {len(doc.places)} places by {doc.version}"


def _check_relationships_against_their_places(graph: tuple[neo4j.Driver, str], history: str) -> None:
    """What a clean load makes of a relationship's places, after every step: `count` is their number,
    `confidence` their highest, the sample holds min(count, 10) of them, and `model_version` is one of
    their models (the only one when they agree; with several, which one depends on the order of writes)."""
    for r in rows(
        graph,
        """MATCH (h:Entity)-[r]->(t:Entity)
           OPTIONAL MATCH (s)-[e:EVIDENCE {head_key: h.key, relation: r.relation, tail_key: t.key}]->(h)
           RETURN h.key + ' ' + r.relation + ' ' + t.key AS triple, properties(r) AS p,
                  collect(s.sent_id + '|' + e.head_start + '|' + e.head_end + '|' + e.tail_start + '|' +
                          e.tail_end + '|' + e.model_version) AS places,
                  collect(e.confidence) AS confidences, collect(DISTINCT e.model_version) AS versions""",
    ):
        p, where = r["p"], f"{r['triple']} {r['p']} after:\n{history}"
        assert p["count"] == len(r["places"]) > 0, where
        assert p["confidence"] == max(r["confidences"]), where
        assert set(p["evidence"]) <= set(r["places"]), where
        assert len(p["evidence"]) == min(p["count"], EVIDENCE_SAMPLE), where
        assert p["model_version"] in r["versions"], where
        assert len(r["versions"]) > 1 or p["model_version"] == r["versions"][0], where


def _snapshot(graph: tuple[neo4j.Driver, str]) -> dict[str, Any]:
    """The whole graph as plain, order-free Python, without load times and what depends on the order of
    writes: which places a truncated sample (count over 10) holds, and a relationship's `model_version`."""
    untimed = {"loaded_at", "first_seen", "last_seen"}

    def props(p: dict[str, Any], drop: set[str] = untimed) -> tuple:
        return tuple(sorted((k, v) for k, v in p.items() if k not in drop))

    relationships = {}
    for r in rows(
        graph,
        "MATCH (h:Entity)-[r]->(t:Entity) RETURN h.key AS h, type(r) AS type, t.key AS t, properties(r) AS p",
    ):
        p = dict(r["p"])
        p["evidence"] = sorted(p["evidence"]) if p["count"] <= EVIDENCE_SAMPLE else len(p["evidence"])
        relationships[(r["h"], r["type"], r["t"])] = props(p, untimed | {"model_version"})
    return {
        "documents": {
            r["id"]: props(r["p"])
            for r in rows(graph, "MATCH (d:Document) RETURN d.doc_id AS id, properties(d) AS p")
        },
        "sentences": {
            r["id"]: (r["doc"], props(r["p"]))
            for r in rows(
                graph,
                "MATCH (s:Sentence)-[:IN]->(d) RETURN s.sent_id AS id, d.doc_id AS doc, properties(s) AS p",
            )
        },
        "entities": {
            r["key"]: (sorted(r["labels"]), props(r["p"]))
            for r in rows(
                graph, "MATCH (e:Entity) RETURN e.key AS key, labels(e) AS labels, properties(e) AS p"
            )
        },
        "mentions": sorted(
            (r["e"], r["s"])
            for r in rows(graph, "MATCH (e)-[:MENTIONED_IN]->(s) RETURN e.key AS e, s.sent_id AS s")
        ),
        "evidence": sorted(
            (r["s"], r["h"], props(r["p"]))
            for r in rows(
                graph, "MATCH (s)-[e:EVIDENCE]->(h) RETURN s.sent_id AS s, h.key AS h, properties(e) AS p"
            )
        ),
        "relationships": relationships,
        "links": sorted(
            (r["type"], r["n"]) for r in rows(graph, "MATCH ()-[x]->() RETURN type(x) AS type, count(*) AS n")
        ),
        "nodes": rows(graph, "MATCH (n) RETURN count(n) AS n"),
    }


@pytest.mark.parametrize("seed", [7, 20261207, 4242])
def test_any_history_of_loads_edits_and_removals_leaves_the_graph_of_a_clean_load(
    graph: tuple[neo4j.Driver, str], seed: int
) -> None:
    rng = random.Random(seed)
    final, done = _history(rng, graph, steps=20)
    after_history = _snapshot(graph)

    rows(graph, "MATCH (n) DETACH DELETE n")
    groups: dict[tuple[str, float | None], dict[str, Doc]] = defaultdict(dict)
    for doc_id, doc in sorted(final.items()):
        groups[(doc.version, doc.min_confidence)][doc_id] = doc
    for _, docs in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1] or 0.0)):  # a write per model
        _load(graph, docs, {d: doc.content_hash for d, doc in docs.items()})
    _check_relationships_against_their_places(graph, "(the clean load)")
    clean = _snapshot(graph)

    history = "\n".join(done)
    for part in clean:
        assert after_history[part] == clean[part], f"{part} differ after the history:\n{history}"
