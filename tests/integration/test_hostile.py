"""A hostile client against a real server: the server never answers 5xx, refuses with a 4xx
naming what is wrong, keeps closed what keys closed, and never starts silently on damaged
data. Each test here began as a hole a probe found (issue 14)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from streamrec.events.validation import id_problem
from streamrec.trust.pseudonyms import pseudonymise

pytestmark = pytest.mark.integration

TIMEOUT_S = 30.0

# URL syntax, dot segments, controls (NUL, DEL, C1), separators, non-ASCII, and route words
HOSTILE_IDS = ["a/b", "a%2Fb", "/", "x/", "//", ".", "..", "a/..", "a b", " ", "?q=1", "#f",
               "a\x00b", "a\x7fb", "a\x85b", "a\u2028b", "a\u2029b", "\ufffd", "é中🙂",
               "a/recommendations", "a/export", "a/merge", "x/similar", "a\nb", "x" * 257]


def environment(**settings: str) -> dict[str, str]:
    """This environment without the caller's STREAMREC_ settings, plus ``settings``."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("STREAMREC_")},
            **settings}


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streamrec.cli.main", *args],
                          env=env or environment(), capture_output=True, text=True,
                          timeout=120, check=False)


def create_key(data_dir: Any, scope: str) -> tuple[str, str]:
    """(key id, key) of a new key, made by the CLI in its own process."""
    done = cli("keys", "create", "--scope", scope, "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip().splitlines()[-1]
    key_id = done.stderr.split("created key ")[1].split()[0]
    return key_id, key


@pytest.fixture
def http(start_server: Any) -> Iterator[tuple[Any, httpx.Client]]:
    server = start_server()
    with httpx.Client(base_url=server.url, timeout=TIMEOUT_S) as client:
        yield server, client


def encoded(identifier: str) -> str:
    return quote(identifier, safe="").replace(".", "%2E")


# -- keys ------------------------------------------------------------------------------------

def test_revoking_every_key_keeps_the_server_closed_until_access_is_opened_explicitly(
    http: tuple[Any, httpx.Client],
) -> None:
    server, client = http
    assert client.get("/v1/stats").status_code == 200  # never had a key: open on loopback
    ids = [create_key(server.data_dir, scope)[0] for scope in ("admin", "read")]
    for key_id in ids:
        done = cli("keys", "revoke", key_id, "--data-dir", str(server.data_dir))
        assert done.returncode == 0, done.stderr
    # no restart: every key revoked means nobody gets in, not everybody
    assert client.get("/v1/stats").status_code == 401
    posted = client.post("/v1/events", json={"events": [
        {"user_id": "u", "item_id": "i", "type": "view"}]})
    assert posted.status_code == 401
    assert client.get("/openapi.json").status_code == 401
    opened = cli("keys", "open-access", "--data-dir", str(server.data_dir))
    assert opened.returncode == 0, opened.stderr
    assert client.get("/v1/stats").status_code == 200
    _, key = create_key(server.data_dir, "admin")  # a new key closes it again
    assert client.get("/v1/stats").status_code == 401
    audit = client.get("/v1/admin/audit", headers={"Authorization": f"Bearer {key}"})
    assert "keys.open-access" in [e["action"] for e in audit.json()["entries"]]


def test_open_access_is_refused_while_a_key_is_active(http: tuple[Any, httpx.Client]) -> None:
    server, client = http
    key_id, _ = create_key(server.data_dir, "read")
    done = cli("keys", "open-access", "--data-dir", str(server.data_dir))
    assert done.returncode == 2 and key_id in done.stderr and "Traceback" not in done.stderr
    assert client.get("/v1/stats").status_code == 401


def test_the_api_description_needs_a_key_once_keys_exist(
    http: tuple[Any, httpx.Client],
) -> None:
    server, client = http
    assert client.get("/openapi.json").status_code == 200
    _, key = create_key(server.data_dir, "read")
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers={"Authorization": f"Bearer {key}"}).status_code == 200


# -- ids -------------------------------------------------------------------------------------

