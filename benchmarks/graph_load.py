"""How fast triples reach Neo4j: batched UNWIND MERGE vs one MERGE per triple vs a blind UNWIND CREATE.

    python -m benchmarks.graph_load [--quick] [--repeats N]

Then, around one dense head entity, how long removing a document takes when it held the highest confidence
of every relationship of that head, so that each one's confidence is recomputed from the places left: sought
in the `evidence_triple` index, and with that index dropped (expanding all of the head's EVIDENCE links).

All methods write the same synthetic rows with the production statements of `graph.write_statements` (the
rows come from `graph.writer.plan_statements`), in one run on one server, after a warm-up that compiles every
plan. Only the relationship statements are timed: documents, sentences, entities and mentions are written
before each method; the last row times the whole production load, `replace_documents`, for comparison.
Uses the server of NEO4J_URI, or starts a throwaway local Neo4j (graph.server) in a temporary folder. The
database is emptied between methods, so never point NEO4J_URI at data you want to keep.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import neo4j

from benchmarks.common import RESULTS_DIR, log_progress, machine, text_table, write_json
from graph import passwords, process, queries, server
from graph.connection import driver as open_driver
from graph.identifiers import check_relationship_type
from graph.schema import GraphSchema, ensure_schema
from graph.settings import Neo4jSettings
from graph.types import DocumentNode, EntityNode, Evidence, GraphBatch, Mention, RelationEdge, SentenceNode
from graph.writer import Statement, plan_statements, remove_documents, replace_documents

log = logging.getLogger("benchmarks.graph_load")

RESULTS = RESULTS_DIR / "graph_load.json"
TABLE_COLUMNS = ["method", "batch_size", "triples", "seconds", "triples_per_s", "x_per_triple"]
# (relation, head type, tail type): four relationship types, so rows are grouped by type as in production.
RELATIONS = [
    ("Drug_Disease", "Drug", "Disease"),
    ("ADE_Drug", "ADE", "Drug"),
    ("Test_Disease", "Test", "Disease"),
    ("Symptom_Disease", "Symptom", "Disease"),
]
SCHEMA = GraphSchema.from_names(
    [r for r, _, _ in RELATIONS], sorted({t for _, h, d in RELATIONS for t in (h, d)})
)
DOCUMENTS = 10
MODEL_VERSION = "bench"

# Empties the database between methods, in batches (a single transaction would hold it all in memory).
DELETE_EVERYTHING = "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"


def create_relationships(rel_type: str) -> str:
    """Blind CREATE of the rows `merge_relationships` writes, without EVIDENCE links: the benchmark's upper
    bound, never a load."""
    return f"""
UNWIND $rows AS row
MATCH (h:Entity {{key: row.head_key}})
MATCH (t:Entity {{key: row.tail_key}})
CREATE (h)-[r:{check_relationship_type(rel_type)}]->(t)
SET r.relation = row.relation, r.evidence = [ev IN row.evidence | ev.item][..$sample],
    r.count = size(row.evidence),
    r.confidence = row.confidence, r.model_version = row.model_version,
    r.first_seen = $now, r.last_seen = $now
