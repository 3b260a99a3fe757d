"""The Cypher of the write path: one `UNWIND $rows` statement per kind (and per label and relationship type),
and the statements that take back what re-extracted documents said, all run by `graph.writer`.

Values always travel as parameters; labels and relationship types pass `graph.identifiers` first.
"""

from __future__ import annotations

from graph.identifiers import check_label, check_relationship_type
from graph.types import EV_MODEL_VERSION as _MODEL_VERSION
from graph.types import EV_SENT_ID as _SENT_ID
from graph.types import EVIDENCE_FIELDS
from graph.types import EVIDENCE_SEPARATOR as _SEP


def encoded_evidence(sentence: str, link: str) -> str:
    """`Evidence.encode` in Cypher, for the variables of a Sentence and of its EVIDENCE link, which hold the
    fields under their names: the stored form has one definition."""
    return f" + '{_SEP}' + ".join(
        f"{sentence if i == _SENT_ID else link}.{name}" for i, name in enumerate(EVIDENCE_FIELDS)
    )


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

# Neo4j reads a property under a write lock only where a SET reads it directly; a count or list read in a WITH
# and written back later would lose what another transaction wrote to the same node or relationship meanwhile
# (the manual's "lost updates": loads of different documents at once share entities and relationships). So a
# statement that reads and writes back such properties first takes the write lock, as the manual does, and
# removes the marker property after its last SET (`_LOCK`, `_UNLOCK`).
_LOCK = "SET {0}._lock = true"
_UNLOCK = "REMOVE {0}._lock"

# An entity's surface forms are the spellings of its mentions: each MENTIONED_IN link keeps the forms read in
# its sentence, and the entity keeps, sorted, every form of its links with the number of links using it
# (`surface_forms` and the parallel `surface_form_counts`). Writing and taking back links adds to and takes
# from these counts, a form leaving with its last link, so the cost is that of the links written, never of all
# of an entity's mentions.
# An entity written before forms were counted (no `surface_form_counts`) starts counting when a batch next
# writes it: its links then, which hold no forms, are `uncounted_mentions`, and its forms so far are kept, at
# count 0, until the last of those links is taken back (re-extracted or removed).
#
# Applies `deltas` (maps {form, n}, a form possibly more than once) to the counts of `e`.
_COUNT_FORMS = f"""
{_LOCK.format("e")}
WITH e, deltas
CALL (e, deltas) {{
  WITH e, deltas, coalesce(e.uncounted_mentions, 0) > 0 AS uncounted_left
  UNWIND [i IN range(0, size(e.surface_forms) - 1)
          | {{form: e.surface_forms[i], n: e.surface_form_counts[i]}}] + deltas AS d
  WITH d.form AS form, sum(d.n) AS n, uncounted_left
  WHERE n > 0 OR (n = 0 AND uncounted_left)
  WITH form, n ORDER BY form
  RETURN collect(form) AS forms, collect(n) AS counts
}}
SET e.surface_forms = forms, e.surface_form_counts = counts
{_UNLOCK.format("e")}
"""

# A link already holding some of the row's forms counts only the others, so re-loading rows changes nothing.
MERGE_MENTIONS = f"""
UNWIND $rows AS row
MATCH (e:Entity {{key: row.entity_key}})
MATCH (s:Sentence {{sent_id: row.sent_id}})
MERGE (e)-[m:MENTIONED_IN]->(s)
WITH e, m, row, coalesce(m.surface_forms, []) AS had
SET m.surface_forms = had + [form IN row.surface_forms WHERE NOT form IN had]
WITH e, collect([form IN row.surface_forms WHERE NOT form IN had | {{form: form, n: 1}}]) AS added
WITH e, reduce(all = [], d IN added | all + d) AS deltas
WHERE e.surface_form_counts IS NOT NULL AND size(deltas) > 0
{_COUNT_FORMS}"""


