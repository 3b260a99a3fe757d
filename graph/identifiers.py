"""The only names spliced into Cypher: relationship types and labels, each checked against a strict pattern.

Cypher cannot take a label or a relationship type as a parameter and still use an index, so the few
statements that need one splice it in; these checks refuse anything but a plain ASCII identifier first.
`graph.schema` derives the identifiers from the model's relation schema and whitelists them.
"""

from __future__ import annotations

import re

from nrskg.errors import GraphError

RELATIONSHIP_TYPE_PATTERN = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
LABEL_PATTERN = re.compile(r"^[A-Z][A-Za-z0-9]*$")
# Names the graph model itself uses; a relation or entity type must not shadow them.
RESERVED_RELATIONSHIP_TYPES = frozenset({"MENTIONED_IN", "IN", "EVIDENCE"})
RESERVED_LABELS = frozenset({"Entity", "Document", "Sentence"})


def check_relationship_type(rel_type: str) -> str:
    """Refuse anything but a plain upper snake case identifier before it is spliced into a query."""
    if not RELATIONSHIP_TYPE_PATTERN.match(rel_type) or rel_type in RESERVED_RELATIONSHIP_TYPES:
        raise GraphError(
            f"{rel_type!r} is not a valid relationship type (expected {RELATIONSHIP_TYPE_PATTERN.pattern})"
        )
    return rel_type


def check_label(label: str) -> str:
    """Refuse anything but a plain Pascal case identifier before it is spliced into a query."""
    if not LABEL_PATTERN.match(label) or label in RESERVED_LABELS:
        raise GraphError(f"{label!r} is not a valid entity label (expected {LABEL_PATTERN.pattern})")
    return label
