"""Popularity's time decay at the edges of what the API accepts (timestamps 1970 to 2200)."""

from __future__ import annotations

import numpy as np

from streamrec.models.popularity import _RANKED, PopularityConfig, PopularityModel
from streamrec.types import EventBatch, Query

ANYONE = Query(None, np.zeros(0, np.int64), np.zeros(0, np.int64), 0.0)
YEAR_S = 365.25 * 86400


def learn_one(model: PopularityModel, item: int, timestamp: float) -> None:
    model.learn(EventBatch(np.array([0]), np.array([item]), np.ones(1), np.array([timestamp])))


def test_events_decades_apart_keep_popularity_finite() -> None:
    # an import of old history: one event in 2001, one today; with the default half-life of a
    # week they are ~1,250 half-lives apart
    model = PopularityModel()  # default half-life: 7 days
    learn_one(model, 0, 1_000_000_000.0)
    learn_one(model, 1, 1_000_000_000.0 + 24 * YEAR_S)
    assert np.isfinite(model.state()["mass"]).all()
    found = model.recommend(ANYONE, 10)
    assert found.items.tolist()[:1] == [1]


def test_events_decades_apart_in_one_batch_keep_popularity_finite() -> None:
    model = PopularityModel()
    model.learn(EventBatch(np.array([0, 1]), np.array([0, 1]), np.ones(2),
                           np.array([1_000_000_000.0, 1_000_000_000.0 + 24 * YEAR_S])))
    assert np.isfinite(model.state()["mass"]).all()
    assert model.recommend(ANYONE, 10).items.tolist()[:1] == [1]


def test_decay_across_many_half_lives_keeps_the_order_of_recency() -> None:
    # a few years apart: the clock rescales itself, the newest event still weighs most
    model = PopularityModel(PopularityConfig(half_life_s=86400.0))
    for step, item in enumerate([3, 1, 2]):
        learn_one(model, item, 1_600_000_000.0 + step * 400 * 86400.0)
    assert np.isfinite(model.state()["mass"]).all()
    assert model.recommend(ANYONE, 10).items.tolist() == [2, 1, 3]


def full_ranking(model: PopularityModel) -> list[int]:
    """Every item ranked again: the best ``_RANKED`` by mass, ties to the lower item."""
    mass = model.state()["mass"]
    positive = np.flatnonzero(mass > 0)
    order = np.lexsort((positive, -mass[positive]))
    return positive[order][:_RANKED].tolist()


def test_the_ranking_kept_between_batches_is_the_ranking_of_every_item() -> None:
    # a catalogue larger than the ranking, batches of few items with repeated weights (ties
    # at the ranking's edge), dislikes (no growth), and a half-life short enough to rescale
    rng = np.random.default_rng(3)
    model = PopularityModel(PopularityConfig(half_life_s=5.0))
    n_items, now, rescaled = 3 * _RANKED, 0.0, 0
    for step in range(300):
        size = int(rng.integers(1, 40))
        now += float(rng.exponential(12.0 if step % 50 else 2_000.0))
        t_ref = model.state()["clock"][0]
        model.learn(EventBatch(rng.integers(0, 50, size),
                               rng.integers(0, n_items if step % 7 else 20, size),
                               rng.choice([1.0, 1.0, 2.0, -1.0], size),
                               np.full(size, now)))
        rescaled += int(model.state()["clock"][0] != t_ref and not np.isnan(t_ref))
        if step % 3 == 0:  # read now and then: several batches grow between two rankings
            assert model.ranking().tolist() == full_ranking(model), step
    assert model.ranking().tolist() == full_ranking(model)
    assert rescaled >= 2 and len(full_ranking(model)) == _RANKED


def test_an_item_growing_to_tie_the_last_ranked_one_takes_its_place_by_index() -> None:
    """The kept ranking reads only grown items as high as its last one: one that ties it
    comes in ahead of it, being the lower index, as a pass over every item would rank it."""
    model = PopularityModel(PopularityConfig(half_life_s=None))
    items = np.arange(1, _RANKED + 2, dtype=np.int64)  # item 0 has nothing yet
    model.learn(EventBatch(np.zeros(items.size, np.int64), items,
                           (3 * _RANKED - items).astype(np.float64), np.zeros(items.size)))
    assert model.ranking()[-1] == _RANKED
    model.learn(EventBatch(np.zeros(1, np.int64), np.array([0]),
                           np.array([float(3 * _RANKED - _RANKED)]), np.zeros(1)))
    assert model.ranking()[-1] == 0 and model.ranking().tolist() == full_ranking(model)


def test_a_restored_model_is_ranked_before_its_first_read() -> None:
    """A restore ranks every item at once (a restart's first read paid it, ~6 ms per model
    at 1M items), and the ranking is the one a pass over every item gives."""
    rng = np.random.default_rng(5)
    model = PopularityModel(PopularityConfig(half_life_s=3_600.0))
    model.learn(EventBatch(rng.integers(0, 9, 500), rng.integers(0, 2 * _RANKED, 500),
                           np.ones(500), np.sort(rng.uniform(0, 7_200, 500))))
    restored = PopularityModel(PopularityConfig(half_life_s=3_600.0))
    restored.restore(model.state())
    assert restored._ranking is not None
    assert restored._ranking.tolist() == full_ranking(restored) == model.ranking().tolist()
