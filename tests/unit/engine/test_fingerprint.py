"""A snapshot is used only under the model settings it was made with (the fingerprint); one
made before the trainer's settings left the fingerprint still is."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from streamrec.engine.engine import Engine
from streamrec.settings import Settings
from streamrec.types import Event

T0 = 1_700_000_000.0


def rebuilt(settings: Settings, fingerprint: str, caplog: pytest.LogCaptureFixture) -> bool:
    """Learn 30 events, close (a final snapshot), mark the snapshot with ``fingerprint``,
    and open again: whether the start set the snapshot aside and rebuilt from the log."""
    engine = Engine.open(settings)
    engine.ingest([Event(f"u{n % 4}", f"i{n % 9}", "view", T0 + n) for n in range(30)])
    engine.close()
    newest = engine.snapshots.folders()[-1]
    meta = json.loads((newest / "meta.json").read_text())
    meta["fingerprint"] = fingerprint
    (newest / "meta.json").write_text(json.dumps(meta))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="streamrec.engine.engine"):
        reopened = Engine.open(settings, start_learner=False)
    reopened.close()
    assert reopened.state.offset == 30  # from the snapshot, or from the log
    return "model settings changed since the last snapshot" in caplog.text


@pytest.mark.parametrize("nice", [10, 4])
def test_a_snapshot_from_before_the_trainers_settings_left_the_fingerprint_is_used(
        tmp_path: Path, nice: int, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(data_dir=tmp_path / "data",
                        models={"trainer_nice": nice})  # type: ignore[arg-type]
    earlier, = settings.earlier_model_fingerprints()
    assert earlier != settings.model_fingerprint()
    assert not rebuilt(settings, earlier, caplog)


def test_a_snapshot_of_other_model_settings_is_not_used(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    other = Settings(models={"als": {"factors": 9}})  # type: ignore[arg-type]
    assert rebuilt(settings, other.model_fingerprint(), caplog)


def test_the_users_budget_is_not_in_the_fingerprint(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Which users are forgotten is in the log ($forget), so a snapshot made under another
    ``events.max_users`` fits, and the setting's arrival changed no one's fingerprint (an
    upgrade rebuilds nothing); other event settings still shape state."""
    settings = Settings(data_dir=tmp_path / "data", events={"max_users": 7})
    assert settings.model_fingerprint() == Settings().model_fingerprint()
    assert not rebuilt(settings, Settings().model_fingerprint(), caplog)
    assert Settings(events={"history_length": 9}).model_fingerprint() != \
        Settings().model_fingerprint()  # type: ignore[arg-type]
