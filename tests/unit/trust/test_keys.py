"""API keys: only hashes stored, scopes honoured, revocation seen across connections."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from streamrec.errors import Conflict, InvalidInput, NotFound
from streamrec.trust.keys import KeyRing, Scope, hash_key, is_loopback, parse_scopes


@pytest.fixture
def ring(tmp_path: Path) -> KeyRing:
    return KeyRing(tmp_path / "keys.db")


def test_a_created_key_authenticates_and_only_its_hash_is_stored(
    ring: KeyRing, tmp_path: Path
) -> None:
    record, key = ring.create(frozenset({Scope.READ}))
    assert len(key) > 40
    assert ring.authenticate(key) == record
    assert record.hash == hash_key(key)
    ring.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert key.encode() not in raw


def test_an_unknown_or_near_miss_key_does_not_authenticate(ring: KeyRing) -> None:
    _, key = ring.create(frozenset({Scope.READ}))
    assert ring.authenticate(key[:-1]) is None
    assert ring.authenticate("") is None
    assert ring.authenticate(key + "x") is None


def test_admin_implies_every_scope_and_others_only_themselves(ring: KeyRing) -> None:
    admin, _ = ring.create(frozenset({Scope.ADMIN}))
    reader, _ = ring.create(frozenset({Scope.READ}))
    both, _ = ring.create(frozenset({Scope.READ, Scope.INGEST}))
    assert all(admin.allows(s) for s in Scope)
    assert reader.allows(Scope.READ)
    assert not reader.allows(Scope.INGEST) and not reader.allows(Scope.ADMIN)
    assert both.allows(Scope.INGEST) and not both.allows(Scope.ADMIN)


def test_a_revoked_key_stops_working_and_the_ring_has_no_active_keys(ring: KeyRing) -> None:
    assert not ring.has_active_keys()
    record, key = ring.create(frozenset({Scope.INGEST}))
    assert ring.has_active_keys()
    ring.revoke(record.id)
    assert ring.authenticate(key) is None
    assert not ring.has_active_keys()
    assert [k.is_revoked for k in ring.list()] == [True]


def test_revoking_an_unknown_id_is_not_found(ring: KeyRing) -> None:
    with pytest.raises(NotFound):
        ring.revoke("nope")


def test_a_key_created_by_another_process_is_seen_by_a_running_ring(tmp_path: Path) -> None:
    server_side = KeyRing(tmp_path / "keys.db")
    assert not server_side.has_active_keys()  # loads (and caches) the empty table
    cli_side = KeyRing(tmp_path / "keys.db")
    record, key = cli_side.create(frozenset({Scope.READ}))
    assert server_side.authenticate(key) == record
    cli_side.revoke(record.id)
    assert server_side.authenticate(key) is None


def test_the_table_is_read_once_until_it_changes(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path / "keys.db")
    _, key = ring.create(frozenset({Scope.READ}))
    ring.authenticate(key)
    loads = 0
    original = ring._load

    def counting() -> list:  # type: ignore[type-arg]
        nonlocal loads
        loads += 1
        return original()

    ring._load = counting  # type: ignore[method-assign]
    for _ in range(100):
        assert ring.authenticate(key) is not None
    assert loads == 0
    other = sqlite3.connect(tmp_path / "keys.db")
    other.execute("UPDATE api_keys SET revoked = 1")
    other.commit()
    other.close()
    assert ring.authenticate(key) is None
    assert loads == 1


def test_scopes_are_parsed_and_unknown_ones_refused() -> None:
    assert parse_scopes(["read", "INGEST"]) == {Scope.READ, Scope.INGEST}
    with pytest.raises(InvalidInput, match="unknown scope 'write'"):
        parse_scopes(["write"])
    with pytest.raises(InvalidInput):
        parse_scopes([])


@pytest.mark.parametrize(("host", "expected"), [
    ("127.0.0.1", True), ("::1", True), ("localhost", True), ("127.0.0.2", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("example.com", False),
])
def test_loopback_hosts(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_revoking_every_key_does_not_open_the_ring_only_open_access_does(
    ring: KeyRing, tmp_path: Path
) -> None:
    assert ring.is_open()  # never had a key: local development
    record, _ = ring.create(frozenset({Scope.ADMIN}))
    assert not ring.is_open()
    with pytest.raises(Conflict, match=record.id):
        ring.open_access()  # a key is active: opening would change nothing
    ring.revoke(record.id)
    assert not ring.is_open()  # nobody gets in
    other = KeyRing(tmp_path / "keys.db")  # the CLI, in another process
    other.open_access()
    assert ring.is_open()
    other.create(frozenset({Scope.READ}))  # a new key closes it again
    assert not ring.is_open()
    other.close()
