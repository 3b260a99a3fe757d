"""The clinician cookbook: each question, the Cypher that answers it, and what its parameters mean.

Values always travel as parameters (`$name_key`, `$limit`, ...); the labels and relationship types that
`_related_to` splices in pass `graph.identifiers` first. tests/graph/test_schema.py checks that they are
those `graph.schema` derives from the DiaKG and Ruijin relation names, and docs/queries.md shows every query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import neo4j

from graph.identifiers import check_label, check_relationship_type
from graph.read import read_table
from graph.types import EV_HEAD_END as _HEAD_END
from graph.types import EV_HEAD_START as _HEAD_START
from graph.types import EV_MODEL_VERSION as _MODEL_VERSION
from graph.types import EV_SENT_ID as _SENT_ID
from graph.types import EV_TAIL_END as _TAIL_END
from graph.types import EV_TAIL_START as _TAIL_START
from graph.types import EVIDENCE_SEPARATOR as _SEP
from nrskg.errors import GraphError


@dataclass(frozen=True)
class Lookup:
    """A parameter a person types that the graph stores normalised (`pipeline.keys` normalises it before
    the query runs, so `ACEI`, `acei` and `ＡＣＥＩ` find the same node), in either script (`二甲雙胍` finds
    `二甲双胍`): Cypher gets the list of forms the graph may hold, `$<cypher_param>`.

    kind `name`: a name of `entity_type`, passed as keys (`$name_keys`); `key`: a `Type:name` key (`$keys`);
    `text`: part of a name (`$texts`; it is matched against keys).
    """

    param: str
    kind: Literal["name", "key", "text"]
    entity_type: str = ""

    @property
    def cypher_param(self) -> str:
        return f"{self.param}_keys" if self.kind == "name" else f"{self.param}s"


@dataclass(frozen=True)
class CookbookQuery:
    """A clinician's question, the Cypher that answers it, what each parameter means, and which parameters
    are normalised like the graph's keys before it runs."""

    name: str
    question: str
    cypher: str
    params: Mapping[str, str]
    lookups: tuple[Lookup, ...] = field(default=())

    @property
    def command_name(self) -> str:
        """The name as `nrskg query --cookbook` takes it and messages give it (`drugs-for-disease`)."""
        return self.name.replace("_", "-")

    def entity_keys(self, params: Mapping[str, Any]) -> list[list[str]]:
        """The entities this question is about, each as the keys it may have (as typed first), from its
        parameters as it runs (after `pipeline.keys.cookbook_parameters`)."""
        return [params[lookup.cypher_param] for lookup in self.lookups if lookup.kind in ("name", "key")]


def _related_to(
    head_labels: Sequence[str], rel_types: Sequence[str], tail_label: str, head_column: str
) -> str:
    """Entities of `head_labels` that point at one named `tail_label` entity, strongest evidence first; the
    `path` column makes Neo4j Browser draw the answer as a graph."""
    heads = "|".join(check_label(label) for label in head_labels)
    rels = "|".join(check_relationship_type(rel_type) for rel_type in rel_types)
    # `key IN` on the named end is a seek in the unique constraint's index.
    return f"""MATCH path = (x:{heads})-[r:{rels}]->(e:Entity&{check_label(tail_label)})
WHERE e.key IN $name_keys
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
        f"""MATCH (h:Entity)-[r]->(t:Entity)
WHERE h.key IN $head_keys AND t.key IN $tail_keys AND toUpper($relation) IN [toUpper(r.relation), type(r)]
UNWIND r.evidence AS item
WITH h, r, t, split(item, '{_SEP}') AS ev
MATCH (s:Sentence {{sent_id: ev[{_SENT_ID}]}})-[:IN]->(d:Document)
WITH h, r, t, s, d, ev, toInteger(ev[{_HEAD_START}]) AS hs, toInteger(ev[{_HEAD_END}]) AS he,
     toInteger(ev[{_TAIL_START}]) AS ts, toInteger(ev[{_TAIL_END}]) AS te
OPTIONAL MATCH (s)-[e:EVIDENCE {{relation: r.relation, tail_key: t.key, head_start: hs, head_end: he,
                               tail_start: ts, tail_end: te}}]->(h)
RETURN s.sent_id AS sent_id, s.text AS sentence, substring(s.text, hs, he - hs) AS head,
       substring(s.text, ts, te - ts) AS tail, e.confidence AS confidence,
       hs AS head_start, he AS head_end, ts AS tail_start, te AS tail_end,
       ev[{_MODEL_VERSION}] AS model_version, d.doc_id AS doc_id, d.source AS source,
       s.source_start AS source_start, s.source_end AS source_end
