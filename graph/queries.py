"""Every Cypher statement the project runs: schema, write path, re-extraction, benchmark, clinician cookbook.

Values always travel as parameters (`$rows`, `$name`, ...). Labels and relationship types cannot be parameters
if the planner is to use an index, so the few builders that splice one in accept only identifiers that pass
the strict patterns below; `graph.schema` is the whitelist that produces them from the model's relation
schema.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from graph.types import EVIDENCE_SEPARATOR
from nrskg.errors import GraphError

RELATIONSHIP_TYPE_PATTERN = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
LABEL_PATTERN = re.compile(r"^[A-Z][A-Za-z0-9]*$")
# Names the graph model itself uses; a relation or entity type must not shadow them.
RESERVED_RELATIONSHIP_TYPES = frozenset({"MENTIONED_IN", "IN", "EVIDENCE"})
RESERVED_LABELS = frozenset({"Entity", "Document", "Sentence"})

# Positions inside an evidence string "sent_id|head_start|head_end|tail_start|tail_end|model_version".
_SEP = EVIDENCE_SEPARATOR
_SENT_ID, _HEAD_START, _HEAD_END, _TAIL_START, _TAIL_END, _MODEL_VERSION = range(6)


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


# --- schema -------------------------------------------------------------------------------------------------

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
}
AWAIT_INDEXES = "CALL db.awaitIndexes($seconds)"
SHOW_CONSTRAINTS = "SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties"

# --- write path: one UNWIND $rows statement per kind (and per label / relationship type) --------------------

MERGE_DOCUMENTS = """
UNWIND $rows AS row
MERGE (d:Document {doc_id: row.doc_id})
SET d.source = row.source, d.content_hash = coalesce(row.content_hash, d.content_hash)
"""

MERGE_SENTENCES = """
UNWIND $rows AS row
MATCH (d:Document {doc_id: row.doc_id})
MERGE (s:Sentence {sent_id: row.sent_id})
SET s.text = row.text, s.start = row.start, s.end = row.end
MERGE (s)-[:IN]->(d)
"""

# Which model version last extracted a document: the flows skip documents loaded by the current version and
# re-extract the others. Set by `replace_documents` in the same transaction as the documents' new extraction.
MARK_DOCUMENTS_LOADED = """
UNWIND $doc_ids AS id
MATCH (d:Document {doc_id: id})
SET d.model_version = $model_version, d.loaded_at = $now
"""

LOADED_VERSIONS = """
UNWIND $doc_ids AS id
MATCH (d:Document {doc_id: id})
RETURN d.doc_id AS doc_id, d.content_hash AS content_hash, d.model_version AS model_version
"""

STALE_DOCUMENTS = """
MATCH (d:Document)
WHERE d.model_version IS NULL OR d.model_version <> $model_version
RETURN d.doc_id AS doc_id, d.source AS source, d.model_version AS model_version
ORDER BY doc_id
"""

SENTENCES_OF_DOCUMENTS = """
UNWIND $doc_ids AS id
MATCH (s:Sentence)-[:IN]->(d:Document {doc_id: id})
RETURN s.sent_id AS sent_id, d.doc_id AS doc_id, s.text AS text, s.start AS start, s.end AS end
ORDER BY doc_id, start, sent_id
"""

MERGE_MENTIONS = """
UNWIND $rows AS row
MATCH (e:Entity {key: row.entity_key})
MATCH (s:Sentence {sent_id: row.sent_id})
MERGE (e)-[:MENTIONED_IN]->(s)
"""


def merge_entities(label: str) -> str:
    """MERGE on the constrained `:Entity {key}`, then add the static type label; surface forms form a set."""
    return f"""
