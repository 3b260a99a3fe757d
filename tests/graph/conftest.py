"""Fixtures of the graph tests that write through `graph.writer`."""

from __future__ import annotations

import neo4j
import pytest

from graph.schema import ensure_schema
from graph.settings import Neo4jSettings


@pytest.fixture
def graph(clean_graph: neo4j.Driver, neo4j_settings: Neo4jSettings) -> tuple[neo4j.Driver, str]:
    """An empty database with the constraints and indexes a load creates: the driver and its name."""
    ensure_schema(clean_graph, neo4j_settings.database)
    return clean_graph, neo4j_settings.database
