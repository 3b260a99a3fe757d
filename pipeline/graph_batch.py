"""Turn the run's tables into the one object the graph writer accepts (`graph.types.GraphBatch`).

The writer never sees a DataFrame (graph/types.py); this is the only place the two meet.
"""

from __future__ import annotations

import pandas as pd

from graph.documents import SENTENCE_FIELDS
from graph.types import DocumentNode, EntityNode, Evidence, GraphBatch, Mention, RelationEdge, SentenceNode


def to_graph_batch(
    documents: pd.DataFrame, sentences: pd.DataFrame, entities: pd.DataFrame, relations: pd.DataFrame
) -> GraphBatch:
    """One `GraphBatch` from documents (`doc_id`, `source`, optional `content_hash`: e.g. the manifest
    rows to load), the sentences of those documents, and the `deduplicate` tables built from their triples.

    Manifest rows without a `doc_id` (failed inputs) are left out, and a document listed twice is written
    once. The batch validates that every sentence, mention and evidence refers to something inside it,
    and raises `DataFormatError` naming the first reference that does not.
    """
    docs = documents.dropna(subset=["doc_id"]).drop_duplicates("doc_id")
    hashes = docs["content_hash"].tolist() if "content_hash" in docs else [None] * len(docs)
    return GraphBatch(
        documents=[
            DocumentNode(doc_id=d, source=s, content_hash=h if isinstance(h, str) else None)
            for d, s, h in zip(docs["doc_id"], docs["source"], hashes, strict=True)
        ],
        sentences=[
            SentenceNode(
                sent_id=row.sent_id,
                doc_id=row.doc_id,
                text=row.text,
                start=row.start,
                end=row.end,
                source_start=_offset(row.orig_start),
                source_end=_offset(row.orig_end),
            )
            for row in sentences[SENTENCE_FIELDS].itertuples(index=False)
        ],
        entities=[
            EntityNode(key=row.key, name=row.name, type=row.type) for row in entities.itertuples(index=False)
        ],
        mentions=[
            Mention(entity_key=row.key, sent_id=sent_id, surface_forms=list(forms))
            for row in entities.itertuples(index=False)
            for sent_id, forms in zip(row.mentions, row.mention_forms, strict=True)
        ],
        relations=[
            RelationEdge(
                head_key=row.head_key,
                relation=row.relation,
                tail_key=row.tail_key,
                count=int(row.count),
                model_version=row.model_version,
                evidence=[Evidence(**e) for e in row.evidence],
            )
            for row in relations.itertuples(index=False)
        ],
    )


def _offset(value: object) -> int | None:
    """An offset from a sentence row; missing (NaN or None) in sentences re-read from a graph written before
    sentences kept their source offsets."""
    return None if pd.isna(value) else int(value)
