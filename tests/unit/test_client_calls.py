"""The client's request rules that need no server: the consistency token a write answers with
is sent on reads (no streamrec server issues one yet, so an httpx MockTransport plays that
server), Retry-After in both its forms, event ids given once, batches."""

from __future__ import annotations

import email.utils
import json
import time

import httpx
from hypothesis import given
from hypothesis import strategies as st
from streamrec_client import Client
from streamrec_client.calls import batches, ensure_event_ids, retry_after_s


def test_the_last_token_a_write_answers_with_goes_with_reads() -> None:
    seen: list[str | None] = []
    tokens = iter(["t1", "t2"])

    def server(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, json={"accepted": 1, "duplicates": 0, "last_offset": 1,
                                             "token": next(tokens)})
        seen.append(request.headers.get("x-consistency-token"))
        return httpx.Response(200, json={"items": [], "recommendation_id": "r"})

    with Client("http://streamrec.test", transport=httpx.MockTransport(server)) as client:
        client.recommendations("u")
        event = {"user_id": "u", "item_id": "i", "type": "view"}
        client.send_events([event])
        client.recommendations("u")
        client.send_events([event])
        client.popular()
    assert seen == [None, "t1", "t2"]


def test_the_api_key_is_sent_as_a_bearer_token() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer k3y"
        return httpx.Response(200, json={"upserted": len(json.loads(request.content)["items"])})

    with Client("http://streamrec.test", api_key="k3y",
                transport=httpx.MockTransport(server)) as client:
        assert client.upsert_items([{"item_id": "i"}]) == 1


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_s(httpx.Response(429, headers={"Retry-After": "3"})) == 3.0
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    seconds = retry_after_s(httpx.Response(503, headers={"Retry-After": later}))
    assert seconds is not None and 25 < seconds <= 30
    assert retry_after_s(httpx.Response(503)) is None
    assert retry_after_s(httpx.Response(503, headers={"Retry-After": "soon"})) is None


@given(st.lists(st.one_of(st.none(), st.text(min_size=1, max_size=5)), max_size=30),
       st.integers(1, 7))
def test_every_event_gets_one_id_and_batches_keep_order(ids: list[str | None],
                                                        size: int) -> None:
    events = [{"item_id": str(n), **({"event_id": i} if i else {})} for n, i in enumerate(ids)]
    given_ids = ensure_event_ids(events)
    assert all(e["event_id"] for e in given_ids)
    assert [e["event_id"] for e in given_ids if e["item_id"] in
            {str(n) for n, i in enumerate(ids) if i}] == [i for i in ids if i]
    assert len({e["event_id"] for e, i in zip(given_ids, ids, strict=True) if not i}) == \
        sum(1 for i in ids if not i)
    chunks = list(batches(given_ids, size))
    assert all(1 <= len(c) <= size for c in chunks)
    assert [e for c in chunks for e in c] == given_ids
