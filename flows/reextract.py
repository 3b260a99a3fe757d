"""The reextract flow: run the current model over documents that an older model version, or another minimum
confidence, loaded.

It reads the sentences stored in the graph (the original files are not needed), and each chunk of documents
is swapped in one transaction (`graph.writer.replace_documents`). It is resumable and idempotent: documents
already loaded by the current version at the same minimum confidence are not selected again, so a second run
does nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from flows import logs, tasks
from graph.settings import Neo4jSettings
from graph.types import WriteCounters
from nrskg.contracts import DEFAULT_REGISTRY
from pipeline.stages import Extraction, extracted, graph_schema

log = logging.getLogger("flows.reextract")  # not __name__: a Prefect worker imports this file as "reextract"
logs.send_to_flow_runs()


@dataclass
class ReextractSummary:
    model_version: str
    min_confidence: float
    documents: int = 0
    sentences: int = 0
    triples: int = 0
    graph: dict[str, int] = field(default_factory=dict)


@flow(name="reextract", log_prints=True)
def reextract(
    model: str | None = None,
    registry: str = DEFAULT_REGISTRY,
    doc_ids: list[str] | None = None,
    device: str = "auto",
    batch_size: int = 0,
    chunk_documents: int = 200,
    neo4j: Neo4jSettings | None = None,
    min_confidence: float | None = None,
) -> ReextractSummary:
    """Re-extract every stale document (or only the stale ones among `doc_ids`) with the current model.

    A document is stale when another model version, or another minimum confidence, loaded it; `min_confidence`
    None is the model's own calibrated threshold, as in `ingest`. `doc_ids` may name documents by their source
    as ingest read it (a file path, relative ones resolved here) or by doc_id; a name the graph does not hold
    fails the run before anything is extracted.
    """
    neo4j = neo4j or Neo4jSettings.from_env()
    entry = tasks.check_first(model, registry, device, neo4j)
    tasks.graph_ready(neo4j)
    schema = graph_schema(entry.path)
    extraction = Extraction(entry.path, entry.version, device, batch_size, min_confidence=min_confidence)
    current = extracted(extraction)
    threshold = current.min_confidence
    stale = tasks.stale_documents(current, neo4j)
    if doc_ids is not None:
        named = tasks.documents_named(doc_ids, neo4j)
        stale = stale[stale["doc_id"].isin(set(named))]
        if len(stale) < len(named):
            log.info("%d of the %d documents named are up to date with %s at min confidence %g",
                     len(named) - len(stale), len(named), entry.version, threshold)  # fmt: skip
    summary = ReextractSummary(entry.version, threshold, documents=len(stale))
    counters = WriteCounters()
    for start in range(0, len(stale), chunk_documents):
        documents = stale.iloc[start : start + chunk_documents]
        ids = documents["doc_id"].tolist()
        sentences = tasks.graph_sentences(ids, neo4j)
        triples = tasks.extract(sentences, extraction)
        batch = tasks.dedup(documents, sentences, triples)
        counters += tasks.load(batch, ids, current, schema, neo4j)
        summary.sentences += len(sentences)
        summary.triples += len(triples)
    summary.graph = counters.model_dump()
    rows = "\n".join(f"| {k.replace('_', ' ')} | {v} |" for k, v in summary.graph.items())
    create_markdown_artifact(
        key="reextract-summary",
        markdown=(
            f"# Re-extraction with model {entry.version} at min confidence {threshold:g}\n\n"
            "| what | count |\n|---|---|\n"
            f"| documents | {summary.documents} |\n| sentences | {summary.sentences} |\n"
            f"| triples | {summary.triples} |\n{rows}\n"
        ),
    )
    log.info("re-extracted %d documents with %s at min confidence %g: %s", summary.documents, entry.version,
             threshold, summary.graph)  # fmt: skip
    return summary
