"""The data key stores: keys round-trip, stay wrapped under the master key, and a destroyed
key leaves nothing of itself behind but a tombstone."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from streamrec.errors import Misconfigured
from streamrec.storage.codec import open_key_store
from streamrec.storage.keystore import KEY_FILE, KeyWrapper, SQLiteKeyStore, master_key


def bytes_under(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in directory.rglob("*") if p.is_file())


def test_keys_round_trip_and_survive_reopening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'user_keys.db'}"
    store = open_key_store(url, "pepper")
    created = store.get_or_create(["alice", "bob", "alice"])
    assert sorted(created) == ["alice", "bob"]
    assert created["alice"].key != created["bob"].key
    assert created["alice"].key_id != created["bob"].key_id
    assert store.get_or_create(["alice"]) == {"alice": created["alice"]}  # not replaced
    assert store.get("carol") is None
    store.close()
    again = open_key_store(url, "pepper")
    try:
        assert again.get("alice") == created["alice"]
        assert again.get("bob") == created["bob"]
        # many at once: users without a key (erased, or never) are left out
        assert again.destroy("bob")
        assert again.get_many(["bob", "alice", "carol", "alice"]) == {"alice": created["alice"]}
        assert again.get_many([]) == {}
        many = again.get_or_create([f"u{n}" for n in range(1_200)])  # past one query's 500
        assert again.get_many(many) == many
    finally:
        again.close()


def test_a_destroyed_key_is_gone_from_the_files_and_leaves_a_tombstone(tmp_path: Path) -> None:
    store = open_key_store(f"sqlite:///{tmp_path / 'user_keys.db'}", "pepper")
    assert isinstance(store, SQLiteKeyStore)
    try:
        alice = store.get_or_create(["alice", "bob"])["alice"]
        wrapped = store._connection.execute(  # the key as stored (wrapped)
            "SELECT wrapped FROM data_keys WHERE user_key = 'alice'").fetchone()[0]
        assert bytes(wrapped) in bytes_under(tmp_path)
        assert alice.key not in bytes_under(tmp_path)  # never stored unwrapped
        assert store.destroy("alice")
        assert not store.destroy("alice")
        assert store.get("alice") is None
        assert store.is_destroyed(alice.key_id)
        assert not store.is_destroyed(store.get_or_create(["bob"])["bob"].key_id)
        assert bytes(wrapped) not in bytes_under(tmp_path)
        assert b"alice" not in bytes_under(tmp_path)
        # a user who comes back gets a new key: their erased entries stay erased
        assert store.get_or_create(["alice"])["alice"].key_id != alice.key_id
    finally:
        store.close()


def test_another_secret_is_refused_by_name(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'user_keys.db'}"
    open_key_store(url, "pepper").close()
    with pytest.raises(Misconfigured, match="STREAMREC_TRUST__PSEUDONYM_SECRET"):
        open_key_store(url, "salt")


def test_a_wrapped_key_moved_to_another_user_does_not_unwrap(tmp_path: Path) -> None:
    wrapper = KeyWrapper(master_key("pepper", tmp_path))
    store = SQLiteKeyStore(tmp_path / "user_keys.db", wrapper)
    try:
        store.get_or_create(["alice", "bob"])
        store._connection.execute(
            "UPDATE data_keys SET wrapped = (SELECT wrapped FROM data_keys WHERE user_key ="
            " 'alice'), key_id = (SELECT key_id FROM data_keys WHERE user_key = 'alice')"
            " WHERE user_key = 'bob'")
        with pytest.raises(Misconfigured, match="does not unwrap"):
            store.get("bob")
    finally:
        store.close()


def test_without_a_secret_the_master_key_is_a_private_file(tmp_path: Path) -> None:
    first = master_key(None, tmp_path)
    assert master_key(None, tmp_path) == first and len(first) == 32
    mode = (tmp_path / KEY_FILE).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert master_key("pepper", tmp_path) != first  # a secret derives its own


def test_a_shared_store_needs_the_secret(tmp_path: Path) -> None:
    with pytest.raises(Misconfigured, match="needs STREAMREC_TRUST__PSEUDONYM_SECRET"):
        open_key_store("redis://127.0.0.1:1/0", None)
