"""The Cypher of the write path: one `UNWIND $rows` statement per kind (and per label and relationship type),
and the statements that take back what re-extracted documents said, all run by `graph.writer`.

Values always travel as parameters; labels and relationship types pass `graph.identifiers` first.
"""

from __future__ import annotations

from graph.identifiers import check_label, check_relationship_type
from graph.types import EV_MODEL_VERSION as _MODEL_VERSION
from graph.types import EV_SENT_ID as _SENT_ID
from graph.types import EVIDENCE_SEPARATOR as _SEP

MERGE_DOCUMENTS = """
UNWIND $rows AS row
MERGE (d:Document {doc_id: row.doc_id})
SET d.source = row.source, d.content_hash = coalesce(row.content_hash, d.content_hash)
"""

MERGE_SENTENCES = """
UNWIND $rows AS row
MATCH (d:Document {doc_id: row.doc_id})
MERGE (s:Sentence {sent_id: row.sent_id})
SET s.text = row.text, s.start = row.start, s.end = row.end,
    s.source_start = row.source_start, s.source_end = row.source_end
MERGE (s)-[:IN]->(d)
"""

# Which model version, at which minimum confidence, last extracted a document: the flows skip documents loaded
# so and re-extract the others. Set by `replace_documents` in the same transaction as the new extraction.
MARK_DOCUMENTS_LOADED = """
UNWIND $doc_ids AS id
MATCH (d:Document {doc_id: id})
SET d.model_version = $model_version, d.min_confidence = $min_confidence, d.loaded_at = $now
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

    Every place is also one `(:Sentence)-[:EVIDENCE {head_key, relation, tail_key, offsets, confidence,
    model_version}]->(head)` (`head_key` repeats the head's key for the `evidence_triple` index):
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
  CREATE (s)-[:EVIDENCE {{head_key: row.head_key, relation: row.relation, tail_key: row.tail_key,
                         head_start: ev.head_start, head_end: ev.head_end, tail_start: ev.tail_start,
                         tail_end: ev.tail_end, confidence: ev.confidence,
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
# new model finds again survives with its first_seen, its confidence restarting from the new one. One that
# keeps places elsewhere gets the highest confidence among them, sought through the `evidence_triple` index
# only when a place taken back held the highest. Places written before they kept a confidence (and the head's
# key) are not in that index: while any is left (fewer found than counted) the relationship keeps its highest.
# A sample that lost places while more are left is filled up again from the same index, so query 7 and
# `nrskg view` never show fewer sentences than the sample holds (nor none) for a relationship still counted.
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
  RETURN r, t
}}
WITH r, h, t, sent_ids, collect(e) AS taken_back
WITH r, h, t, sent_ids, taken_back, r.count - size(taken_back) AS left,
     any(e IN taken_back WHERE coalesce(e.confidence, 1.0) >= r.confidence) AS highest_taken
FOREACH (e IN taken_back | DELETE e)
WITH r, h, t, sent_ids, left, highest_taken
CALL (r, h, t, left, highest_taken) {{
  WITH r, h, t
  WHERE left > 0 AND highest_taken
  MATCH ()-[e:EVIDENCE {{head_key: h.key, relation: r.relation, tail_key: t.key}}]->()
  RETURN max(e.confidence) AS highest_found, count(e) AS found
}}
WITH r, h, t, left, CASE WHEN found = left THEN highest_found ELSE r.confidence END AS highest_left,
     [item IN r.evidence WHERE NOT split(item, '{_SEP}')[{_SENT_ID}] IN sent_ids] AS kept
CALL (r, h, t, left, kept) {{
  WITH r, h, t, kept
  WHERE size(kept) < left AND size(kept) < $sample
  MATCH (s:Sentence)-[e:EVIDENCE {{head_key: h.key, relation: r.relation, tail_key: t.key}}]->()
  WITH kept, s.sent_id + '{_SEP}' + toString(e.head_start) + '{_SEP}' + toString(e.head_end) + '{_SEP}'
       + toString(e.tail_start) + '{_SEP}' + toString(e.tail_end) + '{_SEP}' + e.model_version AS item
  WHERE NOT item IN kept
  WITH item ORDER BY item
  RETURN collect(item) AS more
}}
SET r.count = left,
    r.evidence = (kept + more)[..$sample],
    r.model_version = CASE WHEN size(kept) > 0
                           THEN split(last(kept), '{_SEP}')[{_MODEL_VERSION}] ELSE r.model_version END,
    r.confidence = CASE WHEN left <= 0 THEN 0.0 ELSE highest_left END
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

# Removal: what a removed document said is taken back as in re-extraction, all its sentences go (an empty
# $sent_ids for DELETE_STALE_SENTENCES), and then the Document itself.
DELETE_DOCUMENTS = """
UNWIND $doc_ids AS id
MATCH (d:Document {doc_id: id})
DETACH DELETE d
"""

DELETE_ORPHAN_ENTITIES = """
UNWIND $keys AS key
MATCH (e:Entity {key: key})
WHERE NOT (e)--()
DELETE e
"""
