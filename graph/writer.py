"""Write a `GraphBatch` into Neo4j: idempotent, batched, parameters only.

Thin like neo4j-graphrag's `Neo4jWriter`: the batch is turned into a list of `UNWIND $rows` statements (a pure
function, so the exact Cypher and parameters are testable without a server), and each runs inside a managed
transaction that the driver retries on transient errors. Unlike graphrag we raise on failure, so that Prefect
retries fire.

Re-extraction (`replace_documents`) *deletes* stale provenance rather than marking it superseded: readers and
the cookbook then never need a version filter, and the old model's output stays in its run folder's Parquet
files.

Provenance per place (sentence, offsets and confidence) is one small EVIDENCE relationship from the sentence
to the head; the (head)-[relation]->(tail) relationship keeps only its count, its places' highest confidence
and a sample of at most `EVIDENCE_SAMPLE` places, so a triple that a corpus repeats ten thousand times keeps a
bounded size.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import neo4j

from graph import write_statements as cypher
from graph.connection import graph_error
from graph.schema import GraphSchema
from graph.types import Evidence, GraphBatch, WriteCounters, graph_key
from nrskg.errors import DataFormatError, GraphError

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 1000
EVIDENCE_SAMPLE = 10  # evidence strings kept on a relationship; `count` says how many places there are


@dataclass(frozen=True)
class Statement:
    """One UNWIND statement with its parameters; `what` names it in logs and errors."""

    text: str
    params: dict[str, Any]
    what: str


def _places(evidence: Iterable[Evidence]) -> list[Evidence]:
    """One piece of evidence per place, in first-seen order, keeping the highest confidence read there."""
    best: dict[tuple[str, int, int, int, int], Evidence] = {}
    for ev in evidence:
        if ev.place not in best or ev.confidence > best[ev.place].confidence:
            best[ev.place] = ev
    return list(best.values())


def plan_statements(
    batch: GraphBatch, schema: GraphSchema, batch_size: int = DEFAULT_BATCH_SIZE, now: datetime | None = None
) -> list[Statement]:
    """The whole write as statements in dependency order (nodes before the relationships that MATCH them).

    Every label and relationship type is looked up in the schema here, so an unknown relation or entity type
    raises `UnknownRelationError` before anything is written.
    """
    if batch_size < 1:
        raise GraphError(f"batch size must be at least 1, got {batch_size}")
    now = now or datetime.now(UTC)

    entity_rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in batch.entities:
        entity_rows[schema.label(e.type)].append({"key": graph_key(e.key), "name": e.name, "type": e.type})

    relation_rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    # One link per (entity, sentence), with every form read there. Head and tail of every evidence sentence
    # are mentioned there; re-extraction relies on that link.
    mentions: dict[tuple[str, str], list[str]] = {}
    for m in batch.mentions:
        mentions.setdefault((m.entity_key, m.sent_id), []).extend(m.surface_forms)
    for r in batch.relations:
        relation_rows[schema.relationship_type(r.relation)].append(
            {
                "head_key": graph_key(r.head_key),
                "tail_key": graph_key(r.tail_key),
                "relation": r.relation,
                "confidence": r.confidence,
                "model_version": r.model_version,
                "evidence": [
                    {**ev.model_dump(), "item": ev.encode(r.model_version)} for ev in _places(r.evidence)
                ],
            }
        )
        for ev in r.evidence:
            for key in (r.head_key, r.tail_key):
                mentions.setdefault((key, ev.sent_id), [])

    # (what, statement, rows, parameters besides $rows)
    kinds: list[tuple[str, str, Sequence[dict[str, Any]], dict[str, Any]]] = [
        ("documents", cypher.MERGE_DOCUMENTS, [d.model_dump() for d in batch.documents], {}),
        ("sentences", cypher.MERGE_SENTENCES, [s.model_dump() for s in batch.sentences], {}),
    ]
    kinds += [
        (f"entities:{label}", cypher.merge_entities(label), rows, {}) for label, rows in entity_rows.items()
    ]
    # Rows that lock shared entities and relationships come in key order, so that loads at once take those
    # locks in one order and seldom deadlock (the driver retries those that do).
    mention_rows = [
        {"entity_key": graph_key(key), "sent_id": sent_id, "surface_forms": sorted(set(forms))}
        for (key, sent_id), forms in sorted(mentions.items())
    ]
    kinds.append(("mentions", cypher.MERGE_MENTIONS, mention_rows, {}))
    kinds += [
        (
            f"relations:{t}",
            cypher.merge_relationships(t),
            sorted(rows, key=lambda row: (row["head_key"], row["tail_key"])),
            {"now": now, "sample": EVIDENCE_SAMPLE},
        )
        for t, rows in relation_rows.items()
    ]
    return [
        Statement(text, {"rows": list(rows[start : start + batch_size]), **extra}, what)
        for what, text, rows, extra in kinds
        for start in range(0, len(rows), batch_size)
    ]


def _counters(summary: neo4j.ResultSummary) -> WriteCounters:
    return WriteCounters(**{name: getattr(summary.counters, name) for name in WriteCounters.model_fields})


def _replace_in_one_transaction(
    tx: neo4j.ManagedTransaction,
    doc_ids: list[str],
    sent_ids: list[str],
    statements: Sequence[Statement],
    last: Statement,
) -> WriteCounters:
    """Take back what the documents said, write `statements` (their new extraction, or none), delete what
    was left without evidence or links, and end with `last` (mark them loaded, or delete them)."""
    total = WriteCounters()

    def run(text: str, params: dict[str, Any], field: str | None = None) -> Any:
        """Run one statement, add its counters; the value of `field` in its single row, if asked for."""
        nonlocal total
        result = tx.run(text, params)
        value = result.single(strict=True)[field] if field else None
        total += _counters(result.consume())
        return value

    emptied = run(cypher.STRIP_DOCUMENT_EVIDENCE, {"doc_ids": doc_ids, "sample": EVIDENCE_SAMPLE}, "emptied")
    keys = run(cypher.DELETE_DOCUMENT_MENTIONS, {"doc_ids": doc_ids}, "keys")
    run(cypher.DELETE_STALE_SENTENCES, {"doc_ids": doc_ids, "sent_ids": sent_ids})
    for st in statements:
        run(st.text, st.params)
    run(cypher.DELETE_EMPTIED_RELATIONSHIPS, {"ids": emptied})
    run(cypher.DELETE_ORPHAN_ENTITIES, {"keys": keys})
    run(last.text, last.params)
    return total


def replace_documents(
    driver: neo4j.Driver,
    doc_ids: Sequence[str],
    batch: GraphBatch,
    model_version: str,
    schema: GraphSchema,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    database: str | None = None,
    now: datetime | None = None,
    min_confidence: float | None = None,
) -> WriteCounters:
    """Swap in a new extraction of `doc_ids` (a new model version, or an edited text) in ONE transaction: no
    reader sees half of it.

    What those documents' sentences said before (evidence of any model version) is taken back and the batch
    says it again: counts go down and up, sentences the batch no longer has are deleted, a relationship left
    without evidence (and not found again) is deleted, mentions are replaced by the batch's, entities left
    with no link at all are deleted, and the documents are marked as loaded by `model_version` at
    `min_confidence` (what the flows read to skip or re-extract them; None: not recorded). Evidence from
    other documents is untouched, so a relationship also read elsewhere survives with that evidence. The
    whole replacement is one transaction held in server memory: call it per document or small group of
    documents, not for a whole corpus.
    """
    doc_set = set(doc_ids)
    # The batch's own validation ties every sentence to one of its documents, so checking these suffices.
    for i, d in enumerate(batch.documents):
        if d.doc_id not in doc_set:
            raise DataFormatError(f"documents[{i}] ({d.doc_id!r}) is not one of the replaced documents")
    for i, r in enumerate(batch.relations):
        if r.model_version != model_version:
            raise DataFormatError(
                f"relations[{i}] has model version {r.model_version!r}, expected {model_version!r}"
            )
    now = now or datetime.now(UTC)
    statements = plan_statements(batch, schema, batch_size, now)
    sent_ids = [s.sent_id for s in batch.sentences]
    try:
        with driver.session(database=database) as session:
            ids = sorted(doc_set)
            mark = {
                "doc_ids": ids,
                "model_version": model_version,
                "min_confidence": min_confidence,
                "now": now,
            }
            loaded = Statement(cypher.MARK_DOCUMENTS_LOADED, mark, "marking documents loaded")
            total = session.execute_write(_replace_in_one_transaction, ids, sent_ids, statements, loaded)
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError) as e:
        raise graph_error(e, f"writing the extraction of {len(doc_set)} documents") from e
    logger.info("replaced %d documents with model %s: %s", len(doc_set), model_version, total)
    return total


def remove_documents(
    driver: neo4j.Driver, doc_ids: Sequence[str], database: str | None = None
) -> WriteCounters:
    """Remove documents from the graph in one transaction, as if they had never been loaded: what their
    sentences said is taken back (a relationship also read elsewhere keeps that evidence), their sentences
    and the documents go, and so do relationships and entities left with nothing."""
    ids = sorted(set(doc_ids))
    delete = Statement(cypher.DELETE_DOCUMENTS, {"doc_ids": ids}, "deleting documents")
    try:
        with driver.session(database=database) as session:
            total = session.execute_write(_replace_in_one_transaction, ids, [], [], delete)
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError) as e:
        raise graph_error(e, f"removing {len(ids)} documents") from e
    logger.info("removed %d documents: %s", len(ids), total)
    return total
