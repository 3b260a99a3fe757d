"""An entity's neighbourhood read from the graph: the nodes and relationships `nrskg view` draws.

Reads go through `graph.read` (a READ transaction with a timeout), so drawing can never write. Names arrive
normalised (the caller uses `pipeline.keys`, as the pipeline does when it writes keys).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import neo4j

from graph.read import read_table
from graph.types import EV_HEAD_END as _HEAD_END
from graph.types import EV_HEAD_START as _HEAD_START
from graph.types import EV_SENT_ID as _SENT_ID
from graph.types import EV_TAIL_END as _TAIL_END
from graph.types import EV_TAIL_START as _TAIL_START
from graph.types import EVIDENCE_SEPARATOR as _SEP

MOST_CENTRES = 20

# Every type's entity of one normalised name, in any of its forms (simplified, traditional): the key ends
# with ":<name>" (the text index serves ENDS WITH); the second test drops names that merely end the same way
# after a colon inside a name.
ENTITIES_NAMED = """
UNWIND $names AS name
MATCH (e:Entity)
WHERE e.key ENDS WITH ':' + name AND substring(e.key, size(e.type) + 1) = name
WITH DISTINCT e
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


@dataclass(frozen=True)
class Node:
    key: str
    name: str
    type: str
    centre: bool = False


@dataclass(frozen=True)
class Edge:
    """One relationship with its provenance: the first evidence sentences, with head and tail offsets."""

    head: str  # node keys
    tail: str
    relation: str
    count: int
    confidence: float
    model_version: str
    evidence: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Neighbourhood:
    centres: list[str]
    nodes: list[Node]
    edges: list[Edge]
    truncated: bool = False  # the centres have more relationships than were read


def entities_named(
    driver: neo4j.Driver, names: list[str], *, timeout: float, database: str | None = None
) -> list[Node]:
    """The entities of every type whose normalised name is one of `names` (the forms of one name, already
    normalised: `pipeline.keys.name_forms`), as centres."""
    rows = read_table(
        driver, ENTITIES_NAMED, {"names": names, "limit": MOST_CENTRES}, timeout=timeout,
        limit=MOST_CENTRES, database=database,
    ).rows  # fmt: skip
    return [Node(row["key"], row["name"], row["type"], centre=True) for row in rows]


def read_neighbourhood(
    driver: neo4j.Driver,
    centres: list[Node],
    *,
    limit: int = 60,
    evidence: int = 3,
    timeout: float,
    database: str | None = None,
) -> Neighbourhood:
    """The `limit` strongest relationships (by count, then confidence) touching `centres`, each with up to
    `evidence` evidence sentences; one more is asked for, so a cut neighbourhood says so."""
    keys = [c.key for c in centres]
    params = {"keys": keys, "limit": limit + 1, "evidence": evidence}
    read = read_table(driver, NEIGHBOURHOOD, params, timeout=timeout, limit=limit, database=database)
    rows = read.rows
    nodes = {c.key: c for c in centres}
    edges = []
    for row in rows:
        for end in ("head", "tail"):
            key = row[f"{end}_key"]
            nodes.setdefault(key, Node(key, row[end], row[f"{end}_type"]))
        sentences = [e for e in row["evidence"] if e.get("sentence") is not None]
        edges.append(
            Edge(
                row["head_key"], row["tail_key"], row["relation"], int(row["count"]),
                float(row["confidence"]), row["model_version"], sentences,
            )
        )  # fmt: skip
    return Neighbourhood(keys, list(nodes.values()), edges, read.truncated)
