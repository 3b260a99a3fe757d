"""What the pipeline, the extractor and the graph agree on: triples table, sentence ids, document statuses.

Defined once here so that a column added to the triples, or a status added to the manifest, is one change.
"""

from __future__ import annotations

TRIPLE_COLUMNS = [
    "sent_id", "head", "head_type", "head_start", "head_end", "relation",
    "tail", "tail_type", "tail_start", "tail_end", "confidence", "model_version",
]  # fmt: skip
"""One extracted triple per row: the extractor writes it, dedup groups it, the run folder stores it."""
TRIPLE_DTYPES = {
    column: "int64" if column.endswith(("_start", "_end")) else "float64" if column == "confidence" else "str"
    for column in TRIPLE_COLUMNS
}
"""Their types, also where there are no rows: an empty table's untyped columns are written to parquet as type
null, and a folder of outputs with one of those then cannot be read as one table."""

DEFAULT_REGISTRY = "models"
"""The model registry folder of every command and flow that is given none."""

# Sentence ids are `doc_id:index`, the index counting the document's sentences (or windows) from 0.
SENTENCE_ID_SEPARATOR = ":"

# Statuses of a manifest row (one per input), from reading to the end of an ingest run.
NEW = "new"  # readable, not yet loaded
SKIPPED = "skipped"  # a duplicate input, or already in the graph with this text and model version
UNSUPPORTED = "skipped:unsupported"  # a file whose suffix the ingest does not read (a.csv, image.png)
LOADED = "loaded"
NOT_REACHED = "not_reached"  # in a chunk a failed run never got to
FAILED_PREFIX = "failed:"  # followed by a kind: failed:undecodable, failed:empty, failed:load, ...


def sentence_id(doc_id: str, index: int) -> str:
    return f"{doc_id}{SENTENCE_ID_SEPARATOR}{index}"


def doc_id_of_sentence(sent_id: str) -> str:
    """`doc_id:index` -> `doc_id` (a doc_id may itself contain the separator)."""
    return sent_id.rpartition(SENTENCE_ID_SEPARATOR)[0]


def failed(kind: str) -> str:
    """The status of an input that failed at `kind` (a reading problem, or the ingest stage that stopped)."""
    return f"{FAILED_PREFIX}{kind}"


def record_id(record: object) -> str | None:
    """The `id` of a JSON record, as text: a string or a number, not blank; None otherwise (no `id`, null,
    true, an object), where readers fall back to the line number."""
    if not isinstance(record, dict):
        return None
    value = record.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value) if str(value).strip() else None
