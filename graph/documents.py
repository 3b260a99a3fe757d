"""What the graph knows about documents: which text version, model version and minimum confidence loaded
them, and their stored sentences.

The flows use this to skip documents already loaded with the same text by the current model at the same
minimum confidence, to replace edited ones, to re-extract the others from the sentences stored in the graph
without the original files, and to find the documents of files to remove. A document loaded before the minimum
confidence was recorded has none; it is taken to have been filtered at its model's own threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import neo4j
import pandas as pd

from graph.connection import graph_error

SENTENCE_FIELDS = ["sent_id", "doc_id", "text", "start", "end", "orig_start", "orig_end"]
DOCUMENT_FIELDS = ["doc_id", "source", "model_version"]

LOADED_VERSIONS = """
UNWIND $doc_ids AS id
MATCH (d:Document {doc_id: id})
RETURN d.doc_id AS doc_id, d.content_hash AS content_hash, d.model_version AS model_version,
       d.min_confidence AS min_confidence
"""

STALE_DOCUMENTS = """
MATCH (d:Document)
WHERE d.model_version IS NULL OR d.model_version <> $model_version
   OR coalesce(d.min_confidence, $model_default) <> $min_confidence
RETURN d.doc_id AS doc_id, d.source AS source, d.model_version AS model_version
ORDER BY doc_id
"""

# A source is a file's absolute path, plus `#...` for one record of a JSON lines file; under a folder, the
# folder's path and `/`.
DOCUMENTS_FROM = """
MATCH (d:Document)
WHERE any(p IN $paths WHERE d.source = p OR d.source STARTS WITH p + '#' OR d.source STARTS WITH p + '/')
RETURN d.doc_id AS doc_id, d.source AS source, d.model_version AS model_version
ORDER BY source
"""

SENTENCES_OF_DOCUMENTS = """
UNWIND $doc_ids AS id
MATCH (s:Sentence)-[:IN]->(d:Document {doc_id: id})
RETURN s.sent_id AS sent_id, d.doc_id AS doc_id, s.text AS text, s.start AS start, s.end AS end,
       s.source_start AS orig_start, s.source_end AS orig_end
ORDER BY doc_id, start, sent_id
"""


class LoadedVersion(NamedTuple):
    """What a document's last load was made from: its text's hash, the model version and the minimum
    confidence (None: loaded before it was recorded)."""

    content_hash: str | None
    model_version: str | None
    min_confidence: float | None = None


def _read(driver: neo4j.Driver, cypher: str, params: dict, database: str | None) -> list[dict]:
    try:
        records, _, _ = driver.execute_query(
            cypher, params, database_=database, routing_=neo4j.RoutingControl.READ
        )
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError) as e:
        raise graph_error(e, "reading documents") from e
    return [record.data() for record in records]


def loaded_versions(
    driver: neo4j.Driver, doc_ids: Sequence[str], database: str | None = None
) -> dict[str, LoadedVersion]:
    """doc_id -> (content hash, model version, min confidence) of its last load, for those of `doc_ids` in
    the graph."""
    rows = _read(driver, LOADED_VERSIONS, {"doc_ids": list(doc_ids)}, database)
    return {
        row["doc_id"]: LoadedVersion(row["content_hash"], row["model_version"], row["min_confidence"])
        for row in rows
    }


def stale_documents(
    driver: neo4j.Driver,
    model_version: str,
    min_confidence: float,
    model_default: float,
    database: str | None = None,
) -> pd.DataFrame:
    """Documents whose last load was by another model version than `model_version`, or at another minimum
    confidence than `min_confidence` (an unrecorded one counts as `model_default`, the model's own), in
    doc_id order."""
    params = {
        "model_version": model_version,
        "min_confidence": min_confidence,
        "model_default": model_default,
    }
    rows = _read(driver, STALE_DOCUMENTS, params, database)
    return pd.DataFrame(rows, columns=DOCUMENT_FIELDS)


def documents_from(driver: neo4j.Driver, paths: Sequence[str], database: str | None = None) -> pd.DataFrame:
    """Documents read from `paths` (absolute files or folders, as ingest resolved them), in source order."""
    rows = _read(driver, DOCUMENTS_FROM, {"paths": list(paths)}, database)
    return pd.DataFrame(rows, columns=DOCUMENT_FIELDS)


def sentences_of(driver: neo4j.Driver, doc_ids: Sequence[str], database: str | None = None) -> pd.DataFrame:
    """The stored sentences of `doc_ids` (sent_id, doc_id, text, start, end, and their offsets into the
    source as `orig_start`/`orig_end`, the names of `pipeline.sentences`), in document order."""
    rows = _read(driver, SENTENCES_OF_DOCUMENTS, {"doc_ids": list(doc_ids)}, database)
    return pd.DataFrame(rows, columns=SENTENCE_FIELDS)
