"""An entity's neighbourhood read from the graph: the nodes and relationships `nrskg view` draws.

Reads go through `graph.read` (a READ transaction with a timeout), so drawing can never write. Names arrive
normalised (the caller uses `pipeline.keys`, as the pipeline does when it writes keys).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import neo4j

from graph import queries
from graph.read import run_read

MOST_CENTRES = 20


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


def entities_named(
    driver: neo4j.Driver, name: str, *, timeout: float, database: str | None = None
) -> list[Node]:
    """The entities of every type whose normalised name is `name` (already normalised), as centres."""
    rows = run_read(
        driver, queries.ENTITIES_NAMED, {"name": name, "limit": MOST_CENTRES}, timeout=timeout,
        limit=MOST_CENTRES, database=database,
    )  # fmt: skip
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
    `evidence` evidence sentences."""
    keys = [c.key for c in centres]
    params = {"keys": keys, "limit": limit, "evidence": evidence}
    rows = run_read(driver, queries.NEIGHBOURHOOD, params, timeout=timeout, limit=limit, database=database)
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
    return Neighbourhood(keys, list(nodes.values()), edges)
