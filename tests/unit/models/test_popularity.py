"""Popularity's time decay at the edges of what the API accepts (timestamps 1970 to 2200)."""

from __future__ import annotations

import numpy as np

from streamrec.models.popularity import PopularityConfig, PopularityModel
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
