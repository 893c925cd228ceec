"""The audit log: appended, read newest first, never altered, never naming a user."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from streamrec.trust.audit import AuditLog


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
    first = AuditLog(tmp_path / "audit.db").user_target("alice")
    again = AuditLog(tmp_path / "audit.db").user_target("alice")
    assert first == again != AuditLog(tmp_path / "audit.db").user_target("bob")
    assert "alice" not in first
