"""Temporal split and leave-last-out: who is asked, about what, after learning what."""

from __future__ import annotations

import numpy as np

from streamrec.evaluation.dense_events import DenseEvents
from streamrec.evaluation.peers.popular import PopularPeer
from streamrec.evaluation.splits import leave_last_out, run_split, temporal_split
from streamrec.types import Event


def log(*rows: tuple[str, str]) -> DenseEvents:
    return DenseEvents.from_events(Event(u, i, "view", float(t)) for t, (u, i) in enumerate(rows))


def test_temporal_split_asks_users_with_history_about_new_items_only() -> None:
    events = log(("a", "x"), ("b", "x"), ("a", "y"), ("c", "z"), ("a", "x"), ("b", "z"),
                 ("a", "w"), ("c", "y"))
    split = temporal_split(events, 0.5)  # train: a-x, b-x, a-y, c-z
    names = [events.user_ids[u] for u in split.users]
    assert names == ["b", "a", "c"]  # ordered by their first held-out event
    relevant = {events.user_ids[u]: sorted(events.item_ids[i] for i in r)
                for u, r in zip(split.users, split.relevant, strict=True)}
    # a's repeat of x is not something to find; users with no history would be "cold"
    assert relevant == {"a": ["w"], "b": ["z"], "c": ["y"]}
    assert split.cold_users == 0
    assert len(split.train) == 4


def test_users_with_no_history_are_counted_not_asked() -> None:
    events = log(("a", "x"), ("a", "y"), ("new", "x"), ("new", "y"))
    split = temporal_split(events, 0.5)
    assert split.n_queries == 0 and split.cold_users == 1


def test_leave_last_out_holds_out_the_last_new_item_and_what_follows() -> None:
    events = log(("a", "x"), ("a", "y"), ("b", "x"), ("a", "z"), ("a", "y"), ("b", "x"))
    split = leave_last_out(events)
    assert [events.user_ids[u] for u in split.users] == ["a"]  # b never had a second item
    assert [events.item_ids[i] for i in split.relevant[0]] == ["z"]
    # a's events from the held-out one on are not learned; b's repeat is
    kept = [(events.user_ids[u], events.item_ids[i])
            for u, i in zip(split.train.users, split.train.items, strict=True)]
    assert kept == [("a", "x"), ("a", "y"), ("b", "x"), ("b", "x")]


def test_a_split_run_excludes_training_items() -> None:
    events = log(("a", "x"), ("b", "x"), ("b", "y"), ("a", "y"), ("a", "z"), ("c", "z"))
    split = temporal_split(events, 0.5)  # train: a-x, b-x, b-y; a asked about y, z
    run = run_split(split, PopularPeer("pop"), k=2)
    assert run.n_queries == 1
    assert run.recommended.tolist() == [[1, -1]]  # x is a's own: only y is left to show
    assert run.score("recall").tolist() == [0.5]
    assert np.isfinite(run.latencies_s).all()
