"""Trust over real HTTP: API keys and scopes on every route, erasure, export, the audit log.

Keys are created with the ``streamrec keys`` command in its own process while the server runs:
the server must see them (and revocations) without a restart.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from streamrec.trust.pseudonyms import pseudonymise

pytestmark = pytest.mark.integration

REQUEST_TIMEOUT_S = 30.0

ALICE = "alice-erasable-7f3a"
BOB = "bob-neighbour-91c2"
SECRET = "pepper-for-tests"


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("STREAMREC_")}


def keys_command(data_dir: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "streamrec.cli.main", "keys", *args,
                           "--data-dir", str(data_dir)], env=_environment(),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def create_key(data_dir: Path, *scopes: str) -> str:
    arguments = [part for scope in scopes for part in ("--scope", scope)]
    return keys_command(data_dir, "create", *arguments).strip().splitlines()[-1]


def event(user_id: str, item_id: str) -> dict[str, Any]:
    return {"user_id": user_id, "item_id": item_id, "type": "view"}


# every route but /healthz: (method, path, body, the scope it needs)
ROUTES: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("POST", "/v1/events", {"events": [event("scoped", "i1")]}, "ingest"),
    ("PUT", "/v1/items/i1", {"attributes": {"category": "c"}}, "ingest"),
    ("POST", "/v1/items", {"items": [{"item_id": "i2"}]}, "ingest"),
    ("GET", "/v1/items/i1", None, "read"),
    ("GET", "/v1/items/i1/similar", None, "read"),
    ("GET", "/v1/users/scoped/recommendations", None, "read"),
    ("GET", "/v1/sessions/visit/recommendations", None, "read"),
    ("POST", "/v1/sessions/visit/merge", {"user_id": "scoped"}, "ingest"),
    ("GET", "/v1/stats", None, "read"),
    ("GET", "/v1/experiments", None, "read"),
    ("GET", "/metrics", None, "read"),
    ("GET", "/v1/users/nobody/export", None, "admin"),
    ("DELETE", "/v1/users/nobody", None, "admin"),
    ("GET", "/v1/sessions/nobody/export", None, "admin"),
    ("DELETE", "/v1/sessions/nobody", None, "admin"),
    ("GET", "/v1/admin/audit", None, "admin"),
    ("GET", "/v1/admin/sizes", None, "admin"),
    # what the dashboard reads
    ("GET", "/v1/stats/history", None, "read"),
    ("GET", "/v1/items?q=i1", None, "read"),
    ("GET", "/v1/popular/history?item_id=i1", None, "read"),
    ("GET", "/v1/users/scoped/proposals", None, "read"),
    ("GET", "/v1/evaluations", None, "read"),
    ("GET", "/v1/admin/events", None, "admin"),
]
ROUTE_IDS = [f"{method} {path}" for method, path, _, _ in ROUTES]


class Keyed:
    def __init__(self, server: Any) -> None:  # conftest's ServerProcess
        self.server = server
        self.client = httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT_S)
        self.keys = {scope: create_key(server.data_dir, scope)
                     for scope in ("ingest", "read", "admin")}
        self.revoked = create_key(server.data_dir, "admin")
        newest = keys_command(server.data_dir, "list").splitlines()[-1]  # oldest first
        keys_command(server.data_dir, "revoke", newest.split("\t")[0])

    def call(self, method: str, path: str, body: dict[str, Any] | None,
             key: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        return self.client.request(method, path, json=body, headers=headers)


@pytest.fixture(scope="module")
def keyed(server: Any) -> Iterator[Keyed]:
    assert httpx.post(f"{server.url}/v1/events", json={"events": [event("scoped", "i1")]},
                      timeout=REQUEST_TIMEOUT_S).status_code == 200  # open until a key exists
    keyed = Keyed(server)
    yield keyed
    keyed.client.close()


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


@pytest.mark.parametrize(("method", "path", "body", "scope"), ROUTES, ids=ROUTE_IDS)
def test_without_a_key_every_route_is_401(keyed: Keyed, method: str, path: str,
                                          body: dict[str, Any] | None, scope: str) -> None:
    response = keyed.call(method, path, body, None)
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in response.json()["error"]["message"]


@pytest.mark.parametrize(("method", "path", "body", "scope"), ROUTES, ids=ROUTE_IDS)
def test_a_wrong_or_revoked_key_is_401(keyed: Keyed, method: str, path: str,
                                       body: dict[str, Any] | None, scope: str) -> None:
    assert_error(keyed.call(method, path, body, "srk_not-a-key"), 401, "unauthorized")
    assert_error(keyed.call(method, path, body, keyed.revoked), 401, "unauthorized")
    response = keyed.client.request(method, path, json=body,
                                    headers={"Authorization": f"Basic {keyed.keys[scope]}"})
    assert_error(response, 401, "unauthorized")


@pytest.mark.parametrize(("method", "path", "body", "scope"), ROUTES, ids=ROUTE_IDS)
def test_a_key_without_the_scope_is_403(keyed: Keyed, method: str, path: str,
                                        body: dict[str, Any] | None, scope: str) -> None:
    for other in ("ingest", "read"):
        if other != scope:
            response = keyed.call(method, path, body, keyed.keys[other])
            assert_error(response, 403, "forbidden")
            assert repr(scope) in response.json()["error"]["message"]


@pytest.mark.parametrize(("method", "path", "body", "scope"), ROUTES, ids=ROUTE_IDS)
def test_a_key_with_the_scope_or_admin_is_served(keyed: Keyed, method: str, path: str,
                                                 body: dict[str, Any] | None,
                                                 scope: str) -> None:
    for key in {keyed.keys[scope], keyed.keys["admin"]}:
        response = keyed.call(method, path, body, key)
        assert response.status_code == 200, response.text


def test_healthz_needs_no_key(keyed: Keyed) -> None:
    assert keyed.client.get("/healthz").status_code == 200


def test_key_management_exports_and_erasures_are_audited_without_user_ids(
    keyed: Keyed,
) -> None:
    admin = keyed.keys["admin"]
    assert keyed.call("POST", "/v1/events", {"events": [event(ALICE, "i1")]},
                      admin).status_code == 200
    exported = keyed.call("GET", f"/v1/users/{ALICE}/export", None, admin)
    assert exported.status_code == 200, exported.text
    assert [e["item_id"] for e in exported.json()["events"]] == ["i1"]
    erased = keyed.call("DELETE", f"/v1/users/{ALICE}", None, admin)
    assert erased.json() == {"erased_events": 1}
    audit = keyed.call("GET", "/v1/admin/audit?limit=1000", None, admin)
    entries = audit.json()["entries"]
    actions = [e["action"] for e in entries]
    assert {"key.create", "key.revoke", "user.export", "user.erase"} <= set(actions)
    assert actions.index("user.erase") < actions.index("user.export")  # newest first
    erase = entries[actions.index("user.erase")]
    assert erase["details"] == {"erased_events": 1}
    assert erase["target"].startswith("user:") and ALICE not in audit.text
    assert len(keyed.call("GET", "/v1/admin/audit?limit=2", None, admin).json()["entries"]) == 2


def test_serve_refuses_a_public_address_without_keys(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "streamrec.cli.main", "serve", "--data-dir",
                           str(tmp_path / "data"), "--host", "0.0.0.0", "--port", "0"],
                          env=_environment(), capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode != 0
    assert "refusing to serve on 0.0.0.0 without API keys" in done.stderr


# -- erasure ---------------------------------------------------------------------------------

def bytes_under(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in directory.rglob("*") if p.is_file())


def item_ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["item_id"] for item in response.json()["items"]]


@pytest.mark.parametrize("secret", [None, SECRET], ids=["raw-ids", "pseudonyms"])
def test_an_erased_user_is_gone_from_every_file_stats_and_recommendations(
    start_server: Any, secret: str | None,
) -> None:
    server = start_server(env={"STREAMREC_TRUST__PSEUDONYM_SECRET": secret} if secret else {})
    with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT_S) as client:
        # "only-via-alice" is reachable from "shared" (which Bob has) through Alice alone
        events = [event(ALICE, "shared"), event(ALICE, "only-via-alice"), event(BOB, "shared")]
        events += [event(f"fan{n}", f"hit{n % 3}") for n in range(12)]
        assert client.post("/v1/events", json={"events": events}).status_code == 200
        assert "only-via-alice" in item_ids(client.get(f"/v1/users/{BOB}/recommendations",
                                                       params={"k": 50}))
        before = client.get("/v1/stats").json()

        erased = client.delete(f"/v1/users/{ALICE}")
        assert erased.status_code == 200, erased.text
        assert erased.json() == {"erased_events": 2}

        after = client.get("/v1/stats").json()
        assert after["events"] == before["events"] - 2
        assert after["users"] == before["users"] - 1
        recommended = item_ids(client.get(f"/v1/users/{BOB}/recommendations",
                                          params={"k": 50}))
        assert recommended and "only-via-alice" not in recommended
        assert client.get(f"/v1/users/{ALICE}/export").json()["events"] == []
        stored = bytes_under(server.data_dir)
        assert ALICE.encode() not in stored
        if secret is not None:
            assert pseudonymise(secret.encode(), ALICE).encode() not in stored
            assert BOB.encode() not in stored  # raw ids never reach storage
        # learning goes on after the rebuild
        assert client.post("/v1/events", json={"events": [event(BOB, "later")]}
                           ).status_code == 200
        history = client.get(f"/v1/users/{BOB}/export").json()["history"]
        assert [h["item_id"] for h in history] == ["shared", "later"]
    server.stop()  # graceful: a final snapshot
    assert ALICE.encode() not in bytes_under(server.data_dir)
    server.start()  # restored from the post-erasure snapshot
    with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT_S) as client:
        assert "only-via-alice" not in item_ids(
            client.get(f"/v1/users/{BOB}/recommendations", params={"k": 50}))
