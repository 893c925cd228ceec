"""Erasure and export through the engine, in one process, on a real SQLite data dir."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

from streamrec.engine.engine import Engine
from streamrec.settings import Settings, TrustSettings
from streamrec.trust.pseudonyms import pseudonymise
from streamrec.types import Event

EventFactory = Callable[..., Event]
ALICE = "alice-erasable-7f3a"
BOB = "bob-neighbour-91c2"


def bytes_under(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in directory.rglob("*") if p.is_file())


@pytest.mark.parametrize("secret", [None, "pepper"])
def test_an_erased_user_leaves_no_trace_and_others_keep_working(
    tmp_path: Path, make_event: EventFactory, settings_factory: Callable[..., Settings],
    secret: str | None,
) -> None:
    trust = TrustSettings(pseudonym_secret=SecretStr(secret) if secret else None)
    settings = settings_factory(tmp_path / "data", trust=trust)
    engine = Engine.open(settings)
    try:
        # "only-via-alice" is reachable from "shared" through alice's events alone
        engine.ingest([make_event(ALICE, "shared"), make_event(ALICE, "only-via-alice"),
                       make_event(BOB, "shared"), make_event("carol", "other"),
                       make_event("carol", "other2")])
        assert "only-via-alice" in engine.recommend(BOB, 50).item_ids
        engine.snapshot()
        exported = engine.export_user(ALICE)
        assert [e.item_id for e in exported.events] == ["shared", "only-via-alice"]
        assert [h.item_id for h in exported.history] == ["shared", "only-via-alice"]

        assert engine.erase_user(ALICE) == 2
        assert engine.erase_user(ALICE) == 0
        assert engine.stats()["events"] == 3
        assert "only-via-alice" not in engine.recommend(BOB, 50).item_ids
        assert engine.export_user(ALICE).events == []
        stored = bytes_under(settings.data_dir)
        assert ALICE.encode() not in stored
        if secret:
            assert pseudonymise(secret.encode(), ALICE).encode() not in stored
            assert BOB.encode() not in stored  # raw ids never stored at all
        # learning goes on after the rebuild
        engine.ingest([make_event(BOB, "new-item")])
        assert engine.export_user(BOB).history[-1].item_id == "new-item"
    finally:
        engine.close()
    assert ALICE.encode() not in bytes_under(settings.data_dir)
