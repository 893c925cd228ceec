"""Every id the API accepts can be reached again by every route that takes it: a property
over an id alphabet that holds URL syntax ('/', '%', '?', '#', '.'), spaces, control
characters, separators and non-ASCII text. An id is either refused where it comes in, with a
4xx naming the field (and nothing stored), or its list, export and erasure all find it.

Over real HTTP, one server per test shared by its examples (Starlette's httpx.Client decodes a
path twice, so it cannot tell '%21' from '!').
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from streamrec.events.validation import id_problem

pytestmark = pytest.mark.integration

# URL syntax, dot segments, spaces, controls (NUL, DEL, C1), separators, non-ASCII
ALPHABET = list("ab/%?#&=+.;:@ \\~'\"<>") + ["\x00", "\x1f", "\x7f", "\x85", "\u2028",
                                              "\u2029", "é", "中", "🙂", "\ufffd", "\u200b"]
ids = st.text(st.sampled_from(ALPHABET) | st.characters(codec="utf-8"), min_size=1,
              max_size=12) | st.sampled_from(["a/b", "a%2Fb", ".", "..", "a/..", "/", "x/",
                                              "x/similar", "a/recommendations", "a/export",
                                              "a/merge", "%FF", "a b"])


@pytest.fixture
def client(start_server: Any) -> Iterator[httpx.Client]:
    server = start_server()
    with httpx.Client(base_url=server.url, timeout=30.0) as http:
        yield http


def path(identifier: str) -> str:
    """Percent-encoded whole, dots too: a client would drop a '.' or '..' path segment."""
    return quote(identifier, safe="").replace(".", "%2E")


def refused_with_the_rule(response: httpx.Response, identifier: str, field: str) -> bool:
    """True if ``response`` refused ``identifier``; then it must be the id rule's refusal."""
    if response.status_code == 200:
        assert id_problem(identifier) is None, f"{identifier!r} accepted against the rule"
        return False
    assert response.status_code == 422, response.text
    assert id_problem(identifier) is not None, f"{identifier!r} refused: {response.text}"
    # a path holding a control character is refused before routing: the field is the path
    assert response.json()["error"]["field"] in (field, "path") or \
        field in response.json()["error"]["field"], response.text
    return True


@hypothesis_settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(identifier=ids)
def test_every_accepted_user_id_is_listed_exported_and_erased(client: httpx.Client,
                                                              identifier: str) -> None:
    posted = client.post("/v1/events", json={"events": [
        {"user_id": identifier, "item_id": "seen", "type": "view"}]})
    if refused_with_the_rule(posted, identifier, "user_id"):
        return
    url = f"/v1/users/{path(identifier)}"
    listed = client.get(f"{url}/recommendations")
    assert listed.status_code == 200, listed.text
    exported = client.get(f"{url}/export")
    assert exported.status_code == 200, exported.text
    assert exported.json()["user_id"] == identifier
    assert [e["item_id"] for e in exported.json()["events"]] == ["seen"]
    erased = client.delete(url)
    assert erased.status_code == 200, erased.text
    assert erased.json() == {"erased_events": 1}
    assert client.get(f"{url}/export").json()["events"] == []


@hypothesis_settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(identifier=ids)
def test_every_accepted_session_id_is_listed_merged_exported_and_erased(
    client: httpx.Client, identifier: str,
) -> None:
    posted = client.post("/v1/events", json={"events": [
        {"session_id": identifier, "item_id": "seen", "type": "view"}]})
    if refused_with_the_rule(posted, identifier, "session_id"):
        return
    url = f"/v1/sessions/{path(identifier)}"
    assert client.get(f"{url}/recommendations").status_code == 200
    exported = client.get(f"{url}/export")
    assert exported.status_code == 200, exported.text
    assert [e["item_id"] for e in exported.json()["events"]] == ["seen"]
    merged = client.post(f"{url}/merge", json={"user_id": "owner"})
    assert merged.status_code == 200, merged.text
    erased = client.delete(url)
    assert erased.status_code == 200, erased.text
    assert erased.json()["erased_events"] >= 1


@hypothesis_settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(identifier=ids)
def test_every_accepted_item_id_is_read_and_found_similar(client: httpx.Client,
                                                          identifier: str) -> None:
    put = client.put(f"/v1/items/{path(identifier)}", json={"attributes": {"c": 1}})
    if put.status_code != 200:
        refused_with_the_rule(put, identifier, "item_id")
        # the same id in an event body, and in a list's exclude, is refused the same way
        posted = client.post("/v1/events", json={"events": [
            {"user_id": "u", "item_id": identifier, "type": "view"}]})
        refused_with_the_rule(posted, identifier, "item_id")
        return
    assert put.json()["item_id"] == identifier
    read = client.get(f"/v1/items/{path(identifier)}")
    assert read.status_code == 200 and read.json()["item_id"] == identifier, read.text
    assert client.get(f"/v1/items/{path(identifier)}/similar").status_code == 200
    posted = client.post("/v1/events", json={"events": [
        {"user_id": "u", "item_id": identifier, "type": "view"}]})
    assert posted.status_code == 200, posted.text
