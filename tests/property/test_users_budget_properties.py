"""A budget of users (issue 18, engine/forgetting.py): whatever the stream, a forget brings
the users held back within ``events.max_users``, and a live engine that forgot users (its
``$forget`` events in the log) equals a replay of its log, and a restart from its snapshot
that goes on learning; the vocabulary hands out indices the same way whatever is asked of it
in between."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.engine.engine import Engine
from streamrec.engine.forgetting import FORGET_TYPE
from streamrec.engine.identities import merge_event
from streamrec.engine.learner import Learner
from streamrec.engine.replay import assert_same_state
from streamrec.engine.state import EngineState
from streamrec.events.vocab import Vocabulary
from streamrec.settings import Settings, SnapshotSettings
from streamrec.types import Event

T0 = 1_700_000_000.0

# many users, most coming once or twice, some often; a few sessions merged into users
events = st.lists(st.tuples(st.integers(0, 30) | st.integers(0, 3),
                            st.integers(0, 15), st.sampled_from(["view", "click", "purchase"])),
                  min_size=10, max_size=150)


def budget_settings(directory: str, max_users: int) -> Settings:
    return Settings(data_dir=Path(directory), events={"max_users": max_users,
                                                      "history_length": 4},
                    models={"cooccurrence": {"window": 3},
                            "als": {"factors": 4, "iterations": 2, "refit_min_events": 20,
                                    "refit_growth": 0.5},
                            "ease": {"refit_min_events": 30}},
                    snapshots=SnapshotSettings(every_events=10**9, every_s=10.0**6))


@settings(max_examples=30, deadline=None)
@given(stream=events, max_users=st.integers(1, 6), chunk=st.integers(1, 40),
       merges=st.lists(st.tuples(st.integers(0, 150), st.integers(0, 30)), max_size=3))
def test_forgetting_keeps_users_within_the_budget_and_equals_a_replay(
        stream: list[tuple[int, int, str]], max_users: int, chunk: int,
        merges: list[tuple[int, int]]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        config = budget_settings(directory, max_users)
        engine = Engine.open(config, start_learner=False)
        try:
            merge_at = dict(merges)
            for start in range(0, len(stream), chunk):
                batch = [Event(f"u{u}", f"i{i}", t, T0 + start + n)
                         for n, (u, i, t) in enumerate(stream[start:start + chunk])]
                if start in merge_at:  # a visitor's session, then the user it turns out to be
                    batch.append(Event("", "i0", "view", T0 + start, session_id=f"s{start}"))
                engine.ingest(batch, wait_learned=False)
                engine.learner.catch_up()
                if start in merge_at:  # as merge_session logs it, without waiting on it
                    engine.log.append([merge_event(engine.session_key(f"s{start}"),
                                                   engine.user_key(f"u{merge_at[start]}"),
                                                   T0 + start)])
                    engine.learner.catch_up()
                engine.trainer.forget_due()  # as the trainer's poll does
                engine.learner.catch_up()
                held = engine.state.users.live
                assert held <= max_users, (held, max_users)
                engine.trainer.fit_pending()
                engine.trainer.begin_due()
                engine.learner.catch_up()
            logged = engine.log.read(0, 10**6)
            forgets = [e for e in logged if e.event.type == FORGET_TYPE]
            distinct = len({u for u, _, _ in stream})
            if distinct > max_users:
                assert forgets
            # slots: the per-user arrays grow only to the most users ever held at once
            assert len(engine.state.users) <= max(distinct, 1) + len(merges)
            fresh = EngineState(config, inline_training=False)
            fresh.artefacts = engine.state.artefacts
            Learner(fresh, engine.log).catch_up(batch=1)  # one event at a time
            assert_same_state(engine.state.state(), fresh.state())
            # a restart from what a snapshot holds, learning more: as the live engine does
            restored = EngineState(config, inline_training=False)
            restored.artefacts = engine.state.artefacts
            restored.restore(engine.state.offset, engine.state.state())
            more = [Event(f"new{n % 5}", f"i{n % 7}", "view", T0 + 10**4 + n)
                    for n in range(20)]
            engine.ingest(more, wait_learned=False)
            engine.learner.catch_up()
            Learner(restored, engine.log).catch_up(batch=3)
            assert_same_state(engine.state.state(), restored.state())
        finally:
            engine.close()


operations = st.lists(st.one_of(st.tuples(st.just("add"), st.integers(0, 40)),
                                st.tuples(st.just("forget"), st.integers(0, 45)),
                                st.tuples(st.just("save"), st.just(0))), max_size=80)


@settings(max_examples=150, deadline=None)
@given(ops=operations)
def test_the_vocabulary_reuses_the_lowest_free_index_and_saves_what_it_holds(
        ops: list[tuple[str, int]]) -> None:
    vocabulary = Vocabulary()
    ids: list[str] = []  # the reference: index -> id, "" when free
    for op, n in ops:
        if op == "add":
            id_ = f"user-{n}" * (1 + n % 3)  # some longer than those saved before
            index = vocabulary.index(id_)
            if id_ in ids:
                assert index == ids.index(id_)
            elif "" in ids:
                assert index == ids.index("")
                ids[index] = id_
            else:
                assert index == len(ids)
                ids.append(id_)
        elif op == "forget":
            freed = vocabulary.forget([n])
            assert freed == ([n] if n < len(ids) and ids[n] else [])
            if freed:
                ids[n] = ""
        else:
            assert vocabulary.state().tolist() == ids
        assert len(vocabulary) == len(ids) and vocabulary.live == sum(map(bool, ids))
        assert vocabulary.held().tolist() == [bool(i) for i in ids]
    saved = vocabulary.state()
    assert saved.tolist() == ids
    restored = Vocabulary.restore(saved)
    assert restored.state().tolist() == ids and restored.live == vocabulary.live
    for id_ in ids:
        if id_:
            assert restored.lookup(id_) == vocabulary.lookup(id_)
    # both hand out the same indices from here on
    for n in range(5):
        assert restored.index(f"later-{n}") == vocabulary.index(f"later-{n}")

