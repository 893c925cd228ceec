"""Experiments in the engine: started and stopped in the log, each user's lists made in
their variant's settings and saying so, feedback counted per variant, and all of it the same
after a restart and in a replay of the log."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from streamrec.engine.engine import Engine
from streamrec.engine.replay import rebuild_state
from streamrec.errors import Conflict, InvalidInput, NotFound
from streamrec.experiments.definitions import Definition, Variant
from streamrec.settings import Settings
from streamrec.types import Event

EventFactory = Callable[..., Event]
NEWCOMERS = [f"new{n}" for n in range(16)]
# one source alone per variant: co-occurrence brings a1's group, popularity the hit
BY_SOURCE = Definition("by-source", (
    Variant("A", 1.0, {"models.hybrid.only_source": "cooccurrence"}),
    Variant("B", 1.0, {"models.hybrid.only_source": "popularity"})))


@pytest.fixture
def open_engine(engine_settings: Settings) -> Iterator[Callable[[], Engine]]:
    opened: list[Engine] = []

    def open_() -> Engine:
        opened.append(Engine.open(engine_settings))
        return opened[-1]

    yield open_
    for engine in opened:
        engine.close()


@pytest.fixture
def engine(open_engine: Callable[[], Engine], make_event: EventFactory) -> Engine:
    """Groups a1-a4 and b1-b4 engaged with together, a hit many view alone, and newcomers
    who viewed a1 only."""
    engine = open_engine()
    events = [make_event(f"u{group}{n}", f"{group}{item}")
              for group in "ab" for n in range(4) for item in range(1, 5)]
    events += [make_event(f"fan{n}", "pop") for n in range(12)]
    events += [make_event(user, "a1") for user in NEWCOMERS]
    engine.ingest(events)
    return engine


def click(engine: Engine, user_id: str, found: Any, position: int = 0,
          type: str = "click") -> Event:
    return Event(user_id, found.item_ids[position], type, time.time(),
                 context={"recommendation_id": found.recommendation_id})


def test_each_users_list_is_made_in_their_variant_and_says_which(engine: Engine) -> None:
    engine.start_experiment(BY_SOURCE)
    firsts: dict[str, set[str]] = {"A": set(), "B": set()}
    for user in NEWCOMERS:
        found = engine.recommend(user, 3)
        assert found.experiment == "by-source" and found.variant in firsts
        assert engine.impressions.get(found.recommendation_id).variant == found.variant
        firsts[found.variant].add(found.item_ids[0])
    assert firsts["A"] and firsts["B"], "both variants have users"
    assert firsts["A"] <= {"a2", "a3", "a4"} and firsts["B"] == {"pop"}


def test_a_users_variant_is_the_same_on_every_list(engine: Engine) -> None:
    engine.start_experiment(BY_SOURCE)
    for user in NEWCOMERS[:4]:
        assert len({engine.recommend(user, 3).variant for _ in range(5)}) == 1


def test_once_stopped_lists_are_made_by_the_engines_settings_again(engine: Engine) -> None:
    engine.start_experiment(BY_SOURCE)
    report, was_running = engine.stop_experiment("by-source")
    assert was_running and report["status"] == "stopped"
    found = engine.recommend(NEWCOMERS[0], 3)
    assert found.experiment is None and found.variant is None
    assert engine.stop_experiment("by-source")[1] is False  # nothing more logged


def test_feedback_counts_for_the_variant_of_the_list_it_names(engine: Engine) -> None:
    engine.start_experiment(BY_SOURCE)
    feedback = []
    shown = {"A": 0, "B": 0}
    for user in NEWCOMERS:
        found = engine.recommend(user, 3)
        shown[str(found.variant)] += 1
        if found.variant == "B":  # two clicks and a purchase on each of B's lists
            feedback += [click(engine, user, found), click(engine, user, found, 1),
                         click(engine, user, found, 0, "purchase")]
    engine.ingest(feedback)
    report = engine.experiment_report("by-source")
    a, b = report["variants"]
    assert (a["impressions"], b["impressions"]) == (shown["A"], shown["B"])
    assert (a["users"], b["users"]) == (shown["A"], shown["B"])
    assert (a["clicks"], b["clicks"]) == (0, shown["B"])
    assert b["events"]["click"]["events"] == 2 * shown["B"]
    assert b["events"]["purchase"]["lists"] == shown["B"]
    assert b["ctr"] == 1.0 and b["ci_low"] > 0.5


def test_feedback_from_another_user_or_on_a_list_outside_it_is_not_counted(
        engine: Engine) -> None:
    before = engine.recommend(NEWCOMERS[0], 3)  # no experiment ran
    engine.start_experiment(BY_SOURCE)
    found = engine.recommend(NEWCOMERS[1], 3)
    engine.ingest([click(engine, NEWCOMERS[0], before), click(engine, NEWCOMERS[2], found)])
    report = engine.experiment_report("by-source")
    assert all(v["clicks"] == 0 and not v["events"] for v in report["variants"])


def test_a_replay_of_the_log_assigns_and_counts_the_same(engine: Engine) -> None:
    engine.start_experiment(BY_SOURCE)
    variants = {}
    for user in NEWCOMERS:
        found = engine.recommend(user, 3)
        variants[user] = found.variant
        engine.ingest([click(engine, user, found)])
    replayed = rebuild_state(engine.settings, engine.log)
    assert {user: getattr(replayed.experiments.assign(user), "variant", None)
            for user in NEWCOMERS} == variants
    assert replayed.experiments.get("by-source").outcomes == \
        engine.state.experiments.get("by-source").outcomes
    assert engine.exposures.assignments("by-source") == variants


def test_a_restart_keeps_the_experiment_running_with_its_counts(
        engine: Engine, open_engine: Callable[[], Engine]) -> None:
    engine.start_experiment(BY_SOURCE)
    found = engine.recommend(NEWCOMERS[0], 3)
    engine.ingest([click(engine, NEWCOMERS[0], found)])
    before = engine.experiment_report("by-source")
    engine.close()
    again = open_engine()
    assert again.experiment_report("by-source") == before
    assert again.recommend(NEWCOMERS[0], 3).variant == found.variant


def test_erasing_a_user_forgets_their_exposures_and_feedback(engine: Engine) -> None:
    engine.start_experiment(BY_SOURCE)
    found = engine.recommend(NEWCOMERS[0], 3)
    engine.ingest([click(engine, NEWCOMERS[0], found)])
    engine.erase_user(NEWCOMERS[0])
    variant = next(v for v in engine.experiment_report("by-source")["variants"]
                   if v["name"] == found.variant)
    assert (variant["users"], variant["impressions"], variant["clicks"]) == (0, 0, 0)


def test_one_experiment_runs_at_a_time_and_names_are_never_reused(engine: Engine) -> None:
    engine.start_experiment(BY_SOURCE)
    other = Definition("other", (Variant("A"), Variant("B")))
    with pytest.raises(Conflict, match="is running"):
        engine.start_experiment(other)
    engine.stop_experiment("by-source")
    with pytest.raises(Conflict, match="exists already"):
        engine.start_experiment(BY_SOURCE)
    assert engine.start_experiment(other)["status"] == "running"
    assert [r["name"] for r in engine.experiment_reports()] == ["other", "by-source"]


@pytest.mark.parametrize(("definition", "field"), [
    (Definition("bad name!", (Variant("A"), Variant("B"))), "name"),
    (Definition("x", (Variant("A"),)), "variants"),
    (Definition("x", (Variant("A"), Variant("A"))), "variants[1].name"),
    (Definition("x", (Variant("A"), Variant("B", 0.0))), "variants[1].weight"),
    (Definition("x", (Variant("A"), Variant("B")), goal="nosuch"), "goal"),
    (Definition("x", (Variant("A"), Variant("B", 1.0, {"models.hybrid.nope": 1}))),
     "variants[1].overrides.models.hybrid.nope"),
])
def test_a_bad_definition_is_refused_naming_the_field_and_nothing_is_logged(
        engine: Engine, definition: Definition, field: str) -> None:
    offset = engine.log.last_offset()
    with pytest.raises(InvalidInput) as refused:
        engine.start_experiment(definition)
    assert refused.value.field == field
    assert engine.log.last_offset() == offset


def test_an_unknown_experiment_is_not_found_naming_it(engine: Engine) -> None:
    with pytest.raises(NotFound) as missing:
        engine.experiment_report("nosuch")
    assert missing.value.field == "name"


def test_a_click_whose_write_failed_counts_as_the_lists_first_when_sent_again(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    engine.start_experiment(BY_SOURCE)
    found = engine.recommend(NEWCOMERS[0], 3)
    sent = click(engine, NEWCOMERS[0], found)

    def disk_full(events: Any) -> Any:
        raise OSError("no space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(engine.log, "append", disk_full)
        with pytest.raises(OSError):
            engine.ingest([sent])
    engine.ingest([sent])  # the client's retry once the disk has room again
    variant = next(v for v in engine.experiment_report("by-source")["variants"]
                   if v["name"] == found.variant)
    assert variant["clicks"] == 1 and variant["events"]["click"]["lists"] == 1
