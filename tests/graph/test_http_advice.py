"""What `nrskg neo4j start --http-port` and the demo say about Browser on a server found running."""

from __future__ import annotations

from pathlib import Path

from graph import process, server


def running(http_port: int | None) -> process.ServerInfo:
    return process.ServerInfo(
        uri="bolt://127.0.0.1:7687", pid=1, data_dir=Path("/d"), port=7687, http_port=http_port, auth=False,
        log_file=Path("/d/log"), version="5.26",
    )  # fmt: skip


def test_a_server_without_http_says_how_to_get_browser() -> None:
    advice = server.http_advice(running(None), 7474)
    assert "without HTTP" in advice and "nrskg neo4j stop && nrskg neo4j start --http-port 7474" in advice


def test_http_on_another_port_points_at_its_browser_and_the_same_port_needs_no_advice() -> None:
    assert "http://127.0.0.1:8080/browser/" in server.http_advice(running(8080), 7474)
    assert server.http_advice(running(7474), 7474) is None
