"""Slow and idle clients cannot hold connections: a connection that sends nothing, sends its
request head slowly, or stops sending its body is closed once serving.client_timeout_s has
passed (set short here), while prompt clients are served and nothing of a cut-off request is
stored. The test waits for the server to close each socket; it does not time it."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.integration

SHORT = {"STREAMREC_SERVING__CLIENT_TIMEOUT_S": "1"}
GIVE_UP_S = 60.0  # only so a broken server cannot hang the test


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=GIVE_UP_S)


def _closed_by_server(client: socket.socket) -> bool:
    """Read until the server closes the connection (True) or GIVE_UP_S passes (False)."""
    try:
        while client.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


@pytest.fixture
def server(start_server: Any) -> Iterator[Any]:
    yield start_server(env=SHORT)


@pytest.mark.parametrize("sent", [
    b"",                                                        # idle: nothing at all
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n",                    # the head, unfinished
    b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 200\r\n\r\n{\"events\": [{\"user_id\": \"slow\", ",  # body, unfinished
], ids=["idle", "slow head", "slow body"])
def test_a_client_that_does_not_send_its_request_is_disconnected(
        server: Any, connect: Callable[[Any], Any], sent: bytes) -> None:
    with _connect(server.url) as client:
        client.sendall(sent)
        assert _closed_by_server(client)
    api = connect(server)
    assert api.client.get("/healthz").status_code == 200
    assert api.stats()["users"] == 0  # the cut-off request stored nothing


def test_prompt_requests_on_a_kept_alive_connection_are_served(server: Any) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=GIVE_UP_S)
    try:
        for _ in range(3):
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            assert (response.status, response.read()) == (200, b'{"status":"ok"}')
    finally:
        connection.close()


def test_beyond_max_connections_requests_answer_503(start_server: Any) -> None:
    server = start_server(env={"STREAMREC_SERVING__MAX_CONNECTIONS": "3"})
    host, port = server.url.removeprefix("http://").split(":")
    held = [_connect(server.url) for _ in range(2)]
    connection = http.client.HTTPConnection(host, int(port), timeout=GIVE_UP_S)
    try:
        connection.request("GET", "/healthz")
        assert connection.getresponse().status == 503
    finally:
        connection.close()
        for client in held:
            client.close()