UNWIND $rows AS row
MERGE (e:Entity {{key: row.key}})
ON CREATE SET e.name = row.name, e.type = row.type
SET e:{check_label(label)}
WITH e, row, coalesce(e.surface_forms, []) AS known
SET e.surface_forms = known + [form IN row.surface_forms WHERE NOT form IN known]
"""


def merge_relationships(rel_type: str) -> str:
    """One relationship per (head, type, tail), holding what a clinician's query needs: `count` of the places
    it was read, the highest `confidence` seen, and a sample of at most `$sample` evidence strings.

    Every place is also one `(:Sentence)-[:EVIDENCE {relation, tail_key, offsets, model_version}]->(head)`:
    per-mention provenance lives in the graph's structure, where it scales, rather than in one property that
    a triple repeated across a corpus would grow without bound. A place already recorded is not counted
    again, so re-loading the same rows changes nothing.
    """
    return f"""
UNWIND $rows AS row
MATCH (h:Entity {{key: row.head_key}})
MATCH (t:Entity {{key: row.tail_key}})
MERGE (h)-[r:{check_relationship_type(rel_type)}]->(t)
ON CREATE SET r.relation = row.relation, r.first_seen = $now, r.confidence = row.confidence,
              r.count = 0, r.evidence = []
WITH h, r, row
CALL (h, row) {{
  UNWIND row.evidence AS ev
  MATCH (s:Sentence {{sent_id: ev.sent_id}})
  WITH s, ev
  WHERE NOT EXISTS {{
    (s)-[:EVIDENCE {{relation: row.relation, tail_key: row.tail_key, head_start: ev.head_start,
                    head_end: ev.head_end, tail_start: ev.tail_start, tail_end: ev.tail_end}}]->(h)
  }}
  CREATE (s)-[:EVIDENCE {{relation: row.relation, tail_key: row.tail_key, head_start: ev.head_start,
                         head_end: ev.head_end, tail_start: ev.tail_start, tail_end: ev.tail_end,
                         model_version: row.model_version}}]->(h)
  RETURN count(ev) AS added, collect(ev.item)[..$sample] AS fresh
}}
WITH r, row, added, fresh, coalesce(r.evidence, []) AS known
SET r.count = coalesce(r.count, 0) + added,
    r.evidence = (known + [item IN fresh WHERE NOT item IN known])[..$sample],
    r.confidence = CASE WHEN row.confidence > r.confidence THEN row.confidence ELSE r.confidence END,
    r.model_version = row.model_version,
    r.last_seen = $now
"""


# --- re-extraction: run in the same transaction as the new write --------------------------------------------

# Re-extraction takes back everything the documents' sentences said (every model version: the new write then
# says it again), found from the documents through their sentences' EVIDENCE links, without a scan; the
# relationship is looked up between both ends, so a head with a million relationships costs nothing extra.
# A relationship left with count 0 is deleted only after the new write (DELETE_EMPTIED_RELATIONSHIPS): one the
# new model finds again survives with its first_seen, its confidence restarting from the new one.
STRIP_DOCUMENT_EVIDENCE = f"""
MATCH (d:Document)<-[:IN]-(s:Sentence)
WHERE d.doc_id IN $doc_ids
WITH collect(s) AS sentences, collect(s.sent_id) AS sent_ids
UNWIND sentences AS s
MATCH (s)-[e:EVIDENCE]->(h:Entity)
CALL (e, h) {{
  MATCH (t:Entity {{key: e.tail_key}})
  MATCH (h)-[r]->(t)
  WHERE r.relation = e.relation
  RETURN r
}}
WITH r, sent_ids, collect(e) AS taken_back
FOREACH (e IN taken_back | DELETE e)
WITH r, r.count - size(taken_back) AS left,
     [item IN r.evidence WHERE NOT split(item, '{_SEP}')[{_SENT_ID}] IN sent_ids] AS kept
SET r.count = left,
    r.evidence = kept,
    r.model_version = CASE WHEN size(kept) > 0
                           THEN split(last(kept), '{_SEP}')[{_MODEL_VERSION}] ELSE r.model_version END,
    r.confidence = CASE WHEN left > 0 THEN r.confidence ELSE 0.0 END
