"""Anonymous sessions and negative events over real HTTP: a session's recommendations from
its first event, the merge into a user when they log in, erasure, and refusing bad input
(a 4xx naming the field, nothing stored, the server still serving)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from streamrec.trust.pseudonyms import SESSION_PREFIX, pseudonymise

pytestmark = pytest.mark.integration

REQUEST_TIMEOUT_S = 30.0
SECRET = "pepper-for-sessions"


def view(item_id: str, **subject: str) -> dict[str, Any]:
    return {**subject, "item_id": item_id, "type": "view"}


@pytest.fixture(scope="module", autouse=True)
def world(base_url: str) -> None:
    """Groups a1-a4 and b1-b4 engaged with together, and a hit many view on its own."""
    events = [view(f"{group}{item}", user_id=f"u{group}{n}")
              for group in "ab" for n in range(4) for item in range(1, 5)]
    events += [view("pop", user_id=f"fan{n}") for n in range(30)]
    response = httpx.post(f"{base_url}/v1/events", json={"events": events}, timeout=30)
    assert response.status_code == 200, response.text


def post(client: httpx.Client, *events: dict[str, Any]) -> httpx.Response:
    return client.post("/v1/events", json={"events": list(events)})


def listed(response: httpx.Response) -> tuple[list[str], list[list[str]]]:
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    return [i["item_id"] for i in items], [i["reasons"] for i in items]


def for_session(client: httpx.Client, session_id: str, **params: Any) -> list[str]:
    return listed(client.get(f"/v1/sessions/{session_id}/recommendations",
                             params={"k": 20, **params}))[0]


def for_user(client: httpx.Client, user_id: str, **params: Any) -> list[str]:
    return listed(client.get(f"/v1/users/{user_id}/recommendations",
                             params={"k": 20, **params}))[0]


def merge(client: httpx.Client, session_id: str, user_id: str) -> httpx.Response:
    return client.post(f"/v1/sessions/{session_id}/merge", json={"user_id": user_id})


def events_stored(client: httpx.Client) -> int:
    count: int = client.get("/v1/stats").json()["events"]
    return count


# -- the flow ----------------------------------------------------------------------------------

def test_a_session_is_served_from_its_first_event_and_merged_when_the_visitor_logs_in(
    client: httpx.Client,
) -> None:
    assert for_session(client, "visit-1")[0] == "pop"  # nothing known yet
    assert post(client, view("a1", session_id="visit-1")).status_code == 200
    items, reasons = listed(client.get("/v1/sessions/visit-1/recommendations",
                                       params={"k": 5}))
    assert set(items[:3]) == {"a2", "a3", "a4"} and "a1" not in items
    assert reasons[0] == ["similar to a1, which you engaged with"]

    assert post(client, view("b1", user_id="alice")).status_code == 200
    assert "a1" in for_user(client, "alice")  # the session is not hers yet
    merged = merge(client, "visit-1", "alice")
    assert merged.status_code == 200, merged.text
    assert merged.json()["merged"] is True
    assert merged.json()["last_offset"] == client.get("/v1/stats").json()["log_offset"]
    shown = for_user(client, "alice")
    assert "a1" not in shown and "b1" not in shown  # what the session saw is left out
    assert {"a2", "a3", "a4"} <= set(shown[:6])  # and drives her list at once
    assert for_session(client, "visit-1") == shown  # the session now is alice
    assert post(client, view("a2", session_id="visit-1")).status_code == 200
    assert "a2" not in for_user(client, "alice")  # its later events are hers

    again = merge(client, "visit-1", "alice")
    assert again.status_code == 200 and again.json()["merged"] is False
    before = events_stored(client)
    taken = merge(client, "visit-1", "bob")
    assert taken.status_code == 409, taken.text
    assert taken.json()["error"]["code"] == "conflict"
    assert taken.json()["error"]["field"] == "session_id"
    assert events_stored(client) == before


def test_a_dislike_pushes_the_item_and_its_neighbours_down_and_says_why(
    client: httpx.Client,
) -> None:
    assert post(client, view("a1", user_id="dan"), view("b1", user_id="dan")).status_code == 200
    before = for_user(client, "dan")
    response = post(client, {"user_id": "dan", "item_id": "b1", "type": "dislike"})
    assert response.status_code == 200, response.text
    items, reasons = listed(client.get("/v1/users/dan/recommendations", params={"k": 20}))
    for item in ("b2", "b3", "b4"):
        assert items.index(item) > before.index(item)
        assert "ranked lower: like b1, which you turned down" in reasons[items.index(item)]
    assert "b1" not in for_user(client, "dan", exclude_seen="false")


def test_the_schema_documents_sessions(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert {"/v1/sessions/{session_id}/recommendations", "/v1/sessions/{session_id}/merge",
            "/v1/sessions/{session_id}", "/v1/sessions/{session_id}/export"} <= paths.keys()
    assert "409" in paths["/v1/sessions/{session_id}/merge"]["post"]["responses"]
    event = schema["components"]["schemas"]["EventIn"]
    assert event["oneOf"] == [{"required": ["user_id"]}, {"required": ["session_id"]}]
    assert "merge" in event["properties"]["session_id"]["description"]
    assert "user_id" not in event.get("required", [])


# -- refusals ------------------------------------------------------------------------------

def assert_refused(client: httpx.Client, response: httpx.Response, field: str,
                   events_before: int, status: int = 422) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error.keys() == {"code", "message", "field"} and error["message"]
    assert error["field"] == field, error
    assert events_stored(client) == events_before  # nothing of it was stored
    assert client.get("/healthz").json() == {"status": "ok"}


BAD_EVENTS = [
    pytest.param({"item_id": "i", "type": "view"}, "events[1].user_id", id="neither id"),
    pytest.param({"user_id": "u", "session_id": "s", "item_id": "i", "type": "view"},
                 "events[1].session_id", id="both ids"),
    pytest.param({"session_id": "", "item_id": "i", "type": "view"}, "events[1].session_id",
                 id="empty session_id"),
    pytest.param({"session_id": "  ", "item_id": "i", "type": "view"},
                 "events[1].session_id", id="blank session_id"),
    pytest.param({"session_id": "a\x02b", "item_id": "i", "type": "view"},
                 "events[1].session_id", id="control character in session_id"),
    pytest.param({"session_id": 7, "item_id": "i", "type": "view"}, "events[1].session_id",
                 id="session_id a number"),
    pytest.param({"session_id": "s" * 257, "item_id": "i", "type": "view"},
                 "events[1].session_id", id="session_id too long"),
    pytest.param({"session_id": "s", "item_id": "i", "type": "$merge"}, "events[1].type",
                 id="the engine's own merge type"),
]


@pytest.mark.parametrize(("bad", "field"), BAD_EVENTS)
def test_an_event_needs_exactly_one_good_identifier(
    client: httpx.Client, bad: dict[str, Any], field: str
) -> None:
    before = events_stored(client)
    body = json.dumps({"events": [view("a1", session_id="fine"), bad]})
    response = client.post("/v1/events", content=body,
                           headers={"content-type": "application/json"})
    assert_refused(client, response, field, before)


BAD_MERGES = [
    pytest.param("visit", {}, "user_id", id="no user_id"),
    pytest.param("visit", {"user_id": ""}, "user_id", id="empty user_id"),
    pytest.param("visit", {"user_id": " "}, "user_id", id="blank user_id"),
    pytest.param("visit", {"user_id": 5}, "user_id", id="user_id a number"),
    pytest.param("visit", {"user_id": "u", "extra": 1}, "extra", id="unknown field"),
    pytest.param("a%01b", {"user_id": "u"}, "session_id", id="control character in session"),
    pytest.param("%20", {"user_id": "u"}, "session_id", id="blank session"),
    pytest.param("s" * 257, {"user_id": "u"}, "session_id", id="session too long"),
]


@pytest.mark.parametrize(("session_id", "body", "field"), BAD_MERGES)
def test_a_bad_merge_is_refused_naming_the_field_and_logs_nothing(
    client: httpx.Client, session_id: str, body: dict[str, Any], field: str
) -> None:
    before = events_stored(client)
    response = client.post(f"/v1/sessions/{session_id}/merge", json=body)
    assert_refused(client, response, field, before)


# -- erasure -------------------------------------------------------------------------------

def bytes_under(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in directory.rglob("*") if p.is_file())


@pytest.mark.parametrize("secret", [None, SECRET], ids=["raw-ids", "pseudonyms"])
def test_erasing_a_user_erases_the_sessions_merged_into_them_from_every_file(
    start_server: Any, secret: str | None,
) -> None:
    session, user = "visit-erasable-5d1e", "erin-erasable-0b7c"
    server = start_server(env={"STREAMREC_TRUST__PSEUDONYM_SECRET": secret} if secret else {})
    with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT_S) as client:
        events = [view("shared", user_id="bob"), view("shared", session_id=session),
                  view("only-via-session", session_id=session)]
        events += [view(f"hit{n % 3}", user_id=f"fan{n}") for n in range(12)]
        assert post(client, *events).status_code == 200
        assert merge(client, session, user).status_code == 200
        assert post(client, view("later", session_id=session)).status_code == 200
        assert "only-via-session" in for_user(client, "bob")
        exported = client.get(f"/v1/users/{user}/export").json()
        assert [e["type"] for e in exported["events"]] == ["view", "view", "$merge", "view"]
        before = client.get("/v1/stats").json()

        erased = client.delete(f"/v1/users/{user}")
        assert erased.status_code == 200, erased.text
        assert erased.json() == {"erased_events": 4}
        # three events and the merge left the log; the merge was never counted as an event
        assert client.get("/v1/stats").json()["events"] == before["events"] - 3
        assert "only-via-session" not in for_user(client, "bob")
        assert client.get(f"/v1/sessions/{session}/export").json()["events"] == []
        stored = bytes_under(server.data_dir)
        assert session.encode() not in stored and user.encode() not in stored
        if secret is not None:
            hidden = pseudonymise(secret.encode(), SESSION_PREFIX + session)
            assert hidden.encode() not in stored
            assert b"bob" not in stored  # raw ids never reach storage
        # learning goes on after the rebuild
        assert post(client, view("later", user_id="bob")).status_code == 200
        assert "later" not in for_user(client, "bob")
    server.stop()  # graceful: a final snapshot
    assert session.encode() not in bytes_under(server.data_dir)


def test_an_anonymous_session_can_be_erased_on_its_own(start_server: Any) -> None:
    server = start_server()
    with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT_S) as client:
        assert post(client, view("x", session_id="lone"), view("x", user_id="keep"),
                    view("y", session_id="lone")).status_code == 200
        erased = client.delete("/v1/sessions/lone")
        assert erased.status_code == 200 and erased.json() == {"erased_events": 2}
        assert client.get("/v1/sessions/lone/export").json()["events"] == []
        exported = client.get("/v1/users/keep/export").json()["events"]
        assert [e["item_id"] for e in exported] == ["x"]
        audit = client.get("/v1/admin/audit").json()["entries"]
        actions = [entry["action"] for entry in audit]
        assert actions == ["user.export", "session.export", "session.erase"]  # newest first
        assert audit[2]["target"].startswith("session:") and "lone" not in json.dumps(audit)
