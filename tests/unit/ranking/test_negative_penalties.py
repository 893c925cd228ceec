"""ranking/negatives.py: which items a user turned down, and how hard their neighbours are
pushed down (known answers on a small co-occurrence world, then invariants)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from streamrec.models.cooccurrence import CooccurrenceConfig, CooccurrenceModel
from streamrec.ranking.negatives import NegativesConfig, TurnedDown, demote, penalties, turned_down
from streamrec.types import EventBatch, Query

T0 = 1_700_000_000.0
DAY = 86_400.0
NOTHING = np.zeros(0, dtype=np.int64)


def history(*events: tuple[int, float, float], now: float = T0) -> Query:
    """A query from (item, weight, time) events, oldest first."""
    items, weights, times = zip(*events, strict=True) if events else ((), (), ())
    return Query(0, np.array(items, dtype=np.int64), NOTHING, now,
                 np.array(weights, dtype=np.float64), np.array(times, dtype=np.float64))


def test_an_item_is_turned_down_when_its_newest_event_is_negative() -> None:
    query = history((1, 1.0, T0 - 5), (1, -2.0, T0 - 4),  # viewed, then disliked
                    (2, -2.0, T0 - 3), (2, 1.0, T0 - 2),  # disliked, then viewed again
                    (3, -0.5, T0 - 1))  # skipped
    found = turned_down(query, NegativesConfig(half_life_s=None))
    assert found.items.tolist() == [3, 1]  # newest first; 2 was taken back
    assert found.weights.tolist() == [0.5, 2.0]
    assert found.hidden.tolist() == [1]  # a skip is only pushed down


def test_the_push_halves_every_half_life_and_hiding_does_not_fade() -> None:
    config = NegativesConfig(half_life_s=DAY)
    now = history((1, -4.0, T0), now=T0)
    later = history((1, -4.0, T0), now=T0 + 2 * DAY)
    assert turned_down(now, config).weights.tolist() == [4.0]
    assert turned_down(later, config).weights.tolist() == [1.0]
    assert turned_down(later, config).hidden.tolist() == [1]


def test_only_the_newest_window_items_push_and_hiding_can_be_off() -> None:
    query = history(*[(item, -2.0, T0 + item) for item in range(5)])
    found = turned_down(query, NegativesConfig(window=2, hide_at_weight=None, half_life_s=None))
    assert found.items.tolist() == [4, 3]
    assert found.hidden.size == 0


def test_without_weights_nothing_is_turned_down() -> None:
    query = Query(0, np.array([1, 2]), NOTHING, T0)
    assert turned_down(query, NegativesConfig()).items.size == 0


def cooccurrence_world() -> CooccurrenceModel:
    """Item 0 goes with 1 (three users) and with 2 (one user); 3 goes with 4 only."""
    model = CooccurrenceModel(CooccurrenceConfig(half_life_s=None))
    pairs = [(0, 1)] * 3 + [(0, 2), (3, 4), (2, 5), (1, 5)]
    users = np.repeat(np.arange(len(pairs)), 2)
    items = np.array([i for pair in pairs for i in pair])
    model.learn(EventBatch(users, items, np.ones(items.size), np.full(items.size, T0)))
    return model


def test_close_neighbours_are_pushed_down_more_than_far_ones_and_strangers_not_at_all() -> None:
    down = TurnedDown(np.array([0]), np.array([2.0]), NOTHING)
    candidates = np.array([0, 1, 2, 3, 4])
    penalty, because = penalties(down, candidates, [cooccurrence_world()], T0)
    assert penalty[0] == 2.0  # the item itself: similarity 1
    assert penalty[1] > penalty[2] > 0.0  # 1 goes with 0 more often than 2 does
    assert penalty[3] == penalty[4] == 0.0
    assert because.tolist() == [0, 0, 0, -1, -1]


def test_the_turned_down_item_that_weighs_most_is_named() -> None:
    down = TurnedDown(np.array([0, 3]), np.array([0.5, 4.0]), NOTHING)
    penalty, because = penalties(down, np.array([1, 4, 5]), [cooccurrence_world()], T0)
    assert because.tolist() == [0, 3, -1]
    assert penalty[2] == 0.0


def test_demoting_never_raises_a_score_and_keeps_the_order_of_equal_penalties() -> None:
    scores = np.array([0.9, 0.5, 0.4, 0.1])
    penalty = np.array([0.0, 1.0, 1.0, 0.0])
    demoted = demote(scores, penalty, NegativesConfig())
    assert demoted[0] == 0.9 and demoted[3] == 0.1
    assert demoted[1] > demoted[2] and np.all(demoted <= scores)
    np.testing.assert_array_equal(demote(scores, penalty, NegativesConfig(strength=0.0)), scores)


finite = st.floats(-1e300, 1e300, allow_nan=False)


@given(weights=hnp.arrays(np.float64, 8, elements=finite),
       ages=hnp.arrays(np.float64, 8, elements=st.floats(-1e9, 1e12, allow_nan=False)),
       items=hnp.arrays(np.int64, 8, elements=st.integers(0, 5)),
       scores=hnp.arrays(np.float64, 6, elements=st.floats(0.0, 1.0)),
       strength=st.floats(0.0, 1e6), half_life=st.none() | st.floats(1e-3, 1e9))
def test_scores_stay_finite_non_negative_and_never_grow(
    weights: np.ndarray, ages: np.ndarray, items: np.ndarray, scores: np.ndarray,
    strength: float, half_life: float | None,
) -> None:
    config = NegativesConfig(strength=strength, half_life_s=half_life)
    query = Query(0, items, NOTHING, T0, weights, T0 - ages)
    down = turned_down(query, config)
    assert np.all(np.isfinite(down.weights)) and np.all(down.weights > 0)
    penalty, _ = penalties(down, np.arange(6), [cooccurrence_world()], T0)
    demoted = demote(scores, penalty, config)
    assert np.all(np.isfinite(penalty)) and np.all(penalty >= 0)
    assert np.all(np.isfinite(demoted)) and np.all(demoted >= 0) and np.all(demoted <= scores)