def merge_entities(label: str) -> str:
    """MERGE on the constrained `:Entity {key}`, then add the static type label; an entity written before
    surface forms were counted starts counting (see `_COUNT_FORMS`), its links so far uncounted. That start
    is checked again under the lock: another load may be starting it, its links not yet committed."""
    return f"""
UNWIND $rows AS row
MERGE (e:Entity {{key: row.key}})
ON CREATE SET e.name = row.name, e.type = row.type, e.surface_forms = [], e.surface_form_counts = []
SET e:{check_label(label)}
WITH e
WHERE e.surface_form_counts IS NULL
{_LOCK.format("e")}
WITH e
CALL (e) {{
  WITH e
  WHERE e.surface_form_counts IS NULL
  WITH e, COUNT {{ (e)-[:MENTIONED_IN]->() }} AS uncounted
  WITH e, uncounted, CASE WHEN uncounted > 0 THEN coalesce(e.surface_forms, []) ELSE [] END AS forms
  SET e.uncounted_mentions = CASE WHEN uncounted > 0 THEN uncounted END,
      e.surface_forms = forms,
      e.surface_form_counts = [form IN forms | 0]
}}
{_UNLOCK.format("e")}
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
{_LOCK.format("r")}
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
{_UNLOCK.format("r")}
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
# The sample loses the items of the sentences taken back; when it is left with fewer than it could hold, it is
# refilled (at most `$sample` places, through the same index) from the places left, as a clean load of the
# remaining documents would fill it, and its last item gives the relationship its model version.
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
{_LOCK.format("r")}
WITH r, h, t, sent_ids, taken_back, r.count - size(taken_back) AS left,
     any(e IN taken_back WHERE coalesce(e.confidence, 1.0) >= r.confidence) AS highest_taken
FOREACH (e IN taken_back | DELETE e)
WITH r, h, t, left, highest_taken,
     [item IN r.evidence WHERE NOT split(item, '{_SEP}')[{_SENT_ID}] IN sent_ids] AS kept
CALL (r, h, t, left, highest_taken) {{
  WITH r, h, t
  WHERE left > 0 AND highest_taken
  MATCH ()-[e:EVIDENCE {{head_key: h.key, relation: r.relation, tail_key: t.key}}]->()
  RETURN max(e.confidence) AS highest_found, count(e) AS found
}}
CALL (r, h, t, left, kept) {{
  WITH r, h, t, kept
  WHERE size(kept) < left AND size(kept) < $sample
  MATCH (s:Sentence)-[e:EVIDENCE {{head_key: h.key, relation: r.relation, tail_key: t.key}}]->()
  WITH kept, {encoded_evidence("s", "e")} AS item
  WHERE NOT item IN kept
  WITH item LIMIT $sample
  RETURN collect(item) AS refill
}}
WITH r, left, CASE WHEN found = left THEN highest_found ELSE r.confidence END AS highest_left,
     (kept + refill)[..$sample] AS kept
SET r.count = left,
    r.evidence = kept,
    r.model_version = CASE WHEN size(kept) > 0
                           THEN split(last(kept), '{_SEP}')[{_MODEL_VERSION}] ELSE r.model_version END,
    r.confidence = CASE WHEN left <= 0 THEN 0.0 ELSE highest_left END
{_UNLOCK.format("r")}
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

# The links' forms are taken back from their entities' counts (`_COUNT_FORMS`); links without forms, written
# before forms were counted, from `uncounted_mentions`.
DELETE_DOCUMENT_MENTIONS = f"""
MATCH (d:Document)<-[:IN]-(:Sentence)<-[m:MENTIONED_IN]-(e:Entity)
WHERE d.doc_id IN $doc_ids
WITH e, m, m.surface_forms AS forms
DELETE m
WITH e, collect(forms) AS taken, count(*) - count(forms) AS uncounted_taken
CALL (e, taken, uncounted_taken) {{
  WITH e, taken, uncounted_taken
  WHERE e.surface_form_counts IS NOT NULL
  SET e.uncounted_mentions = CASE WHEN e.uncounted_mentions - uncounted_taken > 0
                                  THEN e.uncounted_mentions - uncounted_taken END
  WITH e, reduce(all = [], forms IN taken | all + [form IN forms | {{form: form, n: -1}}]) AS deltas
{_COUNT_FORMS}}}
RETURN collect(e.key) AS keys
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
