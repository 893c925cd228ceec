"""The prequential loop never shows a model an event before asking about it."""

from __future__ import annotations

import numpy as np
import pytest

from streamrec.evaluation.dense_events import DenseEvents
from streamrec.evaluation.prequential import replay, run_prequential
from streamrec.evaluation.queries import query_positions
from streamrec.types import Event, IntArray


class RecordingModel:
    """Remembers every event position it learned; checks each query against that record."""

    name = "recording"

    def __init__(self, events: DenseEvents) -> None:
        self.events = events
        self.learned: list[int] = []  # positions, in the order learned
        self.asked: list[tuple[int, int]] = []

    def learn(self, events: DenseEvents) -> None:
        # a slice of the log: find where it starts by its length and what was learned so far
        start = len(self.learned)
        assert np.array_equal(events.users, self.events.users[start:start + len(events)])
        self.learned.extend(range(start, start + len(events)))

    def recommend(self, user: int, k: int, exclude: IntArray, now: float) -> IntArray:
        self.asked.append((user, len(self.learned)))
        return np.zeros(0, dtype=np.int64)


def random_log(n: int, seed: int) -> DenseEvents:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 6, n)
    items = rng.integers(0, 12, n)
    times = np.sort(rng.integers(0, n // 3 + 1, n)).astype(float)  # many ties
    rows = zip(users.tolist(), items.tolist(), times.tolist(), strict=True)
    return DenseEvents.from_events(Event(f"u{u}", f"i{i}", "view", t) for u, i, t in rows)


@pytest.mark.parametrize(("sample", "block"), [(1, 1), (3, 1), (1, 7), (2, 5)])
def test_a_model_never_sees_the_event_it_is_asked_about(sample: int, block: int) -> None:
    events = random_log(300, seed=sample * 10 + block)
    positions = query_positions(events.users, events.items, sample, block)
    model = RecordingModel(events)
    outcomes = list(replay(events, model, positions, k=5, block=block))
    assert [o.position for o in outcomes] == positions.tolist()
    for outcome, (user, learned_then) in zip(outcomes, model.asked, strict=True):
        start = outcome.position - outcome.position % block
        # exactly the events before the query's block were learned: not one more, not one less
        assert learned_then == start
        assert user == events.users[outcome.position]
    assert model.learned == list(range(len(events)))  # every event once, in order


def test_exclusion_is_what_the_user_had_before_the_block() -> None:
    log = [Event("a", "x", "view", 0), Event("a", "y", "view", 1), Event("a", "z", "view", 2),
           Event("a", "w", "view", 3)]
    events = DenseEvents.from_events(log)
    excluded: list[list[int]] = []

    class Spy(RecordingModel):
        def recommend(self, user: int, k: int, exclude: IntArray, now: float) -> IntArray:
            excluded.append(sorted(exclude.tolist()))
            return super().recommend(user, k, exclude, now)

    list(replay(events, Spy(events), query_positions(events.users, events.items), k=5))
    assert excluded == [[0], [0, 1], [0, 1, 2]]
    excluded.clear()
    positions = query_positions(events.users, events.items, block=2)
    list(replay(events, Spy(events), positions, k=5, block=2))
    assert excluded == [[0, 1], [0, 1]]  # positions 2 and 3, both as of position 2


def test_a_run_scores_hits_and_counts_learning() -> None:
    events = DenseEvents.from_events([
        Event("a", "x", "view", 0), Event("b", "x", "view", 1), Event("b", "y", "view", 2),
        Event("a", "y", "view", 3)])

    class AlwaysY(RecordingModel):
        def recommend(self, user: int, k: int, exclude: IntArray, now: float) -> IntArray:
            return np.array([1, 0], dtype=np.int64)

    positions = query_positions(events.users, events.items)
    run = run_prequential(events, AlwaysY(events), positions, k=1)
    assert run.positions.tolist() == [2, 3]
    assert run.score("hit").tolist() == [1.0, 1.0]
    assert run.learned_events == 4
    assert run.recommended.shape == (2, 1)