WITH r, left
WHERE left <= 0
RETURN collect(elementId(r)) AS emptied
"""

DELETE_EMPTIED_RELATIONSHIPS = """
UNWIND $ids AS id
MATCH ()-[r]->()
WHERE elementId(r) = id AND r.count <= 0
DELETE r
"""

DELETE_DOCUMENT_MENTIONS = """
MATCH (d:Document)<-[:IN]-(:Sentence)<-[m:MENTIONED_IN]-(e:Entity)
WHERE d.doc_id IN $doc_ids
DELETE m
RETURN collect(DISTINCT e.key) AS keys
"""

# An edited document may have fewer sentences than its old version: those left over go (their EVIDENCE links
# went with STRIP_DOCUMENT_EVIDENCE, their mentions with DELETE_DOCUMENT_MENTIONS).
DELETE_STALE_SENTENCES = """
MATCH (d:Document)<-[:IN]-(s:Sentence)
WHERE d.doc_id IN $doc_ids AND NOT s.sent_id IN $sent_ids
DETACH DELETE s
"""

DELETE_ORPHAN_ENTITIES = """
UNWIND $keys AS key
MATCH (e:Entity {key: key})
WHERE NOT (e)--()
DELETE e
"""

# --- maintenance and benchmark ------------------------------------------------------------------------------

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


# --- the clinician cookbook ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lookup:
    """A parameter a person types that the graph stores normalised (`pipeline.keys` normalises it before
    the query runs, so `ACEI`, `acei` and `ＡＣＥＩ` find the same node).

    kind `name`: a name of `entity_type`, passed to Cypher as the key `$<param>_key`; `key`: a `Type:name`
    key, normalised in place; `text`: part of a name, normalised in place (it is matched against keys).
    """

    param: str
    kind: Literal["name", "key", "text"]
    entity_type: str = ""


@dataclass(frozen=True)
class CookbookQuery:
    """A clinician's question, the Cypher that answers it, what each parameter means, and which parameters
    are normalised like the graph's keys before it runs."""

    name: str
    question: str
    cypher: str
    params: Mapping[str, str]
    lookups: tuple[Lookup, ...] = field(default=())


def _related_to(
    head_labels: Sequence[str], rel_types: Sequence[str], tail_label: str, head_column: str
) -> str:
    """Entities of `head_labels` that point at one named `tail_label` entity, strongest evidence first; the
    `path` column makes Neo4j Browser draw the answer as a graph."""
    heads = "|".join(check_label(label) for label in head_labels)
    rels = "|".join(check_relationship_type(rel_type) for rel_type in rel_types)
    # `:Entity {key}` on the named end is a seek in the unique constraint's index.
    return f"""MATCH path = (x:{heads})-[r:{rels}]->(:Entity&{check_label(tail_label)} {{key: $name_key}})
RETURN x.name AS {head_column}, x.type AS type, r.relation AS relation, r.count AS count,
       r.confidence AS confidence, x.key AS key, path
ORDER BY count DESC, confidence DESC, {head_column}
LIMIT $limit"""


_NAME = "the entity's name; case, full-width forms and spaces do not matter (entities_by_name finds names)"
_LIMIT = "the most rows to return"
_DISEASE, _DRUG = (Lookup("name", "name", "Disease"),), (Lookup("name", "name", "Drug"),)
_KEY = (Lookup("key", "key"),)

