"""The audit log: appended, read newest first, never altered, never naming a user."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from pydantic import SecretStr

from streamrec.trust.audit import AuditLog

SECRET = SecretStr("audit-tests-secret")


def test_entries_are_read_back_newest_first(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.db")
    audit.record("k1", "key.create", "key:k2", {"scopes": ["read"]})
    audit.record(None, "user.erase", audit.user_target("alice"), {"erased_events": 3})
    entries = audit.recent(10)
    assert [e.action for e in entries] == ["user.erase", "key.create"]
    assert entries[0].details == {"erased_events": 3}
    assert entries[1].key_id == "k1"
    assert len(audit.recent(1)) == 1


def test_rows_cannot_be_changed_or_deleted(tmp_path: Path) -> None:
    AuditLog(tmp_path / "audit.db").record(None, "key.revoke", "key:x")
    connection = sqlite3.connect(tmp_path / "audit.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        connection.execute("DELETE FROM audit")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        connection.execute("UPDATE audit SET action = 'x'")


def test_a_user_target_is_stable_across_reopening_and_never_the_id(tmp_path: Path) -> None:
    first = AuditLog(tmp_path / "audit.db", SECRET).user_target("alice")
    again = AuditLog(tmp_path / "audit.db", SECRET).user_target("alice")
    assert first == again != AuditLog(tmp_path / "audit.db", SECRET).user_target("bob")
    assert "alice" not in first


def test_the_file_alone_cannot_confirm_a_guessed_id(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.db", SECRET)
    audit.record(None, "user.erase", audit.user_target("alice"))
    audit.close()
    # no key is kept beside the digests: not with another secret, nor without one
    assert AuditLog(tmp_path / "audit.db", SecretStr("guess")).user_target("alice") != \
        audit.user_target("alice")
    assert AuditLog(tmp_path / "audit.db").user_target("alice") == "user:-"
    assert SECRET.get_secret_value().encode() not in (tmp_path / "audit.db").read_bytes()


def test_a_digest_key_stored_by_an_older_version_is_dropped(tmp_path: Path) -> None:
    AuditLog(tmp_path / "audit.db").close()
    connection = sqlite3.connect(tmp_path / "audit.db")
    connection.execute("INSERT INTO audit_meta VALUES ('user_key', 'ab')")
    connection.commit()
    AuditLog(tmp_path / "audit.db").close()
    assert connection.execute("SELECT count(*) FROM audit_meta").fetchone() == (0,)