ORDER BY sent_id, head_start, tail_start
LIMIT $limit""",
        {
            "head_key": "the head entity's key, e.g. 'Drug:二甲双胍'",
            "relation": "the relation in any case, e.g. 'Drug_Disease' or its type 'DRUG_DISEASE'",
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
        """UNWIND $texts AS text
MATCH (e:Entity)
WHERE e.key CONTAINS text AND substring(e.key, size(e.type) + 1) CONTAINS text
WITH DISTINCT e
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
        """MATCH path = (e:Entity)-[r]-(other:Entity)
WHERE e.key IN $keys
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
        """MATCH (e:Entity)-[:MENTIONED_IN]->(s:Sentence)-[:IN]->(d:Document)
WHERE e.key IN $keys
RETURN d.doc_id AS doc_id, d.source AS source, count(DISTINCT s) AS sentences
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


# Which of $keys name an entity: an empty answer about an entity the graph lacks (a misspelt name, `drug:`
# for `Drug:`) must not read as "the graph knows no such drugs".
_KNOWN_KEYS = """UNWIND $keys AS key
MATCH (e:Entity {key: key})
RETURN e.key AS key"""


def unknown_entities(
    driver: neo4j.Driver, entities: Sequence[Sequence[str]], *, timeout: float, database: str | None = None
) -> list[str]:
    """Of `entities`, each given as the keys it may have (`CookbookQuery.entity_keys`), the first key of
    those the graph holds under none of them."""
    keys = sorted({key for forms in entities for key in forms})
    if not keys:
        return []
    rows = read_table(
        driver, _KNOWN_KEYS, {"keys": keys}, timeout=timeout, limit=len(keys), database=database
    ).rows
    known = {row["key"] for row in rows}
    return [forms[0] for forms in entities if forms and not known.intersection(forms)]


# How two entities are related, whichever way round they were given: an empty answer about one relationship
# (a misspelt relation, head and tail swapped) must not read as "no sentence supports it".
_RELATIONS_BETWEEN = """MATCH (a:Entity)-[r]-(b:Entity)
WHERE a.key IN $head_keys AND b.key IN $tail_keys
RETURN startNode(r) = a AS forward, collect(DISTINCT r.relation) AS relations,
       collect(DISTINCT type(r)) AS types"""

RELATIONSHIP_PARAMS = frozenset({"head_key", "relation", "tail_key"})
"""The parameters of a question about one relationship (`evidence-for-relationship`)."""


def missing_relationship_note(
    driver: neo4j.Driver, params: Mapping[str, Any], *, timeout: float, database: str | None = None
) -> str:
    """Why a question about one relationship, between two entities the graph holds, found nothing: the
    relations the graph has between them, either way round, or that it has none."""
    head, tail = params["head_keys"][0], params["tail_keys"][0]
    found = read_table(driver, _RELATIONS_BETWEEN, params, timeout=timeout, limit=2, database=database).rows
    relations = {row["forward"]: sorted(row["relations"]) for row in found}
    # As the question matches it: the relation in any case, or its relationship type.
    names = {name.upper() for row in found if row["forward"] for name in row["relations"] + row["types"]}
    asked = f"no {params['relation']} relationship from {head} to {tail} in the graph"
    if str(params["relation"]).upper() in names:
        return f"the {params['relation']} relationship from {head} to {tail} keeps no evidence sentences"
    if True in relations:
        return f"{asked}; from {head} to {tail} it has: {', '.join(relations[True])}"
    if False in relations:
        return (
            f"{asked}; it has them the other way round, from {tail} to {head}: {', '.join(relations[False])} "
            "(swap head_key and tail_key)"
        )
    return f"{asked}; it holds no relationship between the two"


def find_names_hint(name: str) -> str:
    """What to run to see the names the graph has like `name` (normalised): the cookbook's name search."""
    return f"find names with `nrskg query --cookbook entities-by-name -p text={name[:2]}`"


def cookbook_query(name: str) -> CookbookQuery:
    """The cookbook query called `name` (`drugs-for-disease` and `drugs_for_disease` alike)."""
    query = COOKBOOK_BY_NAME.get(name.replace("-", "_"))
    if query is None:
        raise GraphError(f"no cookbook query {name!r}; `nrskg query --list` names them")
    return query