# Identifiers below are those `graph.schema` derives from the DiaKG and Ruijin relation names (Drug_Disease,
# ADE_Drug, SideEff-Drug, Test_items_Disease, ...); tests/graph/test_schema.py checks that they still match.
COOKBOOK: tuple[CookbookQuery, ...] = (
    CookbookQuery(
        "drugs_for_disease",
        "Which drugs are used for this disease?",
        _related_to(["Drug"], ["DRUG_DISEASE"], "Disease", "drug"),
        {"name": _NAME, "limit": _LIMIT},
        _DISEASE,
    ),
    CookbookQuery(
        "adverse_effects_of_drug",
        "What adverse effects does this drug have?",
        _related_to(["ADE", "SideEff"], ["ADE_DRUG", "SIDE_EFF_DRUG"], "Drug", "adverse_effect"),
        {"name": _NAME, "limit": _LIMIT},
        _DRUG,
    ),
    CookbookQuery(
        "tests_for_disease",
        "Which tests and test items are used to diagnose or monitor this disease?",
        _related_to(["Test", "TestItems"], ["TEST_DISEASE", "TEST_ITEMS_DISEASE"], "Disease", "test"),
        {"name": _NAME, "limit": _LIMIT},
        _DISEASE,
    ),
    CookbookQuery(
        "symptoms_of_disease",
        "Which symptoms does this disease show?",
        _related_to(["Symptom"], ["SYMPTOM_DISEASE"], "Disease", "symptom"),
        {"name": _NAME, "limit": _LIMIT},
        _DISEASE,
    ),
    CookbookQuery(
        "treatments_for_disease",
        "Which non-drug treatments and operations are used for this disease?",
        _related_to(
            ["Treatment", "Operation"], ["TREATMENT_DISEASE", "OPERATION_DISEASE"], "Disease", "treatment"
        ),
        {"name": _NAME, "limit": _LIMIT},
        _DISEASE,
    ),
    CookbookQuery(
        "drug_administration",
        "How is this drug given: amount, frequency, duration and method?",
        _related_to(
            ["Amount", "Frequency", "Duration", "Method"],
            ["AMOUNT_DRUG", "FREQUENCY_DRUG", "DURATION_DRUG", "METHOD_DRUG"],
            "Drug",
            "detail",
        ),
        {"name": _NAME, "limit": _LIMIT},
        _DRUG,
    ),
    CookbookQuery(
        "evidence_for_relationship",
        "Which sentences support this one relationship, and where in them are head and tail?",
        f"""MATCH (:Entity {{key: $head_key}})-[r]->(:Entity {{key: $tail_key}})
WHERE r.relation = $relation
UNWIND r.evidence AS item
WITH split(item, '{_SEP}') AS ev
MATCH (s:Sentence {{sent_id: ev[{_SENT_ID}]}})-[:IN]->(d:Document)
WITH s, d, ev, toInteger(ev[{_HEAD_START}]) AS hs, toInteger(ev[{_HEAD_END}]) AS he,
     toInteger(ev[{_TAIL_START}]) AS ts, toInteger(ev[{_TAIL_END}]) AS te
RETURN s.sent_id AS sent_id, s.text AS sentence, substring(s.text, hs, he - hs) AS head,
       substring(s.text, ts, te - ts) AS tail,
       hs AS head_start, he AS head_end, ts AS tail_start, te AS tail_end,
       ev[{_MODEL_VERSION}] AS model_version, d.doc_id AS doc_id, d.source AS source
ORDER BY sent_id, head_start, tail_start
LIMIT $limit""",
        {
            "head_key": "the head entity's key, e.g. 'Drug:二甲双胍'",
            "relation": "the relation's original name, e.g. 'Drug_Disease'",
            "tail_key": "the tail entity's key",
            "limit": _LIMIT,
        },
        (Lookup("head_key", "key"), Lookup("tail_key", "key")),
    ),
    CookbookQuery(
        "most_connected_entities",
        "Which entities are linked to the most other entities?",
        """MATCH (e:Entity)
WITH e, COUNT { (e)-[]-(:Entity) } AS degree
WHERE degree > 0
RETURN e.key AS key, e.name AS name, e.type AS type, degree
ORDER BY degree DESC, key
LIMIT $limit""",
        {"limit": _LIMIT},
    ),
    CookbookQuery(
        "entities_by_name",
        "Which entities have this text in their name?",
        """MATCH (e:Entity)
WHERE e.key CONTAINS $text AND substring(e.key, size(e.type) + 1) CONTAINS $text
RETURN e.key AS key, e.name AS name, e.type AS type, e.surface_forms AS surface_forms,
       COUNT { (e)-[:MENTIONED_IN]->() } AS mentions
ORDER BY size(name), mentions DESC, key
LIMIT $limit""",
        {
            "text": "any part of the name, e.g. '双胍' (case and full-width forms do not matter)",
            "limit": _LIMIT,
        },
        (Lookup("text", "text"),),
    ),
    CookbookQuery(
        "relationships_of_entity",
        "What does the graph say about this entity, in both directions?",
        """MATCH path = (e:Entity {key: $key})-[r]-(other:Entity)
RETURN CASE WHEN startNode(r) = e THEN 'out' ELSE 'in' END AS direction, r.relation AS relation,
       other.key AS other_key, other.name AS other, r.count AS count, r.confidence AS confidence, path
ORDER BY count DESC, relation, other_key
LIMIT $limit""",
        {"key": "the entity's key, e.g. 'Disease:2型糖尿病'", "limit": _LIMIT},
        _KEY,
    ),
    CookbookQuery(
        "documents_mentioning_entity",
        "Which documents mention this entity, and how often?",
        """MATCH (:Entity {key: $key})-[:MENTIONED_IN]->(s:Sentence)-[:IN]->(d:Document)
RETURN d.doc_id AS doc_id, d.source AS source, count(s) AS sentences
ORDER BY sentences DESC, doc_id
LIMIT $limit""",
        {"key": "the entity's key", "limit": _LIMIT},
        _KEY,
    ),
    CookbookQuery(
        "relation_summary",
        "How many relationships and evidence sentences does each relation have?",
        """MATCH (:Entity)-[r]->(:Entity)
RETURN r.relation AS relation, type(r) AS type, count(r) AS relationships, sum(r.count) AS evidence
ORDER BY relationships DESC, relation""",
        {},
    ),
)

