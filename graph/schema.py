"""Which labels and relationship types may appear in Cypher, and the constraints and indexes the graph needs.

Cypher cannot take a label or a relationship type as a parameter and still use an index (dynamic `$(...)`
types arrive in 5.26 but are only index-backed from 2025.08), so they must be spliced into the query text.
This module is the only door they come through: every identifier is derived from the model's relation list and
entity types, checked against a strict ASCII pattern, and looked up in a whitelist. Text that came out of a
document never reaches a query string.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import neo4j

from graph.connection import graph_error
from graph.identifiers import LABEL_PATTERN, RELATIONSHIP_TYPE_PATTERN, check_label, check_relationship_type
from nrskg.errors import GraphError, UnknownRelationError

logger = logging.getLogger(__name__)

# Non-ASCII names (CMeIE predicates such as 药物治疗) get a stable hashed identifier; the original name stays
# in the `relation` / `type` property, which is what clinicians filter on.
_HASH_CHARS = 8
# New indexes populate in the background; writes right after creation should find them online.
INDEX_WAIT_SECONDS = 300

SCHEMA_STATEMENTS: Mapping[str, str] = {
    "entity_key": "CREATE CONSTRAINT entity_key IF NOT EXISTS FOR (e:Entity) REQUIRE e.key IS UNIQUE",
    "document_doc_id": (
        "CREATE CONSTRAINT document_doc_id IF NOT EXISTS FOR (d:Document) REQUIRE d.doc_id IS UNIQUE"
    ),
    "sentence_sent_id": (
        "CREATE CONSTRAINT sentence_sent_id IF NOT EXISTS FOR (s:Sentence) REQUIRE s.sent_id IS UNIQUE"
    ),
    # A text index serves `name CONTAINS $text` and, unlike a range index, takes names far longer than 8 kB.
    "entity_name_text": "CREATE TEXT INDEX entity_name_text IF NOT EXISTS FOR (e:Entity) ON (e.name)",
    # Look-ups by normalised name search the key (`key CONTAINS`, `key ENDS WITH`): the unique constraint's
    # range index serves equality and prefixes only.
    "entity_key_text": "CREATE TEXT INDEX entity_key_text IF NOT EXISTS FOR (e:Entity) ON (e.key)",
    # A relationship's places, sought directly when its confidence is recomputed after some are taken back
    # (expanding a dense head's EVIDENCE links instead costs its whole degree per relationship).
    "evidence_triple": (
        "CREATE INDEX evidence_triple IF NOT EXISTS FOR ()-[e:EVIDENCE]-()"
        " ON (e.head_key, e.relation, e.tail_key)"
    ),
}
AWAIT_INDEXES = "CALL db.awaitIndexes($seconds)"


def _words(name: str) -> list[str]:
    """Split "SideEff-Drug" or "Test_items_Disease" into ASCII words, camel case included."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:_HASH_CHARS].upper()


def relationship_type_for(relation: str) -> str:
    """Upper snake case for an ASCII relation ("SideEff-Drug" -> "SIDE_EFF_DRUG"), a hashed one otherwise."""
    candidate = "_".join(w.upper() for w in _words(relation)) if relation.isascii() else ""
    return candidate if RELATIONSHIP_TYPE_PATTERN.match(candidate) else f"REL_{_digest(relation)}"


def label_for(entity_type: str) -> str:
    """Pascal case for an ASCII entity type ("Test_items" -> "TestItems"), a hashed one otherwise."""
    candidate = "".join(w[:1].upper() + w[1:] for w in _words(entity_type)) if entity_type.isascii() else ""
    return candidate if LABEL_PATTERN.match(candidate) else f"Type{_digest(entity_type)}"


def _whitelist(
    names: Iterable[str], derive: Callable[[str], str], check: Callable[[str], str], what: str
) -> dict[str, str]:
    """name -> identifier, refusing two names on one identifier (they would silently merge in the graph)."""
    mapping: dict[str, str] = {}
    owner: dict[str, str] = {}
    for name in names:
        if name in mapping:
            continue
        identifier = check(derive(name))
        if identifier in owner:
            raise GraphError(f"{what} {name!r} and {owner[identifier]!r} both map to {identifier!r}")
        mapping[name] = identifier
        owner[identifier] = name
    return mapping


@dataclass(frozen=True)
class GraphSchema:
    """The whitelist: relation name -> relationship type and entity type -> label, in the model's order."""

    relationship_types: Mapping[str, str]
    labels: Mapping[str, str]

    @classmethod
    def from_names(cls, relations: Iterable[str], entity_types: Iterable[str]) -> GraphSchema:
        """The whitelist from the model's relation list and entity types."""
        relationship_types = _whitelist(relations, relationship_type_for, check_relationship_type, "relation")
        return cls(relationship_types, _whitelist(entity_types, label_for, check_label, "entity type"))

    def relationship_type(self, relation: str) -> str:
        return _whitelisted(self.relationship_types, relation, "relation")

    def label(self, entity_type: str) -> str:
        return _whitelisted(self.labels, entity_type, "entity type")


def _whitelisted(whitelist: Mapping[str, str], name: str, what: str) -> str:
    """The identifier of `name`; a name the model does not know never reaches Cypher."""
    try:
        return whitelist[name]
    except KeyError:
        known = ", ".join(whitelist) or "none"
        raise UnknownRelationError(
            f"{what} {name[:80]!r} is not in the relation schema (known: {known})"
        ) from None


def ensure_schema(driver: neo4j.Driver, database: str | None = None) -> list[str]:
    """Create the uniqueness constraints and indexes if they do not exist yet; returns the statements' names.

    Constraints and indexes are label-level, not per entity type, so they do not depend on the relation
    schema.
    """
    try:
        with driver.session(database=database) as session:
            for name, statement in SCHEMA_STATEMENTS.items():
                session.run(statement).consume()
                logger.debug("schema: %s ensured", name)
            session.run(AWAIT_INDEXES, seconds=INDEX_WAIT_SECONDS).consume()
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError) as e:
        raise graph_error(e, "creating constraints and indexes") from e
    return list(SCHEMA_STATEMENTS)