ID_ROUTES = [
    ("GET", "/v1/users/{}/recommendations"), ("GET", "/v1/users/{}/export"),
    ("DELETE", "/v1/users/{}"), ("GET", "/v1/sessions/{}/recommendations"),
    ("POST", "/v1/sessions/{}/merge"), ("GET", "/v1/sessions/{}/export"),
    ("DELETE", "/v1/sessions/{}"), ("PUT", "/v1/items/{}"), ("GET", "/v1/items/{}"),
    ("GET", "/v1/items/{}/similar"),
]


def test_every_id_route_takes_or_refuses_each_hostile_id_by_the_one_rule(
    http: tuple[Any, httpx.Client],
) -> None:
    _, client = http
    for identifier in HOSTILE_IDS:
        refused = id_problem(identifier) is not None
        for method, template in ID_ROUTES:
            body = {"user_id": "owner"} if template.endswith("merge") else \
                {"attributes": {}} if method == "PUT" else None
            response = client.request(method, template.format(encoded(identifier)), json=body)
            label = f"{method} {template} {identifier!r}: {response.text}"
            assert response.status_code < 500, label
            if refused and identifier.endswith("/similar") and (method, template) == (
                    "GET", "/v1/items/{}"):
                # read as the similar-items route of 'x': why such ids are refused
                assert response.status_code == 404, label
            elif refused:
                assert response.status_code in (400, 422), label
            else:
                assert response.status_code in (200, 404), label  # 404: an unknown item
        for name in ("exclude", "after"):
            response = client.get("/v1/users/u/recommendations", params={name: identifier})
            assert response.status_code < 500, response.text
            if refused:
                assert response.status_code == 422, response.text
            elif name == "exclude":
                assert response.status_code == 200, response.text


def test_a_path_that_is_not_utf8_is_refused_not_turned_into_a_replacement_character(
    http: tuple[Any, httpx.Client],
) -> None:
    _, client = http
    for method, template in ID_ROUTES:
        response = client.request(method, template.format("a%FFb"), json=None)
        assert response.status_code == 400, f"{method} {template}: {response.text}"
        assert "UTF-8" in response.json()["error"]["message"]
    assert client.get("/v1/items/a\ufffdb").status_code == 404  # nothing was created
    response = client.get("/v1/users/u/recommendations?exclude=%FF")
    assert response.status_code == 400 and "UTF-8" in response.text


# -- bodies ----------------------------------------------------------------------------------

def nested(depth: int) -> Any:
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"n": value}
    return value


HOSTILE_VALUES = {"huge integer": 10**30, "nested 300 deep": nested(300), "NaN": float("nan"),
                  "Infinity": float("inf"), "-Infinity": float("-inf")}


def bodies_with(value: Any) -> list[tuple[str, str, dict[str, Any], str]]:
    """(method, path, body, field named) with ``value`` in every JSON field of every body."""
    event = {"user_id": "u", "item_id": "i", "type": "view"}
    cases = [("POST", "/v1/events", {"events": [{**event, name: value}]}, f"events[0].{name}")
             for name in ("user_id", "item_id", "type", "value", "timestamp", "event_id",
                          "session_id")]
    cases.append(("POST", "/v1/events", {"events": [{**event, "context": {"p": value}}]},
                  "events[0].context"))
    for fields, prefix in (({}, ""), ({"item_id": "x"}, "items[0].")):
        for name, body_value in (("attributes", {"p": value}), ("text", value),
                                 ("available", value)):
            body = {**fields, name: body_value}
            if prefix:
                cases.append(("POST", "/v1/items", {"items": [body]}, f"{prefix}{name}"))
            else:
                cases.append(("PUT", "/v1/items/x", body, name))
    cases.append(("POST", "/v1/items", {"items": [{"item_id": value}]}, "items[0].item_id"))
    cases.append(("POST", "/v1/sessions/s/merge", {"user_id": value}, "user_id"))
    return cases