COOKBOOK_BY_NAME: Mapping[str, CookbookQuery] = {q.name: q for q in COOKBOOK}


def cookbook_query(name: str) -> CookbookQuery:
    """The cookbook query called `name` (`drugs-for-disease` and `drugs_for_disease` alike)."""
    query = COOKBOOK_BY_NAME.get(name.replace("-", "_"))
    if query is None:
        raise GraphError(f"no cookbook query {name!r}; `nrskg query --list` names them")
    return query


# --- an entity's neighbourhood, for `nrskg view` ------------------------------------------------------------

# Every type's entity of one normalised name: the key ends with ":<name>" (the text index serves ENDS WITH);
# the second test drops names that merely end the same way after a colon inside a name.
ENTITIES_NAMED = """
MATCH (e:Entity)
WHERE e.key ENDS WITH ':' + $name AND substring(e.key, size(e.type) + 1) = $name
RETURN e.key AS key, e.name AS name, e.type AS type
ORDER BY key
LIMIT $limit
"""

# The strongest relationships around the centre entities, each with its first evidence sentences and the
# head and tail offsets in them (what `nrskg view` shows on hover).
NEIGHBOURHOOD = f"""
MATCH (c:Entity)-[r]-(:Entity)
WHERE c.key IN $keys
WITH DISTINCT r
ORDER BY r.count DESC, r.confidence DESC, r.relation
LIMIT $limit
WITH r, startNode(r) AS h, endNode(r) AS t
CALL (r) {{
  UNWIND r.evidence[0..$evidence] AS item
  WITH split(item, '{_SEP}') AS ev
  OPTIONAL MATCH (s:Sentence {{sent_id: ev[{_SENT_ID}]}})-[:IN]->(d:Document)
  RETURN collect({{
    sentence: s.text, source: d.source,
    head_start: toInteger(ev[{_HEAD_START}]), head_end: toInteger(ev[{_HEAD_END}]),
    tail_start: toInteger(ev[{_TAIL_START}]), tail_end: toInteger(ev[{_TAIL_END}])
  }}) AS evidence
}}
RETURN h.key AS head_key, h.name AS head, h.type AS head_type, r.relation AS relation,
       t.key AS tail_key, t.name AS tail, t.type AS tail_type, r.count AS count, r.confidence AS confidence,
       r.model_version AS model_version, evidence
ORDER BY count DESC, confidence DESC, relation, head_key, tail_key
"""
