"""Users past ``events.max_users`` are forgotten (engine/forgetting.py): the longest idle,
by a logged ``$forget``; every part with per-user state drops theirs, and the next new user
takes the index without any of it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from streamrec.engine.engine import Engine
from streamrec.engine.forgetting import FORGET_TYPE
from streamrec.engine.sizes import state_sizes
from streamrec.settings import Settings
from streamrec.types import Event

T0 = 1_700_000_000.0
QUICK = {"als": {"factors": 4, "iterations": 2, "refit_min_events": 10, "refit_growth": 10.0},
         "ease": {"refit_min_events": 10, "refit_growth": 10.0}}


def test_a_new_user_on_a_forgotten_index_finds_none_of_the_old_users_state(
        tmp_path: Path, settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(tmp_path / "data", events={"max_users": 2}, models=QUICK)
    engine = Engine.open(settings, start_learner=False)
    try:
        old = [Event("old", f"i{n % 6}", "purchase", T0 + n) for n in range(12)]
        kept = [Event("kept", f"j{n % 4}", "view", T0 + 100 + n) for n in range(8)]
        engine.ingest(old + kept, wait_learned=False)
        engine.learner.catch_up()
        engine.trainer.fit_pending()
        engine.trainer.begin_due()  # ALS and EASE fitted on both users' rows
        engine.learner.catch_up()
        engine.trainer.fit_pending()
        engine.learner.catch_up()
        state = engine.state
        index = state.users.lookup("old")
        assert index == 0 and state.histories.event_count(0) == 12
        before_unknown = engine.recommend("nobody", 5, exclude_seen=False).item_ids

        engine.ingest([Event("new", "k1", "view", T0 + 200)], wait_learned=False)
        engine.learner.catch_up()
        engine.trainer.forget_due()  # three users held, two allowed: down to 7/8 of two,
        engine.learner.catch_up()  # the one active last
        assert [e.event.type for e in engine.log.read(0, 10**6)].count(FORGET_TYPE) == 1
        assert state.users.lookup("old") is None and state.users.lookup("kept") is None
        assert state.users.live == 1 and state.users.lookup("new") == 2
        # nothing of theirs is held while the indices wait for new users
        assert state.last_active[:2].tolist() == [0, 0]
        assert state.ranker.blend.last_seen[:2].tolist() == [0, 0]

        engine.ingest([Event("newer", "k2", "view", T0 + 300)], wait_learned=False)
        engine.learner.catch_up()
        assert state.users.lookup("newer") == index  # the free index, taken again
        assert state.histories.recent(index, 100)[0].tolist() == [state.items.lookup("k2")]
        assert state.histories.event_count(index) == 1
        cooc = state.models["cooccurrence"]
        assert cooc._recent.of(index).tolist() == [state.items.lookup("k2")]  # type: ignore[attr-defined]
        for name in ("als", "ease"):
            cols, _ = state.models[name]._rows.row(index)  # type: ignore[attr-defined]
            assert cols.tolist() == [state.items.lookup("k2")], name
        sequence = state.models["sequence"]
        users = sequence._users[: sequence._size]  # type: ignore[attr-defined]
        assert (users == index).sum() == 1 and (users == -1 - index).sum() == 12
        assert state.ranker.blend.last_seen[index] == state.client_events
        # "old" is a stranger now: served as one
        assert engine.recommend("old", 5, exclude_seen=False).item_ids == before_unknown
        budget = state_sizes(state).budgets["users"]
        assert budget["setting"] == "events.max_users" and budget["count"] == 2
        assert budget["most"] == 2 and budget["slots"] == 3  # index 1 is free
    finally:
        engine.close()


def test_a_running_engine_forgets_at_the_trainers_poll(
        tmp_path: Path, settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(tmp_path / "data", events={"max_users": 20},
                                models={"trainer_poll_s": 0.05})
    engine = Engine.open(settings)
    try:
        for wave in range(5):
            engine.ingest([Event(f"w{wave}-u{n}", f"i{n % 9}", "view", T0 + wave * 100 + n)
                           for n in range(15)])
            deadline = time.monotonic() + 20
            while engine.state.users.live > 20 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert engine.state.users.live <= 20
        assert engine.trainer.forgets >= 3
        assert engine.stats()["users"] == engine.state.users.live
        # the latest wave's users are held; the first's are not
        assert all(engine.state.users.lookup(f"w4-u{n}") is not None for n in range(15))
        assert all(engine.state.users.lookup(f"w0-u{n}") is None for n in range(15))
        assert len(engine.state.users) <= 20 + 15  # slots: at most the budget and one wave
    finally:
        engine.close()


def test_a_budget_of_zero_forgets_no_one(
        tmp_path: Path, settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(tmp_path / "data", events={"max_users": 0})
    engine = Engine.open(settings, start_learner=False)
    try:
        engine.ingest([Event(f"u{n}", "i", "view", T0 + n) for n in range(50)],
                      wait_learned=False)
        engine.learner.catch_up()
        engine.trainer.forget_due()
        assert engine.trainer.forgets == 0 and engine.state.users.live == 50
        assert state_sizes(engine.state).budgets["users"]["most"] is None
    finally:
        engine.close()