@pytest.mark.parametrize("kind", list(HOSTILE_VALUES))
def test_oversized_numbers_depths_and_non_finite_numbers_in_every_field_are_refused_by_name(
    http: tuple[Any, httpx.Client], kind: str,
) -> None:
    _, client = http
    before = client.get("/v1/stats").json()
    for method, path, body, field in bodies_with(HOSTILE_VALUES[kind]):
        content = json.dumps(body)  # NaN and Infinity as Python's json writes them
        response = client.request(method, path, content=content,
                                  headers={"content-type": "application/json"})
        label = f"{kind} in {field} ({method} {path}): {response.text}"
        assert response.status_code in (400, 422), label
        assert response.json()["error"]["field"].startswith(field), label
    after = client.get("/v1/stats").json()
    assert (after["events"], after["catalogue_items"]) == (before["events"],
                                                           before["catalogue_items"])


def test_a_duplicate_key_deep_nesting_and_a_compressed_body_are_refused_saying_why(
    http: tuple[Any, httpx.Client],
) -> None:
    _, client = http
    json_type = {"content-type": "application/json"}
    duplicate = b'{"events": [{"user_id": "u", "item_id": "i", "item_id": "j", "type": "view"}]}'
    response = client.post("/v1/events", content=duplicate, headers=json_type)
    assert response.status_code == 422 and "'item_id' appears twice" in response.text
    response = client.put("/v1/items/x", content=b'{"attributes": {"a": 1, "a": 2}}',
                          headers=json_type)
    assert response.status_code == 422 and "'a' appears twice" in response.text
    deep = b'{"events": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = client.post("/v1/events", content=deep, headers=json_type)
    assert response.status_code in (400, 422) and "nested too deeply" in response.text
    packed = gzip.compress(b'{"events": [{"user_id": "u", "item_id": "i", "type": "view"}]}')
    response = client.post("/v1/events", content=packed,
                           headers={**json_type, "content-encoding": "gzip"})
    assert response.status_code == 415 and "gzip" in response.json()["error"]["message"]
    assert client.get("/v1/stats").json()["events"] == 0


# -- damaged files ---------------------------------------------------------------------------

def fill(client: httpx.Client, users: int = 40, per_user: int = 40) -> None:
    """Enough events that the log spans many pages (a damaged middle is not its header)."""
    events = [{"user_id": f"u{u}", "item_id": f"i{(u * 7 + n) % 90}", "type": "view",
               "context": {"page": "x" * 60}} for u in range(users) for n in range(per_user)]
    assert client.post("/v1/events", json={"events": events}).status_code == 200


