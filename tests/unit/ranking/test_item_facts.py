"""ranking/item_facts.py: the recency and attribute-match features the ranker sees, their
bounds, and that they travel with the ranker's state (events) or come back with the catalogue
(attribute values)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.engine.state import EngineState
from streamrec.ranking.features import layout
from streamrec.ranking.item_facts import FACT_FEATURES, ItemFacts
from streamrec.settings import Settings
from streamrec.types import Event, EventBatch, Item, LoggedEvent, Query

NOTHING = np.zeros(0, dtype=np.int64)


def batch(items: list[int], times: list[float], weights: list[float] | None = None) -> EventBatch:
    n = len(items)
    return EventBatch(np.zeros(n, np.int64), np.array(items, np.int64),
                      np.array(weights or [1.0] * n), np.array(times, np.float64))


def query(history: list[int]) -> Query:
    recent = np.array(history, dtype=np.int64)
    return Query(0, recent, recent, now=100.0)


def test_the_freshest_candidate_has_recency_one_and_an_item_nobody_took_zero() -> None:
    facts = ItemFacts()
    facts.learn(batch([0, 1, 2, 0], [10.0, 20.0, 30.0, 40.0]))
    recency = facts.columns(query([]), np.array([0, 1, 2, 3]))[:, 0]
    # item 0 was taken again last: freshest; item 3 never
    assert recency.tolist() == [1.0, 1 / 3, 2 / 3, 0.0]


def test_a_dislike_does_not_make_an_item_current() -> None:
    facts = ItemFacts()
    facts.learn(batch([0, 1], [10.0, 20.0]))
    facts.learn(batch([0], [50.0], weights=[-1.0]))
    assert facts.columns(query([]), np.array([0, 1]))[:, 0].tolist() == [0.5, 1.0]


def test_attribute_share_follows_the_users_recent_mix_and_last_follows_the_latest_item() -> None:
    facts = ItemFacts()
    catalogue = {0: "comedy", 1: "comedy", 2: "comedy", 3: "horror", 4: "comedy", 5: "horror",
                 6: "drama"}
    facts.learn_items([(i, Item(str(i), {"genre": g, "price": 5.0}))
                       for i, g in catalogue.items()])
    columns = facts.columns(query([0, 1, 2, 3]), np.array([4, 5, 6]))
    share, last = columns[:, 1], columns[:, 2]
    assert share[0] > 0.5 > share[1] > 0.0 == share[2]  # mostly comedies, horror latest
    assert last.tolist() == [0.0, 1.0, 0.0]
    assert np.isclose(share[0] + share[1], 1.0)  # every recent item has exactly one genre


def test_numbers_and_ignored_keys_are_not_attribute_values() -> None:
    facts = ItemFacts(ignored_attributes=["sku"])
    facts.learn_items([(0, Item("a", {"price": 5.0, "sku": "x"})),
                       (1, Item("b", {"price": 5.0, "sku": "x"}))])
    assert facts.columns(query([0]), np.array([1]))[0, 1:].tolist() == [0.0, 0.0]


values = st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=3)


@settings(max_examples=60, deadline=None)
@given(catalogue=st.lists(values, min_size=1, max_size=12),
       taken=st.lists(st.tuples(st.integers(0, 11), st.floats(0, 1e6)), max_size=20),
       history=st.lists(st.integers(0, 15), max_size=60),
       candidates=st.lists(st.integers(0, 15), max_size=20, unique=True))
def test_every_fact_feature_is_between_zero_and_one(catalogue: list[list[str]],
                                                   taken: list[tuple[int, float]],
                                                   history: list[int],
                                                   candidates: list[int]) -> None:
    facts = ItemFacts(window=10)
    facts.learn_items([(i, Item(str(i), {"tag": v})) for i, v in enumerate(catalogue)])
    if taken:
        facts.learn(batch([i for i, _ in taken], [t for _, t in taken]))
    columns = facts.columns(query(history), np.array(candidates, dtype=np.int64))
    assert columns.shape == (len(candidates), len(FACT_FEATURES))
    assert np.all((columns >= 0.0) & (columns <= 1.0))


def test_the_engine_state_feeds_the_features_and_a_restore_keeps_recency() -> None:
    settings_ = Settings()
    state = EngineState(settings_)
    state.apply_items([Item(f"i{n}", {"category": "shoes" if n < 5 else "hats"})
                       for n in range(10)])
    events = [LoggedEvent(n + 1, Event("u1" if n < 4 else "u2", f"i{n % 10}", "view",
                                       timestamp=1000.0 + n, event_id=f"e{n}"))
              for n in range(12)]
    state.apply(events)
    user = state.users.lookup("u1")
    q = state.query_for(user, 2000.0)
    found = state.ranker.candidates(q, state.scorers, len(state.items))
    columns = found.features[:, layout().features.index("recency"):]
    assert columns.shape[1] == len(FACT_FEATURES) and columns.any()

    restored = EngineState(settings_)
    restored.restore(state.offset, state.state())
    restored.apply_items([Item(f"i{n}", {"category": "shoes" if n < 5 else "hats"})
                          for n in range(10)])
    again = restored.ranker.candidates(q, restored.scorers, len(restored.items))
    np.testing.assert_array_equal(again.items, found.items)
    np.testing.assert_array_equal(again.features, found.features)


def test_a_list_lifted_by_attribute_matches_says_which_value() -> None:
    from streamrec.engine.recommender import Recommender

    settings_ = Settings.model_validate(
        {"models": {"hybrid": {"prior": {"attribute_share": 3.0}, "stream_lessons": False}}})
    state = EngineState(settings_)
    state.apply_items([Item(f"i{n}", {"category": "shoes" if n < 5 else "hats"})
                       for n in range(10)])
    events = [Event("u1", f"i{n}", "view", timestamp=1000.0 + n) for n in (0, 1, 2)]
    events += [Event("u2", f"i{n}", "view", timestamp=1100.0 + n) for n in range(10)]
    state.apply([LoggedEvent(n + 1, e) for n, e in enumerate(events)])
    found = Recommender(state).for_user("u1", 4, now=2000.0)
    shoes = [reasons for item, reasons in zip(found.item_ids, found.reasons, strict=True)
             if int(item[1:]) < 5]
    assert shoes and all("category shoes, like your recent items" in r for r in shoes)
    hats = [reasons for item, reasons in zip(found.item_ids, found.reasons, strict=True)
            if int(item[1:]) >= 5]
    assert all(not any("like your recent items" in text for text in r) for r in hats)


def _by_numpy(facts: ItemFacts, history: np.ndarray, items: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Columns 1-2 and the best values as numpy passes over the value rows compute them
    (the reference for the compiled pass)."""
    def rows_of(asked: np.ndarray) -> np.ndarray:
        known = (asked >= 0) & (asked < facts._codes.shape[0])
        rows = np.full((asked.shape[0], facts._codes.shape[1]), -1, dtype=np.int32)
        rows[known] = facts._codes[asked[known]]
        return rows

    rows, recent_rows = rows_of(items), rows_of(history[-facts.window:])
    shares = np.zeros(rows.shape, dtype=np.float64)
    out = np.zeros((items.size, 2))
    best = np.full(items.size, -1, dtype=np.int64)
    valued = recent_rows != -1
    if valued.any():
        n = recent_rows.shape[0]
        weights = 0.9 ** np.arange(n - 1, -1, -1, dtype=np.float64)
        codes, inverse = np.unique(recent_rows[valued], return_inverse=True)
        share = np.bincount(inverse, weights=np.broadcast_to(weights[:, None],
                                                             recent_rows.shape)[valued],
                            minlength=codes.size) / weights.sum()
        at = np.minimum(np.searchsorted(codes, rows), codes.size - 1)
        matched = (rows != -1) & (codes[at] == rows)
        shares[matched] = share[at[matched]]
    slot = shares.argmax(axis=1)
    out[:, 0] = shares[np.arange(items.size), slot]
    shared = out[:, 0] > 0
    best[shared] = rows[shared, slot[shared]]
    latest = recent_rows[-1][recent_rows[-1] != -1]
    out[:, 1] = (np.isin(rows, latest) & (rows != -1)).any(axis=1)
    return out, best


@settings(max_examples=80, deadline=None)
@given(catalogue=st.lists(values, min_size=1, max_size=12),
       history=st.lists(st.integers(0, 15), min_size=1, max_size=60),
       candidates=st.lists(st.integers(0, 15), max_size=20, unique=True))
def test_the_compiled_shares_are_the_numpy_passes(catalogue: list[list[str]],
                                                  history: list[int],
                                                  candidates: list[int]) -> None:
    """The very floats and values: shares summed in the recent items' order, the first slot
    among equal shares, items past the catalogue with no values."""
    facts = ItemFacts(window=10)
    facts.learn_items([(i, Item(str(i), {"tag": v})) for i, v in enumerate(catalogue)])
    recent, items = np.array(history, dtype=np.int64), np.array(candidates, dtype=np.int64)
    columns, best = facts.columns_and_values(query(history), items)
    expected, expected_best = _by_numpy(facts, recent, items)
    if len(facts._values):
        np.testing.assert_array_equal(columns[:, 1:], expected)
        np.testing.assert_array_equal(best, expected_best)
