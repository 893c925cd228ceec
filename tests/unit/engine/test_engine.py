"""The engine end to end in one process, on a real SQLite data dir.

The fixture world: two groups of items that users engage with together (a1-a4, b1-b4), one
hit item (``pop``) that many users view on its own, and three users who view x1, x2, x3 in that
order (which only a wide co-occurrence window pairs x1 with x3).
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streamrec.engine.engine import Engine
from streamrec.errors import InvalidInput
from streamrec.settings import Settings
from streamrec.types import Event

EventFactory = Callable[..., Event]
Answer = tuple[list[str], list[float], list[list[str]]]
COLD = "popular now (no history for this user yet)"


class Engines:
    """Opens engines (closed at teardown) and remembers how many events each one replayed."""

    def __init__(self) -> None:
        self.opened: list[Engine] = []
        self.progress: dict[Engine, list[tuple[str, int, int | None]]] = {}

    def open(self, settings: Settings) -> Engine:
        calls: list[tuple[str, int, int | None]] = []
        engine = Engine.open(settings, progress=lambda *call: calls.append(call))
        self.opened.append(engine)
        self.progress[engine] = calls
        return engine

    def replayed(self, engine: Engine) -> int:
        calls = self.progress[engine]
        return calls[-1][1] if calls else 0


@pytest.fixture
def engines() -> Iterator[Engines]:
    opener = Engines()
    yield opener
    for engine in opener.opened:
        engine.close()


@pytest.fixture
def world(make_event: EventFactory) -> list[Event]:
    events = [make_event(f"u{group}{n}", f"{group}{item}")
              for group in "ab" for n in range(4) for item in range(1, 5)]
    events += [make_event(f"fan{n}", "pop") for n in range(8)]
    events += [make_event(f"s{n}", f"x{item}") for n in range(3) for item in (1, 2, 3)]
    return events


@pytest.fixture
def engine(engines: Engines, engine_settings: Settings, world: list[Event]) -> Engine:
    """An engine that learned the world as clients often send it: one event per request."""
    engine = engines.open(engine_settings)
    for event in world:
        engine.ingest([event])
    return engine


def answer(engine: Engine, user_id: str, k: int = 6, **options: object) -> Answer:
    found = engine.recommend(user_id, k, **options)  # type: ignore[arg-type]
    return found.item_ids, found.scores, found.reasons


def answers(engine: Engine) -> list[Answer]:
    return [answer(engine, user_id) for user_id in ("ua0", "ub2", "s1", "fan3", "nobody")]


# -- reading your own writes ---------------------------------------------------------------

def test_a_new_users_first_event_changes_their_recommendations_at_once(
    engine: Engine, make_event: EventFactory
) -> None:
    before, _, reasons = answer(engine, "newbie")
    assert before[0] == "pop" and reasons[0] == [COLD]
    engine.ingest([make_event("newbie", "a1")])
    after, _, reasons = answer(engine, "newbie")
    assert set(after[:3]) == {"a2", "a3", "a4"}
    assert reasons[:3] == [["similar to a1, which you engaged with"]] * 3
    assert "a1" not in after


def test_each_of_a_new_users_first_three_events_changes_their_recommendations_at_once(
    engine: Engine, make_event: EventFactory
) -> None:
    pages = [answer(engine, "newbie")[0]]
    for item in ("b1", "b2", "x1"):
        engine.ingest([make_event("newbie", item)])
        pages.append(answer(engine, "newbie")[0])
        assert pages[-1] != pages[-2], f"nothing changed after {item}"
        assert item not in pages[-1]
    assert set(pages[1][:3]) == {"b2", "b3", "b4"}  # b1's companions first
    assert "x2" in pages[3][:3]  # the newest intent leads: x1 was followed by x2


def test_every_acknowledged_event_is_learned_when_ingest_returns(
    engine: Engine, make_event: EventFactory
) -> None:
    appended = engine.ingest([make_event("newbie", "b1"), make_event("newbie", "b2")])
    stats = engine.stats()
    assert stats["learned_offset"] == stats["log_offset"] == appended.last_offset
    assert stats["events"] == stats["learned_events"]


def test_stats_never_count_a_batch_the_learner_is_half_way_through(
    engine: Engine, make_event: EventFactory
) -> None:
    """The learner adds a batch to ``learned_events`` and then to ``client_events``, under
    its lock; ``events`` (stored rows less the engine's own) is read under the lock too, so
    it is never off by a batch learned half-way."""
    before = engine.stats()["events"]
    state = engine.state
    answered: list[int] = []
    with state.lock:  # as the learner holds it between the two additions
        state.learned_events += 5
        reader = threading.Thread(target=lambda: answered.append(engine.stats()["events"]))
        reader.start()
        reader.join(timeout=0.5)
        assert reader.is_alive() and not answered  # waits for the batch to be whole
        state.client_events += 5
    reader.join()
    assert answered == [before]


def test_a_repeated_event_id_is_learned_once(engine: Engine, make_event: EventFactory) -> None:
    first = engine.ingest([make_event("newbie", "pop", event_id="e1")])
    again = engine.ingest([make_event("newbie", "pop", event_id="e1")])
    assert (first.accepted, again.accepted, again.duplicates) == (1, 0, 1)
    assert engine.stats()["learned_events"] == engine.stats()["events"]


def test_an_invalid_event_stores_nothing_of_its_batch(
    engine: Engine, make_event: EventFactory
) -> None:
    before = engine.stats()["events"]
    with pytest.raises(InvalidInput) as raised:
        engine.ingest([make_event("newbie", "a1"), make_event("newbie", "a2", type="nope")])
    assert raised.value.field == "events[1].type"
    assert engine.stats()["events"] == before


def test_feedback_carries_the_list_it_was_shown_into_the_log(
    engine: Engine, make_event: EventFactory
) -> None:
    # the ranker learns from the logged list, so a replay teaches the same lesson
    shown = engine.recommend("reader", 3)
    engine.ingest([make_event("reader", shown.item_ids[0], "click",
                              context={"recommendation_id": shown.recommendation_id})])
    engine.ingest([make_event("stranger", shown.item_ids[0], "click",  # not shown to them
                              context={"recommendation_id": shown.recommendation_id})])
    logged = [e.event.context for e in engine.log.read(0, 10**6)][-2:]
    assert logged[0] is not None and logged[0]["$shown"] == shown.item_ids
    assert logged[1] == {"recommendation_id": shown.recommendation_id}


def test_clients_cannot_send_the_engines_own_context_keys(
    engine: Engine, make_event: EventFactory
) -> None:
    before = engine.stats()["events"]
    with pytest.raises(InvalidInput) as raised:
        engine.ingest([make_event("reader", "a1", context={"$shown": ["a2"]})])
    assert raised.value.field == "events[0].context.$shown"
    assert engine.stats()["events"] == before


# -- restarts --------------------------------------------------------------------------------

def test_close_and_reopen_restores_the_snapshot_and_recommends_the_same(
    engine: Engine, engines: Engines, engine_settings: Settings
) -> None:
    expected, stats = answers(engine), engine.stats()
    engine.close()
    reopened = engines.open(engine_settings)
    assert engines.replayed(reopened) == 0  # everything came from the snapshot
    assert answers(reopened) == expected
    for key in ("events", "users", "items", "log_offset", "learned_offset", "learned_events"):
        assert reopened.stats()[key] == stats[key], key


def test_without_snapshots_the_log_replays_to_the_same_recommendations(
    engine: Engine, engines: Engines, engine_settings: Settings
) -> None:
    expected, events = answers(engine), engine.stats()["events"]
    engine.close()
    shutil.rmtree(engine_settings.snapshot_dir)
    reopened = engines.open(engine_settings)
    assert engines.replayed(reopened) == events
    # what it replayed is in no snapshot: it counts towards the next one (snapshotter.py)
    assert reopened.snapshotter.learning_since_cut() > 0
    # scores too: the world is far below ALS's refit_min_events, so no background refit
    # happened at a moment the log does not record, and everything else is the log's function
    assert answers(reopened) == expected


@pytest.mark.parametrize("damage", ["garbage newest", "component left out of newest",
                                    "every snapshot garbage"])
def test_a_damaged_snapshot_falls_back_to_an_older_one_then_to_the_log(
    engine: Engine, engines: Engines, engine_settings: Settings, world: list[Event],
    make_event: EventFactory, damage: str,
) -> None:
    engine.snapshot()  # the older snapshot, without the next event
    engine.ingest([make_event("late", "a1")])
    expected = answers(engine)
    engine.close()  # the newest snapshot
    folders = sorted(engine_settings.snapshot_dir.glob("snapshot-*"))
    assert len(folders) == 2
    if damage == "component left out of newest":  # meta.json consistent, state incomplete
        meta = json.loads((folders[1] / "meta.json").read_text())
        meta["components"].remove("ranker")
        (folders[1] / "meta.json").write_text(json.dumps(meta))
    for folder in folders[1:] if damage == "garbage newest" else folders:
        if damage != "component left out of newest":
            (folder / "histories.json").write_bytes(b"not a manifest")
    reopened = engines.open(engine_settings)
    replayed = 1 if damage != "every snapshot garbage" else len(world) + 1
    assert engines.replayed(reopened) == replayed
    assert answers(reopened) == expected


def test_replaying_after_an_item_became_unavailable_gives_the_same_recommendations(
    engine: Engine, engines: Engines, engine_settings: Settings
) -> None:
    # availability is a catalogue fact of today; what was learned from the log must not
    # depend on whether an item is available at the time of the replay
    engine.update_item("a3", None, None, available=False)
    expected = answers(engine)
    engine.close()
    shutil.rmtree(engine_settings.snapshot_dir)
    assert answers(engines.open(engine_settings)) == expected


def test_changing_a_model_setting_rebuilds_the_state_from_the_log(
    engine: Engine, engines: Engines, engine_settings: Settings, world: list[Event],
    make_event: EventFactory, settings_factory: Callable[..., Settings], tmp_path: Path,
) -> None:
    newbie = make_event("newbie", "x1")
    engine.ingest([newbie])
    assert sorted(answer(engine, "newbie", k=2)[0]) == ["x2", "x3"]  # window 50: x1 pairs x3
    engine.close()
    narrow = {"cooccurrence": {"window": 1}}
    reopened = engines.open(settings_factory(engine_settings.data_dir, models=narrow))
    assert engines.replayed(reopened) == len(world) + 1  # the snapshot was not used
    top, _, reasons = answer(reopened, "newbie", k=2)
    assert top[0] == "x2" and reasons[1] == ["popular now"]  # x1 and x3 no longer pair
    # the same events learned from scratch under the new setting give the same answers
    fresh = engines.open(settings_factory(tmp_path / "fresh", models=narrow))
    fresh.ingest([*world, newbie])
    assert answers(reopened) == answers(fresh)
    assert answer(reopened, "newbie") == answer(fresh, "newbie")


# -- what gets recommended -----------------------------------------------------------------

def test_an_unknown_user_gets_popular_items(engine: Engine) -> None:
    items, scores, reasons = answer(engine, "nobody", k=5)
    assert items[0] == "pop" and len(items) == 5
    assert reasons == [[COLD]] * 5
    assert scores == sorted(scores, reverse=True)


def test_seen_items_are_left_out_unless_asked_for(engine: Engine) -> None:
    seen = {"a1", "a2", "a3", "a4"}
    assert not seen & set(answer(engine, "ua0", k=20)[0])
    assert seen & set(answer(engine, "ua0", k=20, exclude_seen=False)[0])


def test_items_excluded_by_the_caller_are_left_out(engine: Engine) -> None:
    items = answer(engine, "nobody", k=20, exclude_ids=["pop", "a1", "unknown-item"])[0]
    assert items and not {"pop", "a1"} & set(items)


def test_unavailable_items_are_never_recommended(
    engine: Engine, make_event: EventFactory, engines: Engines, engine_settings: Settings
) -> None:
    engine.ingest([make_event("newbie", "a1")])
    engine.update_item("a2", None, None, available=False)
    engine.update_item("pop", None, None, available=False)

    def shown(engine: Engine) -> set[str]:
        lists = [answer(engine, user, k=50)[0] for user in ("newbie", "nobody", "ua0", "ub0")]
        lists.append(engine.similar("a1", 50).item_ids)
        return {item for found in lists for item in found}

    assert not {"a2", "pop"} & shown(engine)
    engine.close()
    reopened = engines.open(engine_settings)  # availability lives in the catalogue
    assert not {"a2", "pop"} & shown(reopened)
    reopened.update_item("a2", None, None, available=True)
    assert "a2" in shown(reopened)


def test_similar_items_are_those_engaged_with_together(engine: Engine) -> None:
    found = engine.similar("b1", 10)
    assert sorted(found.item_ids) == ["b2", "b3", "b4"]
    assert found.reasons == [["often engaged with together with b1"]] * 3