def flip_middle(path: Any, size: int = 4096) -> None:
    data = bytearray(path.read_bytes())
    start = (len(data) // 2) // 4096 * 4096
    data[start:start + size] = bytes((b ^ 0x5A) for b in data[start:start + size])
    path.write_bytes(bytes(data))


def start_fails(server: Any, status: int = 1) -> str:
    with pytest.raises(RuntimeError, match=f"exited with {status}") as failed:
        server.start()
    return str(failed.value)


def test_a_damaged_log_or_key_file_stops_the_start_naming_the_file(
    http: tuple[Any, httpx.Client],
) -> None:
    server, client = http
    fill(client)
    server.stop()  # a final snapshot covers every event: only a check can notice
    events_db = server.data_dir / "events.db"
    intact = events_db.read_bytes()
    flip_middle(events_db)
    said = start_fails(server)
    assert str(events_db) in said and "damaged" in said and "Traceback" not in said
    events_db.write_bytes(intact)
    keys_db = server.data_dir / "keys.db"
    keys_db.write_bytes(b"garbage" * 1000)
    said = start_fails(server)
    assert str(keys_db) in said and "not a SQLite database" in said
    done = cli("check", "--data-dir", str(server.data_dir))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"DAMAGED {keys_db}" in done.stdout and f"ok      {events_db}" in done.stdout


def test_an_erasure_checks_the_log_before_it_destroys_anything(
    http: tuple[Any, httpx.Client],
) -> None:
    server, client = http
    fill(client)
    client.post("/v1/events", json={"events": [{"user_id": "u7", "item_id": "i1",
                                                "type": "view"}]})
    server.stop()
    server.start()  # restored from its snapshot
    snapshots = sorted(p.name for p in (server.data_dir / "snapshots").iterdir())
    events_db = server.data_dir / "events.db"
    flip_middle(events_db)  # under the running server
    with httpx.Client(base_url=server.url, timeout=TIMEOUT_S) as fresh:
        response = fresh.delete("/v1/users/u7")
        assert response.status_code == 503, response.text
        assert str(events_db) in response.json()["error"]["message"]
        assert sorted(p.name for p in (server.data_dir / "snapshots").iterdir()) == snapshots


def test_a_damaged_newest_snapshot_is_skipped_naming_it_and_the_server_serves_the_same(
    http: tuple[Any, httpx.Client],
) -> None:
    server, client = http
    fill(client, users=10, per_user=10)
    server.stop()
    server.start()
    with httpx.Client(base_url=server.url, timeout=TIMEOUT_S) as again:
        again.post("/v1/events", json={"events": [{"user_id": "u1", "item_id": "new",
                                                   "type": "view"}]})
        expected = again.get("/v1/users/u1/recommendations").json()["items"]
    server.stop()
    newest = sorted((server.data_dir / "snapshots").glob("snapshot-*"))[-1]
    (newest / "histories.json").write_bytes(b"{\"truncated")
    server.start()
    with httpx.Client(base_url=server.url, timeout=TIMEOUT_S) as restarted:
        assert restarted.get("/v1/users/u1/recommendations").json()["items"] == expected
    warnings = [line for line in server.output().splitlines() if "is damaged" in line]
    assert len(warnings) == 1 and str(newest / "histories.json") in warnings[0]
    assert "pickle" not in server.output()


# -- the pseudonym secret --------------------------------------------------------------------

SECRET_SETTING = "STREAMREC_TRUST__PSEUDONYM_SECRET"


def test_a_pseudonymised_data_dir_will_not_start_without_its_secret(start_server: Any) -> None:
    server = start_server(env={SECRET_SETTING: "the-original-secret"})
    with httpx.Client(base_url=server.url, timeout=TIMEOUT_S) as client:
        assert client.post("/v1/events", json={"events": [
            {"user_id": "alice", "item_id": "i", "type": "view"}]}).status_code == 200
    server.stop()
    for env, says in (({}, "holds pseudonymised ids"),
                      ({SECRET_SETTING: "a-typo-of-the-secret"}, "not the secret")):
        server.env = env
        said = start_fails(server, status=2)
        assert says in said and SECRET_SETTING in said and "Traceback" not in said
    server.env = {SECRET_SETTING: ""}
    with pytest.raises(RuntimeError, match="pseudonym secret is empty"):
        server.start()
    server.env = {SECRET_SETTING: "the-original-secret"}
    server.start()


# -- backups and erasures --------------------------------------------------------------------

@pytest.mark.parametrize("restored", ["log", "log and keys"])
def test_erasures_are_reapplied_to_a_restored_backup(start_server: Any, tmp_path: Any,
                                                     restored: str) -> None:
    """A backup of the log alone holds the erased user sealed under a destroyed key: it reads
    as erased at once, and reapply-erasures removes the rows. A backup of the key store too
    brings the key back: the audit log finds the user, who is erased again."""
    secret = {SECRET_SETTING: "backup-test-secret"}
    names = ["events.db", "catalogue.db", "pseudonyms.json"]
    if restored == "log and keys":
        names.append("user_keys.db")
    server = start_server(env=secret)
    with httpx.Client(base_url=server.url, timeout=TIMEOUT_S) as client:
        events = [{"user_id": user, "item_id": item, "type": "view"}
                  for user, item in (("alice-7f3a", "alice-item-2b9d"), ("alice-7f3a", "i2"),
                                     ("bob-91c2", "i1"), ("bob-91c2", "i2"))]
        events.append({"session_id": "visit-5d", "item_id": "i3", "type": "view"})
        assert client.post("/v1/events", json={"events": events}).status_code == 200
        assert client.post("/v1/sessions/visit-5d/merge",
                           json={"user_id": "alice-7f3a"}).status_code == 200
    server.stop()
    backup = tmp_path / "backup"
    backup.mkdir()
    for name in names:
        (backup / name).write_bytes((server.data_dir / name).read_bytes())
    server.start()
    with httpx.Client(base_url=server.url, timeout=TIMEOUT_S) as client:
        assert client.delete("/v1/users/alice-7f3a").json() == {"erased_events": 4}
    server.stop()
    # the disk is lost: the backup comes back, the audit log (kept apart) is current
    for name in names:
        (server.data_dir / name).write_bytes((backup / name).read_bytes())
    for leftover in server.data_dir.glob("*-wal"):
        leftover.unlink()
    shutil.rmtree(server.data_dir / "snapshots")
    done = cli("reapply-erasures", "--data-dir", str(server.data_dir), env=environment(**secret))
    assert done.returncode == 0, done.stderr
    if restored == "log":
        assert "removed 4 unreadable entries" in done.stdout
        assert "erasure of 0 users or sessions whose keys came back with it" in done.stdout
    else:
        assert "removed 0 unreadable entries" in done.stdout
        assert "erasure of 1 users or sessions whose keys came back with it: 4 events " \
            "erased" in done.stdout
    server.start()
    with httpx.Client(base_url=server.url, timeout=TIMEOUT_S) as client:
        assert client.get("/v1/users/alice-7f3a/export").json()["events"] == []
        assert client.get("/v1/sessions/visit-5d/export").json()["events"] == []
        assert len(client.get("/v1/users/bob-91c2/export").json()["events"]) == 2
        actions = [e["action"] for e in client.get("/v1/admin/audit").json()["entries"]]
        assert "erasures.reapply" in actions
    stored = b"".join(p.read_bytes() for p in server.data_dir.rglob("*") if p.is_file())
    assert pseudonymise(b"backup-test-secret", "alice-7f3a").encode() not in stored
    assert b"alice-item-2b9d" not in stored and b"alice-item-2b9d".decode().encode(
        "utf-32-le") not in stored
    assert b"bob-91c2" not in stored and b"backup-test-secret" not in stored


def test_the_data_dir_and_every_file_in_it_are_private(http: tuple[Any, httpx.Client]) -> None:
    server, client = http
    fill(client, users=5, per_user=5)
    create_key(server.data_dir, "admin")
    server.stop()  # a final snapshot
    server.start()  # the -wal and -shm files exist while it runs
    found = [server.data_dir, *server.data_dir.rglob("*")]
    assert any(p.name.endswith("-wal") for p in found)
    assert any(p.suffix == ".bin" for p in found)  # snapshot chunks
    for path in found:
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {oct(mode)}"


def test_oversized_numbers_in_every_query_parameter_never_fail_the_server(
    http: tuple[Any, httpx.Client],
) -> None:
    _, client = http
    huge = "1" + "0" * 400
    cases = [("/v1/users/u/recommendations", {"k": huge}),
             ("/v1/users/u/recommendations", {"max_per_category": huge}),
             ("/v1/users/u/recommendations", {"filter": f"price<{huge}"}),
             ("/v1/users/u/recommendations", {"filter": "price<1e400"}),
             ("/v1/users/u/recommendations", {"boost": "c=x:1e400"}),
             ("/v1/users/u/recommendations", {"boost": f"c=x:{huge}"}),
             ("/v1/sessions/s/recommendations", {"k": "-" + huge}),
             ("/v1/popular", {"k": huge}), ("/v1/popular", {"filter": "price>nan"}),
             ("/v1/items/i/similar", {"k": huge}), ("/v1/admin/audit", {"limit": huge})]
    for path, params in cases:
        response = client.get(path, params=params)
        assert response.status_code < 500, f"{path} {params}: {response.text}"
        if response.status_code >= 400:  # a huge max_per_category is no limit: fine
            assert response.json()["error"]["field"], response.text
