"""The Python client (clients/python, found through pytest's ``pythonpath``) against a real
server process: every call it offers, sync and async, and retries that never store an event
twice."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from streamrec_client import AsyncClient, Client, RetryPolicy, StreamrecError

pytestmark = pytest.mark.integration

FAST_RETRY = RetryPolicy(attempts=4, backoff_s=0.05, max_backoff_s=2.0)


def group_events(prefix: str, users: int = 4) -> list[dict[str, Any]]:
    """Users who each view items a1-a3 (so those are similar) and one of them c1."""
    events = [{"user_id": f"{prefix}u{n}", "item_id": f"{prefix}a{i}", "type": "view"}
              for n in range(users) for i in range(1, 4)]
    return [*events, {"user_id": f"{prefix}u0", "item_id": f"{prefix}c1", "type": "view"}]


@pytest.fixture
def sdk(base_url: str) -> Iterator[Client]:
    with Client(base_url, retry=FAST_RETRY) as client:
        yield client


def test_send_then_recommend_similar_and_popular(sdk: Client) -> None:
    before = sdk.stats().events
    appended = sdk.send_events(group_events("s-"))
    assert (appended.accepted, appended.duplicates) == (13, 0)
    assert sdk.stats().events == before + 13
    listed = sdk.recommendations("s-u1", k=5, fields=["title"])
    assert "s-c1" in listed.item_ids and "s-a1" not in listed.item_ids  # seen left out
    assert all(isinstance(item.score, float) and item.reasons for item in listed.items)
    kept = sdk.recommendations("s-u1", k=10, exclude_seen=False, exclude=["s-c1"])
    assert "s-a1" in kept.item_ids and "s-c1" not in kept.item_ids
    assert {"s-a2", "s-a3"} <= set(sdk.similar("s-a1", k=5).item_ids)
    assert sdk.popular(k=3).items


def test_paging_with_after_continues_the_list(sdk: Client) -> None:
    sdk.send_events(group_events("p-", users=2))
    sdk.send_events([{"user_id": "p-new", "item_id": f"p-x{n}", "type": "view"}
                     for n in range(8)] + [{"user_id": "p-u0", "item_id": f"p-x{n}",
                                            "type": "view"} for n in range(8)])
    first = sdk.recommendations("p-u1", k=3)
    second = sdk.recommendations("p-u1", k=3, after=first.recommendation_id)
    assert len(first.items) == 3 and second.items
    assert not set(first.item_ids) & set(second.item_ids)
    whole = sdk.recommendations("p-u1", k=6)
    assert first.item_ids + second.item_ids == whole.item_ids[:len(first.items) +
                                                              len(second.items)]


def test_items_sessions_export_and_erase(sdk: Client) -> None:
    assert sdk.upsert_items([{"item_id": "it-1", "attributes": {"title": "Hat"}}]) == 1
    changed = sdk.put_item("it/2", text="a scarf", attributes={"category": "scarves"})
    assert (changed.item_id, changed.text, changed.available) == ("it/2", "a scarf", True)
    assert sdk.get_item("it-1").attributes == {"title": "Hat"}
    sdk.send_events([{"session_id": "visit-1", "item_id": "it-1", "type": "view"},
                     {"user_id": "gone-user", "item_id": "it/2", "type": "view"}])
    assert sdk.session_recommendations("visit-1", k=3).recommendation_id
    assert sdk.merge_session("visit-1", "gone-user").merged
    exported = sdk.export_user("gone-user")
    assert len(exported["events"]) >= 2
    assert sdk.erase_user("gone-user") >= 2
    assert sdk.export_user("gone-user")["events"] == []


def test_a_refused_request_names_the_field(sdk: Client) -> None:
    with pytest.raises(StreamrecError) as refused:
        sdk.send_events([{"user_id": "u", "item_id": "i", "type": "view", "value": "x"}])
    assert refused.value.status == 422 and "value" in (refused.value.field or "")
    with pytest.raises(StreamrecError) as missing:
        sdk.get_item("never-heard-of")
    assert missing.value.status == 404


def test_async_client_does_the_same(base_url: str) -> None:
    async def scenario() -> tuple[int, list[str], list[str], int]:
        async with AsyncClient(base_url, retry=FAST_RETRY) as client:
            appended = await client.send_events(group_events("as-"))
            listed = await client.recommendations("as-u1", k=5)
            similar = await client.similar("as-a1", k=5)
            stats = await client.stats()
            return appended.accepted, listed.item_ids, similar.item_ids, stats.events

    accepted, listed, similar, events = asyncio.run(scenario())
    assert accepted == 13 and "as-c1" in listed
    assert {"as-a2", "as-a3"} <= set(similar) and events >= 13


def refused_as_too_big(url: str) -> float:
    """How many POST /v1/events the server answered 413, from its own /metrics."""
    text = httpx.get(f"{url}/metrics", timeout=30.0).text
    return sum(sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples
               if sample.name == "streamrec_http_requests_total"
               and sample.labels.get("route") == "/v1/events"
               and sample.labels.get("status") == "413")


def test_events_go_in_batches_of_at_most_max_batch(start_server: Any) -> None:
    server = start_server(env={"STREAMREC_SERVING__MAX_BATCH": "3",
                               "STREAMREC_SERVING__MAX_BODY_BYTES": "2048"})
    events = group_events("b-", users=3)  # 10 events: batches of 3, 3, 3, 1
    with Client(server.url, max_batch=3) as client:
        assert client.send_events(events).accepted == 10
    assert refused_as_too_big(server.url) == 0
    # a client that does not know the server's limit: each 413 (nothing stored) is halved
    with Client(server.url) as client:
        assert client.send_events(group_events("h-", users=3)).accepted == 10
        assert client.stats().events == 20
    assert refused_as_too_big(server.url) > 0
    # one event over the body limit cannot be split: it is refused, not retried forever
    big = {"user_id": "u", "item_id": "i", "type": "view", "context": {"note": "x" * 3000}}
    with Client(server.url) as client, pytest.raises(StreamrecError) as refused:
        client.send_events([big])
    assert refused.value.status == 413


class DroppingProxy:
    """A loopback TCP proxy to ``upstream`` that, for its first ``drops`` connections,
    forwards the request, waits for the server's answer, and closes the connection without
    passing it on: the server did the work, the client saw the connection fail."""

    def __init__(self, upstream_port: int, drops: int) -> None:
        self.upstream_port = upstream_port
        self.drops = drops
        self.dropped = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.threads: list[threading.Thread] = []
        self._start(self._accept)

    def _start(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            if self.dropped < self.drops:
                self.dropped += 1
                self._start(self._drop, downstream, upstream)
            else:
                self._start(self._pipe, downstream, upstream)
                self._start(self._pipe, upstream, downstream)

    @staticmethod
    def _drop(downstream: socket.socket, upstream: socket.socket) -> None:
        with downstream, upstream:
            request = b""
            while b"\r\n\r\n" not in request:
                request += downstream.recv(1 << 16)
            head, _, body = request.partition(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            while len(body) < length:
                body += downstream.recv(1 << 16)
            upstream.sendall(head + b"\r\n\r\n" + body)
            upstream.recv(1 << 16)  # the answer has begun: the request was handled

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(1 << 16):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                end.close()

    def close(self) -> None:
        self.listener.close()


def test_a_retry_after_a_dropped_connection_stores_each_event_once(
        server: Any) -> None:
    proxy = DroppingProxy(server.port, drops=1)
    events = [{"user_id": "retry-user", "item_id": f"retry-{n}", "type": "view"}
              for n in range(5)]
    with Client(server.url) as direct:
        before = direct.stats().events
        try:
            with Client(f"http://127.0.0.1:{proxy.port}", retry=FAST_RETRY) as client:
                appended = client.send_events(events)
        finally:
            proxy.close()
        after = direct.stats().events
    assert proxy.dropped == 1
    # the first try was stored; the retry re-sent the same ids and stored nothing new
    assert (appended.accepted, appended.duplicates) == (0, 5)
    assert after == before + 5
    assert all("event_id" not in e for e in events)  # the caller's dicts are left alone


def test_a_429_is_retried_after_the_servers_retry_after(start_server: Any) -> None:
    # one request a second per caller and scope: the second write answers 429 with
    # Retry-After: 1, longer than this policy's own backoff would ever wait (0.35 s in all)
    server = start_server(env={"STREAMREC_SERVING__RATE_LIMIT_BY_SCOPE__INGEST__PER_SECOND": "1",
                               "STREAMREC_SERVING__RATE_LIMIT_BY_SCOPE__INGEST__BURST": "1"})
    with Client(server.url, retry=FAST_RETRY) as client:
        for n in range(3):
            client.send_events([{"user_id": "limited", "item_id": f"l{n}", "type": "view"}])
        assert client.stats().events == 3


def test_the_async_client_retries_with_the_same_ids_too(server: Any) -> None:
    proxy = DroppingProxy(server.port, drops=1)
    events = [{"user_id": "aretry-user", "item_id": f"aretry-{n}", "type": "view"}
              for n in range(4)]

    async def send() -> tuple[int, int]:
        async with AsyncClient(f"http://127.0.0.1:{proxy.port}", retry=FAST_RETRY) as client:
            appended = await client.send_events(events)
            return appended.accepted, appended.duplicates

    with Client(server.url) as direct:
        before = direct.stats().events
        try:
            assert asyncio.run(send()) == (0, 4)
        finally:
            proxy.close()
        assert direct.stats().events == before + 4
    assert proxy.dropped == 1