"""


@dataclass(frozen=True)
class Size:
    triples: int
    per_triple: int  # one transaction per triple is slow: it runs on the first rows only
    batch_sizes: tuple[int, ...]
    sentences: int


FULL = Size(triples=10_000, per_triple=1_000, batch_sizes=(100, 1_000, 5_000), sentences=1_000)
QUICK = Size(triples=2_000, per_triple=300, batch_sizes=(100, 1_000), sentences=100)
WARM_UP = Size(triples=200, per_triple=20, batch_sizes=(100,), sentences=10)


@dataclass(frozen=True)
class DenseHead:
    tails: int  # relationships of the one head, all recomputed by the removal
    documents: int
    places_per_document: int  # per relationship

    @property
    def places(self) -> int:
        return self.tails * self.documents * self.places_per_document


DENSE_FULL = DenseHead(tails=100, documents=50, places_per_document=20)
DENSE_QUICK = DenseHead(tails=20, documents=10, places_per_document=10)


@dataclass(frozen=True)
class Measurement:
    method: str
    batch_size: int
    triples: int
    seconds: float

    @property
    def triples_per_s(self) -> float:
        return self.triples / self.seconds


def synthetic_batch(size: Size) -> GraphBatch:
    """`size.triples` distinct (head, relation, tail) rows, each with one piece of evidence, and the
    mentions of their heads and tails, spelt as their names, as the pipeline gives them."""
    per_relation = math.ceil(size.triples / len(RELATIONS))
    pool = math.isqrt(per_relation) + 1  # heads per type; (k % pool, k // pool) is a distinct pair per k
    names: set[tuple[str, str]] = set()
    relations = []
    for i in range(size.triples):
        relation, head_type, tail_type = RELATIONS[i % len(RELATIONS)]
        k = i // len(RELATIONS)
        head, tail = (head_type, f"{head_type}{k % pool}"), (tail_type, f"{tail_type}{k // pool}")
        names |= {head, tail}
        sent = i % size.sentences
        relations.append(
            RelationEdge(
                head_key=f"{head[0]}:{head[1]}", relation=relation, tail_key=f"{tail[0]}:{tail[1]}", count=1,
                model_version=MODEL_VERSION,
                evidence=[Evidence(sent_id=f"d{sent % DOCUMENTS}:{sent}", head_start=0, head_end=2,
                                   tail_start=3, tail_end=5, confidence=0.5 + (i % 50) / 100)],
            )
        )  # fmt: skip
    return GraphBatch(
        documents=[DocumentNode(doc_id=f"d{d}", source=f"synthetic/{d}.txt") for d in range(DOCUMENTS)],
        sentences=[
            SentenceNode(sent_id=f"d{s % DOCUMENTS}:{s}", doc_id=f"d{s % DOCUMENTS}", text=f"合成句子 {s}")
            for s in range(size.sentences)
        ],
        entities=[EntityNode(key=f"{t}:{n}", name=n, type=t) for t, n in sorted(names)],
        mentions=[
            Mention(entity_key=key, sent_id=r.evidence[0].sent_id, surface_forms=[key.split(":", 1)[1]])
            for r in relations
            for key in (r.head_key, r.tail_key)
        ],
        relations=relations,
    )


def _run(drv: neo4j.Driver, database: str, statements: Sequence[Statement]) -> None:
    with drv.session(database=database) as session:
        for st in statements:
            session.execute_write(lambda tx, st=st: tx.run(st.text, st.params).consume())


def _reset(drv: neo4j.Driver, database: str, nodes: Sequence[Statement]) -> None:
    """Empty the database and write everything but the relationships."""
    with drv.session(database=database) as session:
        session.run(DELETE_EVERYTHING).consume()
    _run(drv, database, nodes)


def _timed(method: str, batch_size: int, triples: int, work: Callable[[], object]) -> Measurement:
    start = time.perf_counter()
    work()
    m = Measurement(method, batch_size, triples, time.perf_counter() - start)
    log.info("%-28s batch %5d: %6d triples in %6.2f s = %8.0f triples/s", method, batch_size, triples,
             m.seconds, m.triples_per_s)  # fmt: skip
    return m


def _check(drv: neo4j.Driver, database: str, expected: int) -> None:
    """Exactly `expected` relationships exist after a method ran."""
    records, _, _ = drv.execute_query(queries.COOKBOOK_BY_NAME["relation_summary"].cypher, database_=database)
    got = sum(r["relationships"] for r in records)
    if got != expected:
        raise RuntimeError(f"expected {expected} relationships after the run, found {got}")


def measure(drv: neo4j.Driver, database: str, size: Size) -> list[Measurement]:
    """Every method on the same rows; checks after each that exactly `triples` relationships exist."""
    batch = synthetic_batch(size)
    rels = [
        st
        for st in plan_statements(batch, SCHEMA, batch_size=size.triples)
        if st.what.startswith("relations:")
    ]
    nodes = [st for st in plan_statements(batch, SCHEMA) if not st.what.startswith("relations:")]
    triples = sum(len(st.params["rows"]) for st in rels)
    doc_ids = [d.doc_id for d in batch.documents]

    def chunked(text_for: dict[str, str], batch_size: int, limit: int | None = None) -> list[Statement]:
        out, taken = [], 0
        for st in rels:
            rel_rows = st.params["rows"][: None if limit is None else max(0, limit - taken)]
            taken += len(rel_rows)
            for i in range(0, len(rel_rows), batch_size):
                params = {**st.params, "rows": rel_rows[i : i + batch_size]}
                out.append(Statement(text_for[st.text], params, st.what))
        return out

    merge = {st.text: st.text for st in rels}
    create = {st.text: create_relationships(st.what.split(":", 1)[1]) for st in rels}
    largest = size.batch_sizes[-1]
    # (method, statements, batch size, whether to empty the graph first); the second UNWIND MERGE of the
    # largest batches finds every relationship there: the idempotent re-load path.
    plan = [("UNWIND MERGE", chunked(merge, b), b, True) for b in size.batch_sizes]
    plan += [
        ("UNWIND MERGE, all existing", chunked(merge, largest), largest, False),
        ("MERGE per triple", chunked(merge, 1, limit=size.per_triple), 1, True),
        ("UNWIND CREATE (blind)", chunked(create, largest), largest, True),
    ]
    results = []
    for method, statements, batch_size, reset in plan:
        if reset:
            _reset(drv, database, nodes)
        count = sum(len(st.params["rows"]) for st in statements)
        results.append(_timed(method, batch_size, count, lambda s=statements: _run(drv, database, s)))
        _check(drv, database, count)
    with drv.session(database=database) as session:
        session.run(DELETE_EVERYTHING).consume()
    results.append(
        _timed("replace_documents (all)", largest, triples,
               lambda: replace_documents(drv, doc_ids, batch, MODEL_VERSION, SCHEMA, batch_size=largest,
                                         database=database))
    )  # fmt: skip
    _check(drv, database, triples)
    return results


def dense_head_batch(dense: DenseHead, doc: int) -> GraphBatch:
    """Document `doc` of the dense head: every relationship read in each of its sentences, at confidence 0.99
    in document 0 and 0.5 elsewhere, and every entity mentioned there under its name."""
    n = dense.places_per_document
    entities = [EntityNode(key="Drug:H", name="H", type="Drug")] + [
        EntityNode(key=f"Disease:T{t}", name=f"T{t}", type="Disease") for t in range(dense.tails)
    ]
    places = [
        Evidence(sent_id=f"h{doc}:{i}", head_start=0, head_end=1, tail_start=2, tail_end=3,
                 confidence=0.99 if doc == 0 else 0.5)
        for i in range(n)
    ]  # fmt: skip
    return GraphBatch(
        documents=[DocumentNode(doc_id=f"h{doc}", source=f"dense/{doc}.txt")],
        sentences=[SentenceNode(sent_id=f"h{doc}:{i}", doc_id=f"h{doc}", text="H T") for i in range(n)],
        entities=entities,
        mentions=[
            Mention(entity_key=e.key, sent_id=ev.sent_id, surface_forms=[e.name])
            for e in entities
            for ev in places
        ],
        relations=[
            RelationEdge(head_key="Drug:H", relation="Drug_Disease", tail_key=f"Disease:T{t}", count=n,
                         model_version=MODEL_VERSION, evidence=places)
            for t in range(dense.tails)
        ],
    )  # fmt: skip


def measure_dense_head(drv: neo4j.Driver, database: str, dense: DenseHead) -> list[Measurement]:
    """Removing the document with every relationship's highest place, with and without the index that finds
    a relationship's places; checks that the confidences fell to the highest left."""
    results = []
    for method, indexed in (
        ("remove, places sought in index", True),
        ("remove, head's links expanded", False),
    ):
        with drv.session(database=database) as session:
            session.run(DELETE_EVERYTHING).consume()
            if not indexed:
                session.run("DROP INDEX evidence_triple IF EXISTS").consume()
        for doc in range(dense.documents):
            replace_documents(drv, [f"h{doc}"], dense_head_batch(dense, doc), MODEL_VERSION, SCHEMA,
                              database=database)  # fmt: skip
        # Compiles the plan: the last document holds no highest place, so nothing is recomputed.
        remove_documents(drv, [f"h{dense.documents - 1}"], database=database)
        results.append(
            _timed(method, 1, dense.tails, lambda: remove_documents(drv, ["h0"], database=database))
        )
        records, _, _ = drv.execute_query(
            "MATCH (:Drug)-[r]->() RETURN max(r.confidence) AS c", database_=database
        )
        if records[0]["c"] != 0.5:
            raise RuntimeError(f"expected confidences of 0.5 after the removal, found {records[0]['c']}")
    ensure_schema(drv, database)
    with drv.session(database=database) as session:
        session.run(DELETE_EVERYTHING).consume()
    return results


