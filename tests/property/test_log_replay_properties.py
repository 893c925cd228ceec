"""A live engine equals a replay of its log, exactly, whatever happened mid-stream: events,
catalogue changes (new items, attributes, availability), session merges, refits, erasures,
experiments started and stopped with feedback on their lists; erasures both as the embedded
log does them (key destroyed, rows deleted) and as a log that cannot be rewritten must (key
destroyed, sealed rows left for every reader to skip).

The live engine is driven the way its learner drives it (``Engine.open(start_learner=False)``:
the test thread learns after each step and runs the trainer's steps itself, as the threads
would), on a real SQLite data dir. Both sides learn the log one event per batch: float sums
depend on how events are grouped (rounding), which test_replay_determinism.py covers to a
tolerance; here every array must be equal (``np.array_equal``), so that any divergence in
what is learned, or in what order, fails.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from streamrec.engine.engine import Engine
from streamrec.engine.identities import merge_event
from streamrec.engine.learner import Learner
from streamrec.engine.refits import begin_event
from streamrec.engine.replay import assert_same_state
from streamrec.engine.state import EngineState
from streamrec.experiments.definitions import Definition, Variant
from streamrec.settings import Settings, SnapshotSettings
from streamrec.storage.sqlite_log import SQLiteEventLog
from streamrec.types import Event, Item

T0 = 1_700_000_000.0
USERS = [f"u{n}" for n in range(4)]
SESSIONS = ["s0", "s1"]
ITEMS = [f"i{n}" for n in range(6)]
CATALOGUE_ONLY = ["n0", "n1"]  # items that appear in the catalogue before any event
MODELS = {"als": {"factors": 4, "iterations": 2, "refit_min_events": 10**9}}

users, items = st.sampled_from(USERS), st.sampled_from(ITEMS)
events = st.tuples(st.just("events"), st.lists(
    st.tuples(users, items, st.sampled_from(["view", "click", "purchase", "dislike"])),
    min_size=1, max_size=6))
session_events = st.tuples(st.just("session"), st.sampled_from(SESSIONS),
                           st.lists(items, min_size=1, max_size=3))
upserts = st.tuples(st.just("items"), st.lists(st.tuples(
    st.sampled_from(ITEMS + CATALOGUE_ONLY), st.sampled_from(["shoes", "hats", "bags"]),
    st.sampled_from(["", "red wool hat", "blue cotton shoe"]), st.booleans()),
    min_size=1, max_size=4))
flips = st.tuples(st.just("flip"), st.sampled_from(ITEMS + CATALOGUE_ONLY), st.booleans())
merges = st.tuples(st.just("merge"), st.sampled_from(SESSIONS), users)
refits = st.tuples(st.just("refit"))
erasures = st.tuples(st.just("erase"), st.sampled_from(USERS + SESSIONS))
experiments = st.tuples(st.just("experiment"))  # starts one, or stops the one running
feedback = st.tuples(st.just("feedback"), users, st.sampled_from(["click", "purchase"]))
steps = st.lists(st.one_of(events, events, events, session_events, upserts, flips, merges,
                           refits, erasures, experiments, feedback), min_size=1, max_size=25)


class Driver:
    """Does each step through the engine, then learns it, as the learner thread would."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.clock = T0

    def tick(self) -> float:
        self.clock += 1.0
        return self.clock

    def learn(self) -> None:
        self.engine.learner.catch_up(batch=1)

    def do(self, step: tuple[Any, ...]) -> None:
        engine = self.engine
        kind = step[0]
        if kind == "events":
            engine.ingest([Event(u, i, t, self.tick()) for u, i, t in step[1]],
                          wait_learned=False)
        elif kind == "session":
            engine.ingest([Event("", i, "view", self.tick(), session_id=step[1])
                           for i in step[2]], wait_learned=False)
        elif kind == "items":
            self.learn()
            engine.upsert_items([Item(i, {"category": c}, text, available, self.tick())
                                 for i, c, text, available in step[1]])
        elif kind == "flip":
            self.learn()
            engine.update_item(step[1], None, None, available=step[2])
        elif kind == "merge":
            engine.log.append([merge_event(engine.session_key(step[1]),
                                           engine.user_key(step[2]), self.tick())])
        elif kind == "refit":
            engine.log.append([begin_event("als", self.tick())])
            self.learn()
            engine.trainer.fit_pending()  # fits what was begun, logs the end
        elif kind == "erase":
            self.learn()
            if step[1] in SESSIONS:
                engine.erase_session(step[1])
            else:
                engine.erase_user(step[1])
        elif kind == "experiment":
            running = engine.state.experiments.running
            if running is not None:
                engine.stop_experiment(running.definition.name)
            else:
                engine.start_experiment(Definition(f"e{len(engine.state.experiments)}", (
                    Variant("A"), Variant("B", 2.0, {"models.hybrid.hedge.enabled": False}))))
        elif kind == "feedback":
            found = engine.recommend(step[1], 3)
            if found.item_ids:
                engine.ingest([Event(step[1], found.item_ids[0], step[2], self.tick(), context={
                    "recommendation_id": found.recommendation_id})], wait_learned=False)
        self.learn()


def replay(settings: Settings, engine: Engine) -> EngineState:
    fresh = EngineState(settings, inline_training=False)
    Learner(fresh, engine.log).catch_up(batch=1)
    return fresh


def keep_erased_rows(engine: Engine) -> None:
    """Erase as on a log that cannot be rewritten (a Kafka topic): the user's key is
    destroyed and their sealed entries stay, unreadable, for every reader to skip."""
    log = engine.log
    assert isinstance(log, SQLiteEventLog) and log.cipher is not None
    cipher = log.cipher

    def shred_only(user_id: str) -> int:
        readable = sum(1 for entry in log.read(0, 10**6) if entry.event.user_id == user_id)
        cipher.erase(user_id)
        return readable

    log.delete_user = shred_only  # type: ignore[method-assign]


@settings(max_examples=40)
@given(plan=steps)
@pytest.mark.parametrize("rows", ["deleted", "kept"])
def test_a_live_engine_equals_a_replay_of_its_log(plan: list[tuple[Any, ...]],
                                                  rows: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(data_dir=Path(directory), models=MODELS,
                            snapshots=SnapshotSettings(every_events=10**9, every_s=10.0**6))
        engine = Engine.open(settings, start_learner=False)
        if rows == "kept":
            keep_erased_rows(engine)
        try:
            engine.learner.batch = 1  # an erasure's rebuild learns as this test does
            driver = Driver(engine)
            for step in plan:
                note(repr(step))
                driver.do(step)
            assert_same_state(engine.state, replay(settings, engine), exact=True)
        finally:
            engine.close()
