"""Readers for the data sets the extractor trains on, and the windowing, splitting and statistics around them.

Every reader returns `Document`s of `extractor.schema.Example` (character offsets, end exclusive, entity types
filled); malformed input raises `nrskg.errors.DataFormatError` naming the file and the line or record.
"""

from extractor.datasets.document import Document
from extractor.datasets.loader import FORMATS, load
from extractor.datasets.split import linked_components, split_documents
from extractor.datasets.summary import RelationType, relation_schema, stats
from extractor.datasets.windows import WindowReport, reachable, window_examples

__all__ = [
    "FORMATS",
    "Document",
    "RelationType",
    "WindowReport",
    "linked_components",
    "load",
    "reachable",
    "relation_schema",
    "split_documents",
    "stats",
    "window_examples",
]