def table_rows(results: Sequence[Measurement]) -> list[dict[str, object]]:
    """The measurements as rows of the printed table, each against one MERGE per triple."""
    per_triple = next(m.triples_per_s for m in results if m.method == "MERGE per triple")
    return [
        asdict(m) | {"seconds": round(m.seconds, 2), "triples_per_s": round(m.triples_per_s),
                     "x_per_triple": round(m.triples_per_s / per_triple, 1)}
        for m in results
    ]  # fmt: skip


@contextmanager
def neo4j_for_benchmark() -> Iterator[tuple[Neo4jSettings, str]]:
    """The server of NEO4J_URI, or a throwaway local one; yields the settings and a description."""
    if os.environ.get("NEO4J_URI", "").strip():
        settings = Neo4jSettings.from_env()
        yield settings, f"external server {settings.uri}"
        return
    with tempfile.TemporaryDirectory(prefix="nrskg-bench-") as tmp:
        start = time.perf_counter()
        info = server.start(Path(tmp), process.free_port())
        log.info("local Neo4j %s started in %.1f s", info.version, time.perf_counter() - start)
        try:
            settings = Neo4jSettings(uri=info.uri, password=passwords.local_password(info.uri, Path(tmp)))
            yield settings, f"local Neo4j {info.version} (graph.server)"
        finally:
            server.stop(Path(tmp))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK.triples} triples instead of {FULL.triples}"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="runs of every method; the fastest is reported (shared machines)",
    )
    args = parser.parse_args(argv)
    log_progress(neo4j=logging.ERROR)  # "label does not exist" notices on the empty database
    size = QUICK if args.quick else FULL
    dense = DENSE_QUICK if args.quick else DENSE_FULL
    with neo4j_for_benchmark() as (settings, where), open_driver(settings) as drv:
        ensure_schema(drv, settings.database)
        log.info("warm-up (compiles every plan; not reported)")
        measure(drv, settings.database, WARM_UP)
        runs = [measure(drv, settings.database, size) for _ in range(args.repeats)]
        dense_runs = [measure_dense_head(drv, settings.database, dense) for _ in range(args.repeats)]
        with drv.session(database=settings.database) as session:
            session.run(DELETE_EVERYTHING).consume()
    # The fastest of the repeats: on a shared machine, slower runs measure the neighbours, not Neo4j.
    results = [min(same, key=lambda m: m.seconds) for same in zip(*runs, strict=True)]
    dense_results = [min(same, key=lambda m: m.seconds) for same in zip(*dense_runs, strict=True)]
    payload = {
        "server": where,
        "machine": machine(with_torch=False),
        "size": asdict(size),
        "repeats": args.repeats,
        "results": [
            asdict(m) | {"triples_per_s": round(m.triples_per_s, 1), "all_seconds": [r.seconds for r in same]}
            for m, same in zip(results, zip(*runs, strict=True), strict=True)
        ],
        "dense_head": asdict(dense) | {"places": dense.places},
        "dense_head_results": [
            {
                "method": m.method,
                "relationships": m.triples,
                "seconds": m.seconds,
                "all_seconds": [r.seconds for r in same],
            }
            for m, same in zip(dense_results, zip(*dense_runs, strict=True), strict=True)
        ],  # fmt: skip
    }
    print(f"\n{where}, fastest of {args.repeats} runs, {payload['machine']}")
    print(text_table(table_rows(results), TABLE_COLUMNS))
    print(
        f"\nremoving the document with the highest place of {dense.tails} relationships of one head"
        f" ({dense.places} places)"
    )
    print(text_table([{"method": m.method, "seconds": round(m.seconds, 2)} for m in dense_results],
                     ["method", "seconds"]))  # fmt: skip
    print(f"written {write_json(args.out, payload)}")


if __name__ == "__main__":
    main()
