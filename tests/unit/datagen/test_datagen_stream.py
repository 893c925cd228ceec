"""The event stream: exact size, order, ranges, determinism, the funnel, releases and drift."""

from __future__ import annotations

import numpy as np
import pytest

from streamrec.datagen import (
    EVENT_TYPES,
    EventArrays,
    GeneratorConfig,
    build_catalogue,
    build_users,
    generate_event_arrays,
    generate_events,
)

SMALL = GeneratorConfig(
    n_users=200, n_items=400, n_categories=8, n_events=20_000, seed=3, chunk_size=3_000
)


def collect(config: GeneratorConfig) -> EventArrays:
    return EventArrays.concatenate(list(generate_event_arrays(config)))


@pytest.fixture(scope="module")
def events() -> EventArrays:
    return collect(SMALL)


def test_exactly_n_events_in_chunks_of_chunk_size_with_running_offsets() -> None:
    chunks = list(generate_event_arrays(SMALL))
    assert [len(chunk) for chunk in chunks] == [3_000] * 6 + [2_000]
    assert [chunk.offset for chunk in chunks] == list(range(0, 20_000, 3_000))


def test_no_events_asked_gives_no_chunks() -> None:
    assert list(generate_event_arrays(SMALL.model_copy(update={"n_events": 0}))) == []


def test_same_seed_same_events_and_another_seed_other_events(events: EventArrays) -> None:
    again = collect(SMALL)
    for name in ("users", "items", "types", "timestamps", "sessions"):
        np.testing.assert_array_equal(getattr(events, name), getattr(again, name))
    other = collect(SMALL.model_copy(update={"seed": 4}))
    assert not np.array_equal(events.items, other.items)


def test_timestamps_never_decrease_and_span_about_the_duration(events: EventArrays) -> None:
    assert np.all(np.diff(events.timestamps) >= 0)
    assert events.timestamps[0] >= SMALL.start_time
    span = events.timestamps[-1] - SMALL.start_time
    assert 0.7 * SMALL.duration_s < span < 1.3 * SMALL.duration_s


def test_sessions_interleave(events: EventArrays) -> None:
    # one unbroken run per session would mean sessions never overlap in time
    runs = 1 + np.count_nonzero(events.sessions[1:] != events.sessions[:-1])
    assert runs > 1.3 * len(np.unique(events.sessions))


def test_indices_and_types_in_range(events: EventArrays) -> None:
    assert events.users.min() >= 0 and events.users.max() < SMALL.n_users
    assert events.items.min() >= 0 and events.items.max() < SMALL.n_items
    assert set(np.unique(events.types).tolist()) == {0, 1, 2, 3}  # no ratings by default
    assert events.type_names[:4] == ("view", "click", "cart", "purchase")
    assert np.all(np.isnan(events.values))


def test_no_item_is_used_before_its_release_and_new_items_do_get_used(
    events: EventArrays,
) -> None:
    released_at = build_catalogue(SMALL).released_at
    assert np.all(released_at[events.items] <= events.timestamps)
    released_during = released_at[events.items] > SMALL.start_time
    assert released_during.sum() > 100


def test_every_funnel_step_follows_the_step_before_in_the_same_session(
    events: EventArrays,
) -> None:
    first_time: dict[tuple[int, int, int, int], float] = {}
    steps = 0
    for user, item, kind, timestamp, session in zip(
        events.users.tolist(),
        events.items.tolist(),
        events.types.tolist(),
        events.timestamps.tolist(),
        events.sessions.tolist(),
        strict=True,
    ):
        if kind > 0:
            before = first_time.get((session, user, item, kind - 1))
            assert before is not None and before < timestamp
            steps += 1
        first_time.setdefault((session, user, item, kind), timestamp)
    assert steps > 0.2 * len(events)


def test_funnel_narrows_step_by_step(events: EventArrays) -> None:
    views, clicks, carts, purchases = np.bincount(events.types, minlength=4)[:4]
    assert views > clicks > carts > purchases > 0


def test_ratings_when_asked_carry_whole_star_values() -> None:
    rated = collect(SMALL.model_copy(update={"rating_fraction": 0.2, "n_events": 5_000}))
    is_rating = rated.types == EVENT_TYPES.index("rating")
    assert 0.05 < is_rating.mean() < 0.3
    values = rated.values[is_rating]
    assert set(np.unique(values).tolist()) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert np.all(np.isnan(rated.values[~is_rating]))


def test_popularity_is_skewed(events: EventArrays) -> None:
    counts = np.sort(np.bincount(events.items, minlength=SMALL.n_items))[::-1]
    assert counts[: SMALL.n_items // 10].sum() > 0.4 * counts.sum()


def test_tastes_drift_from_early_to_late() -> None:
    config = SMALL.model_copy(update={"taste_drift": 1.0})
    drifting = collect(config)
    users = build_users(config, build_catalogue(config))
    category = build_catalogue(config).category[drifting.items]
    early = users.early_taste[drifting.users, category]
    late = users.late_taste[drifting.users, category]
    tenth = len(drifting) // 10
    assert early[:tenth].mean() > 1.5 * late[:tenth].mean()
    assert late[-tenth:].mean() > 1.5 * early[-tenth:].mean()


def test_event_objects_match_the_arrays(events: EventArrays) -> None:
    objects = [event for chunk in generate_events(SMALL) for event in chunk]
    assert len(objects) == len(events)
    assert [event.event_id for event in objects[:3]] == ["e0", "e1", "e2"]
    assert objects[-1].event_id == f"e{len(events) - 1}"
    last = objects[-1]
    assert last.user_id == f"u{events.users[-1]}" and last.item_id == f"i{events.items[-1]}"
    assert last.type == EVENT_TYPES[events.types[-1]]
    assert last.timestamp == events.timestamps[-1] and last.value is None
