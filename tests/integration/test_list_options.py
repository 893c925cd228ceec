"""The list options over real HTTP, on a catalogue shaped like MovieLens (genres lists,
titles, no category) and like Online Retail (a description as text): diversity by the
catalogue's attribute, catalogue data in lists (fields=), reasons naming items by title or
text, real popularity as scores, and warnings for a filter no item can match."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

GENRES = ["Action", "Comedy", "Drama", "Horror"]


def view(user_id: str, item_id: str) -> dict[str, Any]:
    return {"user_id": user_id, "item_id": item_id, "type": "view"}


@pytest.fixture(scope="module", autouse=True)
def world(base_url: str) -> None:
    """Films m0..m19 (m{n}: genres GENRES[n % 4], and GENRES[(n + 1) % 4] for even n; m19
    has no genres); popularity falling by number; a film fan who saw m0 and m1; a shop item
    known by its description only."""
    films = [{"item_id": f"m{n}", "attributes": {
        "title": f"Film {n} (1995)",
        **({} if n == 19 else {"genres": [GENRES[n % 4], *([GENRES[(n + 1) % 4]]
                                                          if n % 2 == 0 else [])]})},
        "text": f"film number {n}"} for n in range(20)]
    shop = [{"item_id": "22633", "text": "HAND WARMER UNION JACK"},
            {"item_id": "22632", "text": "HAND WARMER RED POLKA DOT"}]
    assert httpx.post(f"{base_url}/v1/items", json={"items": films + shop},
                      timeout=30).status_code == 200
    events = [view(f"fan{f}", f"m{n}") for n in range(20) for f in range(20 - n)]
    events += [view("cinephile", "m0"), view("cinephile", "m1")]
    events += [view(f"shopper{n}", item) for n in range(5) for item in ("22633", "22632")]
    events += [view("warm", "22633")]
    response = httpx.post(f"{base_url}/v1/events", json={"events": events}, timeout=30)
    assert response.status_code == 200, response.text


def listed(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_diversity_counts_the_catalogues_attribute_and_still_fills_k(
        client: httpx.Client) -> None:
    """No category here: max_per_category counts genres (a film toward each of its genres),
    and the list is filled to k from further down."""
    for params in ({}, {"diversity_by": "genres"}):
        items = listed(client.get("/v1/popular", params={
            "k": 3, "max_per_category": 1, "fields": "attributes", **params}))
        genres = Counter(g for i in items for g in i["attributes"].get("genres", []))
        assert len(items) == 3 and max(genres.values()) == 1, items
    # six films: m19 has no genres and is held back by no group
    items = listed(client.get("/v1/popular", params={
        "k": 6, "max_per_category": 1, "exclude": ",".join(f"m{n}" for n in range(12))}))
    assert "m19" in [i["item_id"] for i in items]


def test_fields_bring_catalogue_data_into_lists_and_similar_items(
        client: httpx.Client) -> None:
    items = listed(client.get("/v1/users/cinephile/recommendations",
                              params={"k": 3, "fields": "title,attributes,text"}))
    for item in items:
        n = int(item["item_id"][1:])
        assert item["title"] == f"Film {n} (1995)" and item["text"] == f"film number {n}"
        assert "genres" in item["attributes"]
    similar = listed(client.get("/v1/items/m0/similar", params={"k": 2, "fields": "text"}))
    assert similar and all(set(i) == {"item_id", "score", "reasons", "text"} for i in similar)
    plain = listed(client.get("/v1/users/cinephile/recommendations", params={"k": 3}))
    assert all(set(i) == {"item_id", "score", "reasons"} for i in plain)
    bad = client.get("/v1/popular", params={"fields": "title,price"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "fields"


def test_reasons_name_items_by_title_or_text(client: httpx.Client) -> None:
    reasons = [r for i in listed(client.get("/v1/users/warm/recommendations",
                                            params={"k": 3})) for r in i["reasons"]]
    assert "similar to HAND WARMER UNION JACK (22633), which you engaged with" in reasons
    similar = listed(client.get("/v1/items/22633/similar", params={"k": 1}))
    assert "HAND WARMER UNION JACK (22633)" in similar[0]["reasons"][0]


def test_popular_scores_are_the_decayed_popularity(client: httpx.Client) -> None:
    """m0 was viewed by 20 fans and m1 by 19 (and the cinephile each): the scores keep that
    ratio, not 1, 0.5, 0.25, ..."""
    items = listed(client.get("/v1/popular", params={"k": 3}))
    assert [i["item_id"] for i in items] == ["m0", "m1", "m2"]
    scores = [i["score"] for i in items]
    assert scores[1] / scores[0] == pytest.approx(20 / 21, rel=1e-3)
    assert scores[2] / scores[0] == pytest.approx(18 / 21, rel=1e-3)
    cold = listed(client.get("/v1/users/stranger/recommendations", params={"k": 3}))
    assert [i["score"] for i in cold] == scores  # an unknown user gets the same


def test_a_filter_no_item_can_match_is_named_in_warnings(client: httpx.Client) -> None:
    response = client.get("/v1/users/cinephile/recommendations",
                          params={"k": 3, "filter": "colour=red"})
    assert response.status_code == 200 and response.json()["items"] == []
    warnings = response.json()["warnings"]
    assert len(warnings) == 1 and "'colour'" in warnings[0]
    fine = client.get("/v1/users/cinephile/recommendations",
                      params={"k": 3, "filter": "genres=Drama"})
    assert fine.json()["warnings"] == [] and listed(fine)
