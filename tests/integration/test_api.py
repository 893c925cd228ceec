"""The HTTP API over a real server process: shapes, idempotency, and refusing bad input.

Every refusal must be a 4xx with one body shape, ``{"error": {"code", "message", "field"}}``,
store nothing, and leave the server serving.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from streamrec.events.types import default_event_types

pytestmark = pytest.mark.integration

T0 = 1_700_000_000.0
SMALLEST = {"user_id": "u", "item_id": "i", "type": "view"}  # a valid event


def make_event(user_id: str, item_id: str, type: str = "view", **fields: Any) -> dict[str, Any]:
    return {"user_id": user_id, "item_id": item_id, "type": type, **fields}


@pytest.fixture(scope="module", autouse=True)
def world(base_url: str) -> None:
    """Groups a1-a4 and b1-b4 engaged with together, and a hit item many view on its own."""
    events = [make_event(f"u{group}{n}", f"{group}{item}")
              for group in "ab" for n in range(4) for item in range(1, 5)]
    # other tests add a few events of their own: the hit stays far ahead
    events += [make_event(f"fan{n}", "pop") for n in range(30)]
    response = httpx.post(f"{base_url}/v1/events", json={"events": events}, timeout=30)
    assert response.status_code == 200, response.text


def stats(client: httpx.Client) -> dict[str, Any]:
    response = client.get("/v1/stats")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def post(client: httpx.Client, *events: dict[str, Any]) -> httpx.Response:
    return client.post("/v1/events", json={"events": list(events)})


# -- shapes ----------------------------------------------------------------------------------

def test_posting_events_answers_accepted_duplicates_and_last_offset(
    client: httpx.Client,
) -> None:
    response = post(client, make_event("shape1", "a1"), make_event("shape1", "a2"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.keys() == {"accepted", "duplicates", "last_offset", "token"}
    assert (body["accepted"], body["duplicates"]) == (2, 0)
    assert body["last_offset"] == stats(client)["log_offset"]
    assert isinstance(body["token"], str)


def test_a_repeated_event_id_is_stored_once_over_http(client: httpx.Client) -> None:
    before = stats(client)["events"]
    first = post(client, make_event("idem", "a1", event_id="idem-1"),
                 make_event("idem", "a1", event_id="idem-1"))
    again = post(client, make_event("idem", "a1", event_id="idem-1"))
    assert first.status_code == again.status_code == 200
    assert (first.json()["accepted"], first.json()["duplicates"]) == (1, 1)
    assert again.json() == {"accepted": 0, "duplicates": 1,
                            "last_offset": first.json()["last_offset"],
                            "token": first.json()["token"]}
    assert stats(client)["events"] == before + 1


def test_items_are_created_changed_and_read_back(client: httpx.Client) -> None:
    put = client.put("/v1/items/book-1", json={"attributes": {"category": "books", "price": 12.5},
                                               "text": "A novel", "available": True})
    assert put.status_code == 200, put.text
    expected = {"item_id": "book-1", "attributes": {"category": "books", "price": 12.5},
                "text": "A novel", "available": True}
    assert put.json() == expected
    assert client.get("/v1/items/book-1").json() == expected
    partial = client.put("/v1/items/book-1", json={"available": False})
    assert partial.json() == {**expected, "available": False}  # fields left out are kept
    many = client.post("/v1/items", json={"items": [
        {"item_id": "book-2", "text": "Two"}, {"item_id": "book-3", "available": False}]})
    assert many.status_code == 200 and many.json() == {"upserted": 2}
    assert client.get("/v1/items/book-2").json() == {
        "item_id": "book-2", "attributes": {}, "text": "Two", "available": True}
    assert client.get("/v1/items/book-3").json()["available"] is False
    assert stats(client)["catalogue_items"] >= 3


def test_an_item_only_seen_in_events_exists_and_an_unknown_one_is_404(
    client: httpx.Client,
) -> None:
    assert client.get("/v1/items/pop").json()["item_id"] == "pop"
    missing = client.get("/v1/items/never-heard-of")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_recommendations_have_k_items_with_scores_reasons_and_an_id(
    client: httpx.Client,
) -> None:
    seen = {"a1", "a2"}
    assert post(client, *(make_event("reader", item) for item in sorted(seen))).status_code == 200
    response = client.get("/v1/users/reader/recommendations", params={"k": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.keys() == {"items", "recommendation_id", "warnings"} and body["warnings"] == []
    assert isinstance(body["recommendation_id"], str) and body["recommendation_id"]
    assert len(body["items"]) == 5
    for item in body["items"]:
        assert item.keys() == {"item_id", "score", "reasons"}
        assert isinstance(item["score"], float)
        assert item["reasons"] and all(isinstance(r, str) and r for r in item["reasons"])
    ids = [item["item_id"] for item in body["items"]]
    assert len(set(ids)) == 5 and not seen & set(ids)
    assert set(ids[:2]) == {"a3", "a4"}  # what the reader's group engages with comes first
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)
    other = client.get("/v1/users/reader/recommendations", params={"k": 5}).json()
    assert other["recommendation_id"] != body["recommendation_id"]


def test_an_unknown_user_gets_popular_items(client: httpx.Client) -> None:
    body = client.get("/v1/users/stranger/recommendations", params={"k": 3}).json()
    assert body["items"][0]["item_id"] == "pop"
    assert all("popular" in item["reasons"][0] for item in body["items"])


def test_popular_now_globally_and_per_category(client: httpx.Client) -> None:
    """Per attribute value: a category's most popular items by the same decayed counts, with
    the category in the reason; paging continues the list."""
    items = [{"item_id": f"hat{n}", "attributes": {"category": "hats"}} for n in range(4)]
    assert client.post("/v1/items", json={"items": items}).status_code == 200
    # hat3 taken by 3 users, hat1 by 2, hat0 by 1, hat2 by nobody
    assert post(client, *[make_event(f"hatter{n}", f"hat{i}")
                          for i, n in ((3, 0), (3, 1), (3, 2), (1, 0), (1, 1), (0, 0))]
                ).status_code == 200
    everywhere = client.get("/v1/popular", params={"k": 3}).json()
    assert everywhere["items"][0]["item_id"] == "pop"
    hats = client.get("/v1/popular", params={"k": 2, "filter": "category=hats"})
    assert hats.status_code == 200, hats.text
    assert [i["item_id"] for i in hats.json()["items"]] == ["hat3", "hat1"]
    assert all(i["reasons"] == ["popular now in hats"] for i in hats.json()["items"])
    page2 = client.get("/v1/popular", params={"k": 2, "filter": "category=hats",
                                              "after": hats.json()["recommendation_id"]})
    assert [i["item_id"] for i in page2.json()["items"]][:1] == ["hat0"]
    bad = client.get("/v1/popular", params={"filter": "category"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "filter[0]"


def test_similar_items(client: httpx.Client) -> None:
    response = client.get("/v1/items/b1/similar", params={"k": 10})
    assert response.status_code == 200, response.text
    ids = [item["item_id"] for item in response.json()["items"]]
    assert sorted(ids) == ["b2", "b3", "b4"]
    assert client.get("/v1/items/never-heard-of/similar").status_code == 404


def test_stats_count_events_users_and_items(client: httpx.Client) -> None:
    before = stats(client)
    post(client, make_event("counted-user", "counted-item-1"),
         make_event("counted-user", "counted-item-2"))
    after = stats(client)
    assert after["events"] == before["events"] + 2
    assert after["users"] == before["users"] + 1
    assert after["items"] == before["items"] + 2
    # acknowledged means learned (learned_events also counts the engine's own entries, such
    # as the $items events of this module's catalogue upserts)
    assert after["learn_lag_events"] == 0
    assert after["learned_events"] == before["learned_events"] + 2


def test_healthz(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_metrics_are_prometheus_text(client: httpx.Client) -> None:
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert any(line.startswith("streamrec_http_requests_total{") and 'route="/healthz"' in line
               for line in lines)
    assert "# TYPE streamrec_events_learned_total counter" in lines
    learned = [line for line in lines if line.startswith("streamrec_events_learned_total ")]
    assert learned and float(learned[0].split()[-1]) == stats(client)["learned_events"]


def test_stats_and_metrics_show_what_the_engine_measured_on_its_stream(
        client: httpx.Client) -> None:
    """Every event of a user with history, for an item new to them, tests each expert and the
    blend before it is learned (docs/ranking.md); /v1/stats and /metrics show the figures."""
    before = stats(client)["online_quality"]["blend"]["measured"]
    for user in range(6):
        for item in ("t1", "t2", "t3"):
            assert post(client, {"user_id": f"tester{user}", "item_id": item,
                                 "type": "view"}).status_code == 200
    online = stats(client)["online_quality"]
    # the 2nd and 3rd item of each user: all of them while the ranker is new, then a sample
    assert 0 < online["blend"]["measured"] - before <= 12
    assert {"cooccurrence", "popularity_all", "ranker", "blend"} <= online.keys()
    assert abs(sum(figures.get("weight", 0.0) for figures in online.values()) - 1.0) < 1e-5
    lines = client.get("/metrics").text.splitlines()
    blend = [line for line in lines if line.startswith('streamrec_online_hit_rate{expert="blend"}')]
    assert blend and float(blend[0].split()[-1]) == online["blend"]["hr"]
    assert any(line.startswith('streamrec_blend_weight{expert="ranker"}') for line in lines)


def test_openapi_and_docs_are_served(client: httpx.Client) -> None:
    schema = client.get("/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/v1/events", "/v1/users/{user_id}/recommendations", "/v1/stats"} <= paths.keys()
    docs = client.get("/docs")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]


# -- refusals ----------------------------------------------------------------------------------

def assert_refused(client: httpx.Client, response: httpx.Response, status: int, field: str,
                   events_before: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body.keys() == {"error"}
    error = body["error"]
    assert error.keys() == {"code", "message", "field"}
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert error["field"] == field, error
    assert stats(client)["events"] == events_before  # nothing of it was stored
    assert client.get("/healthz").json() == {"status": "ok"}  # and the server still serves
    detail: dict[str, Any] = error
    return detail


def body_with(**changes: Any) -> bytes:
    """One event made invalid by ``changes`` (``None`` removes a field)."""
    changed = {**SMALLEST, **changes}
    return json.dumps({"events": [{k: v for k, v in changed.items() if v is not None}]}).encode()


BAD_BODIES = [
    pytest.param(b'{"events": [', 400, "body", id="malformed JSON"),
    pytest.param(b"[1, 2]", 422, "body", id="not an object"),
    pytest.param(b"{}", 422, "events", id="no events"),
    pytest.param(b'{"events": []}', 422, "events", id="empty events"),
    pytest.param(body_with(user_id=None), 422, "events[0].user_id", id="missing user_id"),
    pytest.param(body_with(user_id=17), 422, "events[0].user_id", id="user_id a number"),
    pytest.param(body_with(item_id=["i"]), 422, "events[0].item_id", id="item_id a list"),
    pytest.param(body_with(type="rating", value="5"), 422, "events[0].value",
                 id="value a string"),
    pytest.param(body_with(value=True), 422, "events[0].value", id="value a boolean"),
    pytest.param(b'{"events": [{"user_id": "u", "item_id": "i", "type": "rating", '
                 b'"value": NaN}]}', 422, "events[0].value", id="value NaN"),
    pytest.param(b'{"events": [{"user_id": "u", "item_id": "i", "type": "rating", '
                 b'"value": Infinity}]}', 422, "events[0].value", id="value Infinity"),
    pytest.param(b'{"events": [{"user_id": "u", "item_id": "i", "type": "rating", '
                 b'"value": -Infinity}]}', 422, "events[0].value", id="value -Infinity"),
    pytest.param(b'{"events": [{"user_id": "u", "item_id": "i", "type": "view", '
                 b'"timestamp": NaN}]}', 422, "events[0].timestamp", id="timestamp NaN"),
    pytest.param(body_with(timestamp=T0 * 1000), 422, "events[0].timestamp",
                 id="timestamp in milliseconds"),
    pytest.param(body_with(timestamp="2024-05-01T10:00:00"), 422, "events[0].timestamp",
                 id="timestamp without a time zone"),
    pytest.param(body_with(timestamp="yesterday"), 422, "events[0].timestamp",
                 id="timestamp not a time"),
    pytest.param(body_with(type="teleport"), 422, "events[0].type", id="unknown type"),
    pytest.param(body_with(type="rating"), 422, "events[0].value", id="rating without value"),
    pytest.param(body_with(user_id=""), 422, "events[0].user_id", id="empty user_id"),
    pytest.param(body_with(user_id="   "), 422, "events[0].user_id", id="blank user_id"),
    pytest.param(body_with(item_id=""), 422, "events[0].item_id", id="empty item_id"),
    pytest.param(body_with(event_id=""), 422, "events[0].event_id", id="empty event_id"),
    pytest.param(body_with(type=""), 422, "events[0].type", id="empty type"),
    pytest.param(body_with(user_id="a\x01b"), 422, "events[0].user_id",
                 id="control character in user_id"),
    pytest.param(body_with(item_id="i" * 257), 422, "events[0].item_id", id="item_id too long"),
    pytest.param(body_with(colour="red"), 422, "events[0].colour", id="unknown field"),
    pytest.param(json.dumps({"events": [*([SMALLEST] * 49), {**SMALLEST, "type": "teleport"}]})
                 .encode(), 422, "events[49].type", id="only the last of 50 events bad"),
]


@pytest.mark.parametrize(("body", "status", "field"), BAD_BODIES)
def test_a_bad_event_body_is_refused_and_nothing_is_stored(
    client: httpx.Client, body: bytes, status: int, field: str
) -> None:
    before = stats(client)["events"]
    response = client.post("/v1/events", content=body,
                           headers={"content-type": "application/json"})
    assert_refused(client, response, status, field, before)


@pytest.mark.parametrize("k", [0, -1, 100_000])
def test_a_k_out_of_range_is_refused(client: httpx.Client, k: int) -> None:
    response = client.get("/v1/users/ua0/recommendations", params={"k": k})
    assert_refused(client, response, 422, "k", stats(client)["events"])


def test_a_k_that_is_not_a_number_is_refused(client: httpx.Client) -> None:
    response = client.get("/v1/users/ua0/recommendations", params={"k": "ten"})
    assert_refused(client, response, 422, "k", stats(client)["events"])


def test_a_10_mb_body_is_refused_as_too_large(client: httpx.Client) -> None:
    before = stats(client)["events"]
    filler = [make_event(f"big{n}", "x" * 200) for n in range(40_000)]
    body = json.dumps({"events": filler}).encode()
    assert len(body) > 10_000_000
    response = client.post("/v1/events", content=body,
                           headers={"content-type": "application/json"})
    assert_refused(client, response, 413, "body", before)


def test_a_chunked_body_without_length_is_cut_off_at_the_limit(client: httpx.Client) -> None:
    before = stats(client)["events"]
    piece = json.dumps(make_event("chunked", "x" * 200)).encode() + b","

    def chunks() -> Iterator[bytes]:
        yield b'{"events": ['
        for _ in range(200):  # ~10 MB in 50 kB chunks
            yield piece * 200
        yield json.dumps(SMALLEST).encode() + b"]}"

    response = client.post("/v1/events", content=chunks(),
                           headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_refused(client, response, 413, "body", before)


def test_a_bad_item_body_is_refused(client: httpx.Client) -> None:
    before = stats(client)["events"]
    response = client.put("/v1/items/book-9", json={"available": "yes"})
    assert_refused(client, response, 422, "available", before)
    response = client.post("/v1/items", json={"items": [{"item_id": ""}]})
    assert_refused(client, response, 422, "items[0].item_id", before)


# -- generated payloads ------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats()
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=6,
)
ids = st.text(max_size=8) | json_values
event_types = st.sampled_from(sorted(default_event_types())) | json_values
events_ish = st.fixed_dictionaries({}, optional={
    "user_id": ids, "item_id": ids, "type": event_types, "value": json_values,
    "timestamp": json_values | st.floats(0, 7e9), "event_id": ids, "context": json_values,
    "extra": json_values,
}) | json_values
bodies = st.fixed_dictionaries({"events": st.lists(events_ish, max_size=3)}) | json_values


@settings(max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_any_json_body_is_stored_or_refused_never_a_server_error(
    client: httpx.Client, body: Any
) -> None:
    text = json.dumps(body)  # NaN and Infinity are written as bare words, as some clients do
    note(text)
    before = stats(client)["events"]
    response = client.post("/v1/events", content=text,
                           headers={"content-type": "application/json"})
    assert response.status_code < 500, response.text
    if response.status_code == 200:
        stored = response.json()
        assert stats(client)["events"] == before + stored["accepted"]
    else:
        assert 400 <= response.status_code < 500
        assert response.json()["error"].keys() == {"code", "message", "field"}
        assert stats(client)["events"] == before


printable_ids = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF,
                                      exclude_categories=("Cs", "Cc")), min_size=1, max_size=16)
valid_events = st.builds(
    lambda user_id, item_id, type_, value, timestamp: {
        "user_id": user_id, "item_id": item_id, "type": type_,
        **({"value": value} if type_ == "rating" or value > 3 else {}),
        **({} if timestamp is None else {"timestamp": timestamp}),
    },
    printable_ids, printable_ids, st.sampled_from(sorted(default_event_types())),
    st.floats(1, 5), st.none() | st.floats(T0 - 1e8, T0) | st.just("2024-05-01T10:00:00Z"),
)
unique_ids = itertools.count()


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(valid_events, min_size=1, max_size=5))
def test_valid_events_are_stored_exactly_once(
    client: httpx.Client, events: list[dict[str, Any]]
) -> None:
    for sent in events:
        sent["event_id"] = f"generated-{next(unique_ids)}"
    note(json.dumps(events))
    before = stats(client)["events"]
    first = post(client, *events)
    assert first.status_code == 200, first.text
    assert (first.json()["accepted"], first.json()["duplicates"]) == (len(events), 0)
    again = post(client, *events)
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, len(events))
    assert stats(client)["events"] == before + len(events)


# -- limits that need a server of their own ---------------------------------------------------

def test_100k_events_in_one_request_are_refused_whatever_the_body_limit(
    start_server: Any, connect: Any
) -> None:
    server = start_server(env={"STREAMREC_SERVING__MAX_BODY_BYTES": "50000000"})
    api = connect(server)
    events = [make_event(f"flood{n % 100}", f"i{n % 1000}") for n in range(100_000)]
    body = json.dumps({"events": events}).encode()
    assert 4_000_000 < len(body) < 50_000_000  # over the default body limit, under this one
    response = api.client.post("/v1/events", content=body,
                               headers={"content-type": "application/json"})
    assert_refused(api.client, response, 413, "events", 0)


# -- input the log cannot store: refused or stored, but never a hang --------------------------

WEDGE_TIMEOUT_S = 10.0  # far above what one small request takes; reached only by a hang


@pytest.mark.parametrize("raw", [
    pytest.param(b'{"events": [{"user_id": "\\ud800", "item_id": "i", "type": "view"}]}',
                 id="lone surrogate in user_id"),
    pytest.param(b'{"events": [{"user_id": "u", "item_id": "i", "type": "view", '
                 b'"context": {"note": "\\ud800"}}]}', id="lone surrogate in context"),
    pytest.param(b'{"events": [{"user_id": "u", "item_id": "i", "type": "view", '
                 b'"context": {"n": 100000000000000000000000}}]}',
                 id="context integer beyond 64 bits"),
    pytest.param(b'{"events": [{"user_id": "u", "item_id": "i", "type": "view", "context": '
                 + b'{"a": [' * 300 + b"1" + b"]}" * 300 + b"}]}",
                 id="context nested 300 deep"),
])
def test_an_event_the_log_cannot_encode_does_not_wedge_the_server(
    start_server: Any, raw: bytes
) -> None:
    server = start_server()
    with httpx.Client(base_url=server.url, timeout=WEDGE_TIMEOUT_S) as client:
        try:
            response = client.post("/v1/events", content=raw,
                                   headers={"content-type": "application/json"})
        except httpx.TimeoutException:
            server.kill()  # no graceful stop: the stuck request would hold it up
            pytest.fail(f"no answer within {WEDGE_TIMEOUT_S} s: the event log is wedged")
        assert response.status_code < 500, response.text
        if response.status_code != 200:
            assert response.json()["error"].keys() == {"code", "message", "field"}
        try:
            after = post(client, make_event("u", "i2"))
        except httpx.TimeoutException:
            server.kill()
            pytest.fail("the next, valid request got no answer: the event log is wedged")
        assert after.status_code == 200, after.text
