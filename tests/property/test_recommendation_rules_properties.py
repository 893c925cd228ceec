"""Whatever was learned and whatever the query asks, the answer keeps its promises.

On generated catalogues, histories and queries: no item that fails a filter, no item the user
has seen (when excluding seen), none the caller excluded, none unavailable, at most
``max_per_category`` per category, no repeats, at most ``k`` items, and a next page never
repeats an earlier one: it continues the list that was shown, scores falling.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.engine.recommender import Recommender
from streamrec.engine.state import EngineState
from streamrec.errors import NotFound
from streamrec.ranking.rules import Condition, Rules
from streamrec.settings import Settings
from streamrec.types import Event, Item, LoggedEvent

T0 = 1_700_000_000.0
USERS = [f"u{n}" for n in range(5)]
ITEMS = [f"i{n}" for n in range(16)]
CATEGORIES = ["shoes", "bags", "hats"]
TYPES = ["view", "click", "cart", "purchase", "dislike", "return"]

catalogues = st.lists(
    st.tuples(st.sampled_from(CATEGORIES), st.integers(1, 200), st.booleans()),
    min_size=len(ITEMS), max_size=len(ITEMS))
histories = st.lists(st.tuples(st.sampled_from(USERS), st.sampled_from(ITEMS),
                               st.sampled_from(TYPES)), min_size=1, max_size=80)
queries = st.fixed_dictionaries({
    "user": st.sampled_from([*USERS, "stranger"]),
    "k": st.integers(1, 12),
    "exclude_seen": st.booleans(),
    "exclude": st.lists(st.sampled_from(ITEMS), max_size=4),
    "categories": st.none() | st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=2),
    "max_price": st.none() | st.integers(1, 200),
    "max_per_category": st.none() | st.integers(1, 3),
    "boost": st.none() | st.sampled_from(CATEGORIES),
})


def learned(catalogue: list[tuple[str, int, bool]], history: list[tuple[str, str, str]]
            ) -> tuple[EngineState, dict[str, dict[str, Any]]]:
    state = EngineState(Settings())
    attributes = {}
    for item_id, (category, price, available) in zip(ITEMS, catalogue, strict=True):
        attributes[item_id] = {"category": category, "price": price, "available": available}
    state.apply_items([Item(i, {"category": a["category"], "price": a["price"]},
                            is_available=a["available"]) for i, a in attributes.items()])
    state.apply([LoggedEvent(n + 1, Event(u, i, t, T0 + n))
                 for n, (u, i, t) in enumerate(history)])
    return state, attributes


def rules_of(query: dict[str, Any]) -> Rules:
    filters = []
    if query["categories"] is not None:
        filters.append(Condition("category", "=", tuple(query["categories"])))
    if query["max_price"] is not None:
        filters.append(Condition("price", "<", (str(query["max_price"]),)))
    boosts = ((Condition("category", "=", (query["boost"],)), 3.0),) if query["boost"] else ()
    return Rules(tuple(filters), boosts, query["max_per_category"])


@settings(max_examples=60)
@given(catalogue=catalogues, history=histories, query=queries)
def test_answers_never_break_the_querys_rules(
        catalogue: list[tuple[str, int, bool]], history: list[tuple[str, str, str]],
        query: dict) -> None:  # type: ignore[type-arg]
    state, attributes = learned(catalogue, history)
    rules = rules_of(query)
    seen = {i for u, i, _ in history if u == query["user"]}

    recommender = Recommender(state)
    shown: list[str] = []
    after = None
    for _ in range(2):  # a first page, then the next one
        found = recommender.for_user(query["user"], query["k"],
                                     exclude_seen=query["exclude_seen"],
                                     exclude_ids=query["exclude"], rules=rules, after=after,
                                     now=T0 + len(history))
        items = found.item_ids
        assert len(items) <= query["k"] and len(set(items)) == len(items)
        assert not set(items) & set(shown), "a next page repeated an item"
        assert not set(items) & set(query["exclude"])
        if query["exclude_seen"]:
            assert not set(items) & seen
        for item_id in items:
            item = attributes[item_id]
            assert item["available"], f"{item_id} is unavailable"
            if query["categories"] is not None:
                assert item["category"] in query["categories"]
            if query["max_price"] is not None:
                assert item["price"] < query["max_price"]
        if query["max_per_category"] is not None:
            per_category = Counter(attributes[i]["category"] for i in items)
            assert max(per_category.values(), default=0) <= query["max_per_category"]
        assert len(found.scores) == len(items) == len(found.reasons)
        shown.extend(items)
        after = found.recommendation_id


@settings(max_examples=60)
@given(catalogue=catalogues, history=histories, query=queries)
def test_pages_are_the_continuation_of_one_list_with_falling_scores(
        catalogue: list[tuple[str, int, bool]], history: list[tuple[str, str, str]],
        query: dict) -> None:  # type: ignore[type-arg]
    """Pages of k continue the list: made at one moment, page 2 of k holds positions k+1
    to 2k of a 2k list, with the same scores and reasons; scores never rise down a list."""
    state, _ = learned(catalogue, history)
    recommender = Recommender(state)
    k, now = query["k"], T0 + len(history)
    options = {"exclude_seen": query["exclude_seen"], "exclude_ids": query["exclude"],
               "rules": rules_of(query), "now": now}
    whole = recommender.for_user(query["user"], 2 * k, **options)
    first = recommender.for_user(query["user"], k, **options)
    second = recommender.for_user(query["user"], k, after=first.recommendation_id, now=now)
    assert first.item_ids + second.item_ids == whole.item_ids
    assert first.scores + second.scores == whole.scores
    assert first.reasons + second.reasons == whole.reasons
    assert whole.scores == sorted(whole.scores, reverse=True)
    with pytest.raises(NotFound):
        recommender.for_user("someone else", k, after=first.recommendation_id, now=now)


diverse_catalogues = st.lists(
    st.tuples(st.none() | st.sampled_from(CATEGORIES),
              st.lists(st.sampled_from(["Action", "Comedy", "Drama"]), max_size=2, unique=True),
              st.booleans()),
    min_size=len(ITEMS), max_size=len(ITEMS))


@settings(max_examples=60)
@given(catalogue=diverse_catalogues, k=st.integers(1, 12), most=st.integers(1, 3),
       by=st.sampled_from([None, "category", "genres"]))
def test_diversity_limits_each_value_and_fills_k_when_enough_items_exist(
        catalogue: list[tuple[str | None, list[str], bool]], k: int, most: int,
        by: str | None) -> None:
    """Per value of the attribute diversity counts (category by default, as the catalogue
    has it), at most ``most`` items, a film toward each of its genres; items without it are
    held back by no group. With one value per item, the list holds k items whenever that
    many can be chosen: sum over values of min(most, items with it), plus items without."""
    state = EngineState(Settings())
    attributes: dict[str, dict[str, Any]] = {}
    for item_id, (category, genres, available) in zip(ITEMS, catalogue, strict=True):
        attributes[item_id] = {**({"category": category} if category else {}),
                               **({"genres": genres} if genres else {})}
        state.apply_items([Item(item_id, attributes[item_id], is_available=available)])
    # everyone's popular: every item can fill a list
    state.apply([LoggedEvent(n + 1, Event("fan", i, "view", T0 + n))
                 for n, i in enumerate(ITEMS)])
    found = Recommender(state).popular(k, rules=Rules(max_per_category=most, diversity_by=by),
                                       now=T0 + len(ITEMS))
    counted = by or ("category" if any(c for c, _, _ in catalogue) else "genres")
    values = Counter(v for i in found.item_ids for v in _values(attributes[i], counted))
    assert max(values.values(), default=0) <= most
    assert len(set(found.item_ids)) == len(found.item_ids) <= k
    if counted == "category":
        available = [i for i, (_, _, a) in zip(ITEMS, catalogue, strict=True) if a]
        per_value = Counter(attributes[i].get("category") for i in available)
        choosable = sum(min(most, n) for value, n in per_value.items() if value is not None)
        assert len(found.item_ids) == min(k, choosable + per_value[None])


def _values(attributes: dict[str, Any], name: str) -> list[str]:
    value = attributes.get(name)
    return value if isinstance(value, list) else [] if value is None else [value]
