"""Declared negative events through the engine's read path: a dislike pushes the item and its
neighbours down for the user who sent it, for no one else, and less as it ages.

The world: users engage with groups a1-a4 and b1-b4 together; "me" viewed a1 and b1, so both
groups are recommended to me. Queries are asked at a fixed ``now``.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from streamrec.engine.recommender import Recommendation, Recommender
from streamrec.engine.state import EngineState
from streamrec.ranking.negatives import NegativesConfig
from streamrec.settings import ModelSettings, Settings
from streamrec.types import Event, LoggedEvent

T0 = 1_700_000_000.0
DAY = 86_400.0
B_NEIGHBOURS = ("b2", "b3", "b4")


class World:
    def __init__(self, push: float = 1.0) -> None:
        """``push``: the negatives' strength (0: turned-down items drive nothing, hide
        what they hide, and push nothing down)."""
        negatives = NegativesConfig(strength=push)
        settings = Settings(data_dir=Path("unused"), models=ModelSettings(negatives=negatives))
        self.state = EngineState(settings)
        self.recommender = Recommender(self.state)
        self.clock = T0
        events = [Event(f"u{group}{n}", f"{group}{item}", "view", T0)
                  for group in "ab" for n in range(4) for item in range(1, 5)]
        events += [Event(f"fan{n}", "pop", "view", T0) for n in range(6)]
        events += [Event("me", "a1", "view", T0), Event("me", "b1", "view", T0)]
        events += [Event("other", "a2", "view", T0), Event("other", "b2", "view", T0)]
        self.send(*events)

    def send(self, *events: Event) -> None:
        start = self.state.offset + 1
        self.state.apply([LoggedEvent(start + n, e) for n, e in enumerate(events)])

    def ask(self, user_id: str, now: float = T0 + 60, **options: bool) -> Recommendation:
        return self.recommender.for_user(user_id, 20, now=now, **options)  # type: ignore[arg-type]


def positions(found: Recommendation) -> dict[str, int]:
    return {item: n for n, item in enumerate(found.item_ids)}


def score_of(found: Recommendation, item: str) -> float:
    return found.scores[found.item_ids.index(item)]


@pytest.fixture
def world() -> World:
    return World()


def test_a_dislike_ranks_the_items_neighbours_lower_for_that_user(world: World) -> None:
    before = positions(world.ask("me"))
    assert all(before[b] < 6 for b in B_NEIGHBOURS)  # b1's companions are near the top
    world.send(Event("me", "b1", "dislike", T0 + 30))
    after = positions(world.ask("me"))
    for item in B_NEIGHBOURS:
        assert after.get(item, 99) > before[item], item
    assert max(after[a] for a in ("a2", "a3", "a4")) < min(after[b] for b in B_NEIGHBOURS)


def test_a_dislike_changes_nothing_for_other_users(world: World) -> None:
    others = ("other", "ua0", "ub1", "fan2", "stranger")
    before = [world.ask(user).item_ids for user in others]
    world.send(Event("me", "b1", "dislike", T0 + 30))
    assert [world.ask(user).item_ids for user in others] == before


def test_a_pushed_down_item_says_why(world: World) -> None:
    world.send(Event("me", "b1", "dislike", T0 + 30))
    found = world.ask("me")
    for item in B_NEIGHBOURS:
        reasons = found.reasons[found.item_ids.index(item)]
        assert "ranked lower: like b1, which you turned down" in reasons
        assert not any("similar to b1" in reason for reason in reasons)
    assert all(len(found.reasons[found.item_ids.index(a)]) == 1 for a in ("a2", "a3", "a4"))


def test_disliked_and_returned_items_are_left_out_even_when_seen_items_are_asked_for(
    world: World,
) -> None:
    assert "b1" in world.ask("me", exclude_seen=False).item_ids
    world.send(Event("me", "b1", "dislike", T0 + 30), Event("me", "a1", "return", T0 + 31))
    shown = world.ask("me", exclude_seen=False).item_ids
    assert "b1" not in shown and "a1" not in shown


def test_a_skipped_item_is_only_pushed_down(world: World) -> None:
    unpushed = World(push=0.0)
    for each in (world, unpushed):
        each.send(Event("me", "b1", "skip", T0 + 30))
    pushed, plain = world.ask("me", exclude_seen=False), unpushed.ask("me", exclude_seen=False)
    assert "b1" in pushed.item_ids
    # a skip weighs -0.5, the item is fully like itself: its score x exp(-0.5)
    assert score_of(pushed, "b1") == pytest.approx(score_of(plain, "b1") * math.exp(-0.5),
                                                   rel=1e-3)


def test_engaging_again_takes_a_dislike_back(world: World) -> None:
    before = world.ask("me")
    world.send(Event("me", "b1", "dislike", T0 + 30), Event("me", "b1", "click", T0 + 40))
    after = world.ask("me")
    assert "b1" in world.ask("me", exclude_seen=False).item_ids
    assert all("turned down" not in r for reasons in after.reasons for r in reasons)
    assert positions(after)["b2"] <= positions(before)["b2"]


def test_the_push_fades_with_time(world: World) -> None:
    unpushed = World(push=0.0)
    for each in (world, unpushed):
        each.send(Event("me", "b1", "dislike", T0 + 30))
    soon, weeks_later = world.ask("me", now=T0 + 60), world.ask("me", now=T0 + 10 * 7 * DAY)
    plain = unpushed.ask("me", now=T0 + 60)  # the ranker's own scores do not depend on now
    for item in B_NEIGHBOURS:
        assert score_of(soon, item) < score_of(weeks_later, item) <= score_of(plain, item)
        assert score_of(weeks_later, item) > 0.99 * score_of(plain, item)  # 10 half-lives
        assert score_of(soon, item) < 0.9 * score_of(plain, item)


def test_an_unknown_users_dislike_gives_them_no_neighbours_of_it(world: World) -> None:
    world.send(Event("newcomer", "b1", "dislike", T0 + 30))
    found = world.ask("newcomer")
    assert "b1" not in found.item_ids
    top = found.item_ids[:3]
    assert not set(top) & set(B_NEIGHBOURS), top


def test_a_rating_below_the_neutral_value_is_a_negative_signal() -> None:
    """With ``neutral_value`` a rating weighs weight x (stars - neutral): a 1-star rating of
    b1 then turns it down like a dislike; by default every rating is a (weak) positive."""
    from streamrec.events.types import EventTypeConfig, event_weight

    centred = EventTypeConfig(weight=0.4, uses_value=True, neutral_value=2.5)
    assert event_weight(centred, 1.0) == pytest.approx(-0.6)
    assert event_weight(centred, 5.0) == pytest.approx(1.0)
    types = Settings().events.types
    assert event_weight(types["rating"], 1.0) == pytest.approx(0.4)  # weak, not negative
    for neutral, pushed in ((0.0, False), (2.5, True)):
        world = World()
        world.state.event_types = {**types, "rating": EventTypeConfig(
            weight=0.4, uses_value=True, neutral_value=neutral)}
        before = positions(world.ask("me"))["b2"]
        world.send(Event("me", "b1", "rating", T0 + 30, value=1.0))
        assert (positions(world.ask("me"))["b2"] > before) is pushed
