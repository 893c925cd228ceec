"""The structure is real: tastes and co-occurrence predict the held-out tail far better than
popularity does. Each check also runs on a structureless world, where it must not pass."""

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
)

K = 10
WORLD = GeneratorConfig(n_users=300, n_items=600, n_categories=12, n_events=30_000, seed=1)
# every fresh view ignores taste, no session stays in a collection, no favourites
STRUCTURELESS = WORLD.model_copy(
    update={"exploration_probability": 1.0, "related_probability": 0.0, "taste_concentration": 1e4}
)
VIEW = EVENT_TYPES.index("view")


def collect(config: GeneratorConfig) -> EventArrays:
    return EventArrays.concatenate(list(generate_event_arrays(config)))


@pytest.fixture(scope="module", params=[WORLD, STRUCTURELESS], ids=["world", "structureless"])
def world(request: pytest.FixtureRequest) -> tuple[GeneratorConfig, EventArrays]:
    config: GeneratorConfig = request.param
    return config, collect(config)


def is_structured(config: GeneratorConfig) -> bool:
    return config is WORLD


def popular_hit_rate(train: EventArrays, targets: np.ndarray, n_items: int) -> float:
    top = np.argsort(-np.bincount(train.items, minlength=n_items), kind="stable")[:K]
    return float(np.isin(targets, top).mean())


def test_users_concentrate_on_their_favourite_categories(
    world: tuple[GeneratorConfig, EventArrays],
) -> None:
    config, events = world
    category = build_catalogue(config).category[events.items]
    taste = build_users(config, build_catalogue(config)).early_taste
    top_two = np.argsort(-taste, axis=1)[:, :2]

    def share_in_top_two(users: np.ndarray) -> float:
        return float(np.mean((category == top_two[users, 0]) | (category == top_two[users, 1])))

    chance = share_in_top_two(np.random.default_rng(0).permutation(events.users))
    assert (share_in_top_two(events.users) > 2.5 * chance) == is_structured(config)


def test_user_category_predictor_beats_popularity_on_the_tail(
    world: tuple[GeneratorConfig, EventArrays],
) -> None:
    config, events = world
    cut = int(0.8 * len(events))
    train, test = events.rows(0, cut), events.rows(cut)
    category = build_catalogue(config).category
    counts = np.bincount(train.items, minlength=config.n_items).astype(float)
    per_category = np.bincount(category, weights=counts, minlength=config.n_categories)
    within_category = counts / np.maximum(per_category[category], 1.0)
    liked = np.full((config.n_users, config.n_categories), 0.1)
    np.add.at(liked, (train.users, category[train.items]), 1.0)
    views = test.types == VIEW
    hits = 0
    for user in np.unique(test.users[views]):
        scores = liked[user, category] * within_category
        top = np.argsort(-scores, kind="stable")[:K]
        hits += int(np.isin(test.items[views & (test.users == user)], top).sum())
    personal = hits / int(views.sum())
    popular = popular_hit_rate(train, test.items[views], config.n_items)
    assert (personal > 1.3 * popular) == is_structured(config)


def test_session_cooccurrence_predicts_the_next_view_far_better_than_popularity(
    world: tuple[GeneratorConfig, EventArrays],
) -> None:
    config, events = world
    cut = int(0.8 * len(events))
    train, test = events.rows(0, cut), events.rows(cut)

    def consecutive_views(part: EventArrays) -> tuple[np.ndarray, np.ndarray]:
        # the stream interleaves sessions; order each session's views by time first
        views = np.flatnonzero(part.types == VIEW)
        views = views[np.lexsort((part.timestamps[views], part.sessions[views]))]
        same = part.sessions[views[1:]] == part.sessions[views[:-1]]
        return part.items[views[:-1]][same], part.items[views[1:]][same]

    before, after = consecutive_views(train)
    together = np.zeros((config.n_items, config.n_items))
    np.add.at(together, (before, after), 1.0)
    together += together.T
    neighbours = np.argsort(-together, axis=1, kind="stable")[:, :K]
    previous, following = consecutive_views(test)
    cooccurring = float(np.mean(np.any(neighbours[previous] == following[:, None], axis=1)))
    popular = popular_hit_rate(train, following, config.n_items)
    assert (cooccurring > 2.0 * popular) == is_structured(config)
