"""Paging and feedback over real HTTP: a next page continues the list that was shown, an
unknown ``after`` is a 404 naming it, and an erasure forgets only the erased user's lists
(everyone else's pages and feedback go on). Stats count clients' events only."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration



def view(user_id: str, item_id: str, **fields: Any) -> dict[str, Any]:
    return {"user_id": user_id, "item_id": item_id, "type": "view", **fields}


@pytest.fixture(scope="module", autouse=True)
def world(base_url: str) -> None:
    """30 items with popularity falling by number, and a few readers with histories."""
    items = [{"item_id": f"p{n}", "attributes": {"category": f"c{n % 3}"}} for n in range(30)]
    assert httpx.post(f"{base_url}/v1/items", json={"items": items},
                      timeout=30).status_code == 200
    events = [view(f"fan{f}", f"p{n}") for n in range(30) for f in range(30 - n)]
    events += [view(reader, f"p{n}") for reader in ("bob", "carol", "dave") for n in (0, 5)]
    response = httpx.post(f"{base_url}/v1/events", json={"events": events}, timeout=30)
    assert response.status_code == 200, response.text


def page(client: httpx.Client, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [item["item_id"] for item in body["items"]]


@pytest.mark.parametrize("path", ["/v1/users/bob/recommendations",
                                  "/v1/sessions/s-paging/recommendations", "/v1/popular"])
def test_the_next_page_continues_the_list_that_was_shown(client: httpx.Client,
                                                         path: str) -> None:
    whole = page(client, path, k=10)
    first = page(client, path, k=5)
    second = page(client, path, k=5, after=first["recommendation_id"])
    third = page(client, path, k=3, after=second["recommendation_id"])
    assert ids(first) + ids(second) == ids(whole)
    scores = [i["score"] for b in (first, second, third) for i in b["items"]]
    assert scores == sorted(scores, reverse=True) and len(set(ids(third))) == 3
    assert not set(ids(third)) & set(ids(whole))


@pytest.mark.parametrize("path", ["/v1/users/bob/recommendations",
                                  "/v1/sessions/s-paging/recommendations", "/v1/popular"])
def test_an_unknown_after_is_a_404_naming_it(client: httpx.Client, path: str) -> None:
    response = client.get(path, params={"k": 5, "after": "no-such-list"})
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert error["field"] == "after" and "no-such-list" in error["message"]


def test_options_given_with_after_are_said_not_to_apply(client: httpx.Client) -> None:
    first = page(client, "/v1/popular", k=3, filter="category=c0")
    second = page(client, "/v1/popular", k=3, after=first["recommendation_id"],
                  filter="category=c1")
    assert second["warnings"] and "after" in second["warnings"][0]
    assert page(client, "/v1/popular", k=3, after=first["recommendation_id"])["warnings"] == []


def test_another_users_list_cannot_be_paged(client: httpx.Client) -> None:
    carols = page(client, "/v1/users/carol/recommendations", k=3)
    response = client.get("/v1/users/bob/recommendations",
                          params={"k": 3, "after": carols["recommendation_id"]})
    assert response.status_code == 404 and response.json()["error"]["field"] == "after"


def test_an_erasure_leaves_other_users_paging_and_feedback_working(
        client: httpx.Client) -> None:
    bobs = page(client, "/v1/users/bob/recommendations", k=4)
    carols = page(client, "/v1/users/carol/recommendations", k=4)
    daves = page(client, "/v1/users/dave/recommendations", k=4)

    erased = client.delete("/v1/users/dave")
    assert erased.status_code == 200, erased.text

    second = page(client, "/v1/users/bob/recommendations", k=4,
                  after=bobs["recommendation_id"])
    assert len(ids(second)) == 4 and not set(ids(second)) & set(ids(bobs))
    taken = ids(carols)[1]
    feedback = client.post("/v1/events", json={"events": [view(
        "carol", taken, type="click", context={"recommendation_id": carols["recommendation_id"]})]})
    assert feedback.status_code == 200, feedback.text
    logged = client.get("/v1/users/carol/export").json()["events"][-1]
    assert logged["item_id"] == taken and logged["context"]["$shown"] == ids(carols)
    # the erased user's lists are forgotten with them
    gone = client.get("/v1/users/dave/recommendations",
                      params={"after": daves["recommendation_id"]})
    assert gone.status_code == 404 and gone.json()["error"]["field"] == "after"


def test_stats_count_clients_events_not_the_engines_own(client: httpx.Client) -> None:
    before = page(client, "/v1/stats")
    assert client.post("/v1/events", json={"events": [
        {"session_id": "s-counted", "item_id": "p1", "type": "view"}]}).status_code == 200
    merged = client.post("/v1/sessions/s-counted/merge", json={"user_id": "counted"})
    assert merged.status_code == 200 and merged.json()["merged"] is True
    after = page(client, "/v1/stats")
    assert after["events"] == before["events"] + 1  # the merge is in the log, not an event
    assert after["log_offset"] == before["log_offset"] + 2
