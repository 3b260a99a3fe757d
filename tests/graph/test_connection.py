"""A NEO4J_URI whose port another program answers (an HTTP port, a web server) fails in one line that says so,
within the connect timeout, not after the driver's minute-long wait for a handshake."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from graph.connection import check
from graph.process import HOST
from graph.settings import Neo4jSettings
from nrskg.errors import GraphError


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel queues them) and never says a word, like a web server
    waiting for the end of a request line."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((HOST, 0))
        listener.listen(8)
        yield listener.getsockname()[1]


@pytest.fixture
def http_port() -> Iterator[int]:
    """A port that answers whatever it is sent with an HTTP error, like Neo4j's own HTTP port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((HOST, 0))
    listener.listen(8)

    def answer() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # closed: the test is over
                return
            with connection:
                connection.recv(64)
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


@pytest.mark.parametrize("scheme", ["bolt", "neo4j"])
def test_a_port_that_never_answers_the_handshake_is_not_bolt(silent_port: int, scheme: str) -> None:
    uri = f"{scheme}://{HOST}:{silent_port}"
    with pytest.raises(GraphError) as caught:
        check(Neo4jSettings(uri=uri, connect_timeout_s=1))
    assert str(caught.value) == (
        f"Neo4j at {uri} does not speak Bolt (no answer to Bolt's handshake) while connecting. Set NEO4J_URI "
        "to the Bolt port of a Neo4j server (`nrskg neo4j status` prints the local one's URI)"
    )


@pytest.mark.parametrize("scheme", ["bolt", "neo4j"])
def test_an_http_port_is_named_as_such(http_port: int, scheme: str) -> None:
    uri = f"{scheme}://{HOST}:{http_port}"
    with pytest.raises(GraphError, match=rf"^Neo4j at {uri} does not speak Bolt \(it answers HTTP\) while"):
        check(Neo4jSettings(uri=uri, connect_timeout_s=1))
