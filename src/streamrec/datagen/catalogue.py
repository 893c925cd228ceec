"""The generated items as arrays: categories, collections, popularity, release times, prices.

Items (indices ``0..n_items-1``, ids ``"i{n}"``) are spread over categories in random order.
Inside a category, items form collections of ``collection_size`` similar items, which the
sessions draw together; each item's popularity follows a Zipf law over its random rank within
its category, drifts over time, and is zero before the item's release. The most popular item
of each category is released before ``start_time``, so every category can always be sampled.

For sampling, items are laid out by *position*: grouped by category, then by collection, so a
category or a collection is one contiguous range of positions (see ``popularity.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamrec.datagen.config import DAY_S, GeneratorConfig
from streamrec.types import FloatArray, IntArray

_STREAM = 1  # this module's own random stream, so other modules' draws never shift it
_BACK_CATALOGUE_S = 365 * DAY_S  # old items were released up to a year before the start


@dataclass(frozen=True, slots=True)
class SyntheticCatalogue:
    """Ground truth about every item; arrays indexed by item unless named by position."""

    category: IntArray  # 0..n_categories-1
    collection: IntArray  # global collection index; collections never span categories
    base_weight: FloatArray  # Zipf weight of the item's popularity rank within its category
    trend: FloatArray  # standard normal: which way and how fast its popularity drifts
    released_at: FloatArray  # unix seconds, whole milliseconds
    price: FloatArray
    order: IntArray  # the item at each position
    position: IntArray  # the position of each item (inverse of order)
    category_bounds: IntArray  # positions [b[c], b[c+1]) hold category c
    collection_bounds: IntArray  # positions [b[k], b[k+1]) hold collection k
    category_head: IntArray  # per category, its most popular item (released before the start)

    @property
    def n_items(self) -> int:
        return int(self.category.shape[0])


def build_catalogue(config: GeneratorConfig) -> SyntheticCatalogue:
    """The catalogue for ``config``: identical for the same configuration. Cost O(n_items)."""
    rng = np.random.default_rng((config.seed, _STREAM))
    n_items, n_categories = config.n_items, config.n_categories
    category = _assign_categories(n_items, n_categories, rng)
    shuffled = rng.permutation(n_items)
    order = shuffled[np.argsort(category[shuffled], kind="stable")].astype(np.int64)
    position = np.empty(n_items, dtype=np.int64)
    position[order] = np.arange(n_items, dtype=np.int64)
    category_bounds = np.searchsorted(category[order], np.arange(n_categories + 1)).astype(np.int64)
    collection, collection_bounds = _collections(
        category, order, category_bounds, config.collection_size
    )
    rank = _popularity_ranks(category, category_bounds, rng)
    category_head = np.empty(n_categories, dtype=np.int64)
    category_head[category[rank == 0]] = np.flatnonzero(rank == 0)
    return SyntheticCatalogue(
        category=category,
        collection=collection,
        base_weight=np.power(rank + 1.0, -config.popularity_exponent),
        trend=rng.standard_normal(n_items),
        released_at=_release_times(rank, config, rng),
        price=_prices(category, n_categories, rng),
        order=order,
        position=position,
        category_bounds=category_bounds,
        collection_bounds=collection_bounds,
        category_head=category_head,
    )


def _assign_categories(n_items: int, n_categories: int, rng: np.random.Generator) -> IntArray:
    share = rng.dirichlet(np.full(n_categories, 5.0))  # categories differ in size, mildly
    category = np.concatenate(
        [np.arange(n_categories), rng.choice(n_categories, n_items - n_categories, p=share)]
    )
    return rng.permutation(category).astype(np.int64)  # every category has at least one item


def _collections(
    category: IntArray, order: IntArray, category_bounds: IntArray, size: int
) -> tuple[IntArray, IntArray]:
    """Cut each category's positions into runs of ``size``; returns per-item ids and bounds."""
    by_position = category[order]
    within = np.arange(order.shape[0]) - category_bounds[by_position]
    per_category = -(-np.diff(category_bounds) // size)  # ceiling division
    first_of_category = np.concatenate([[0], np.cumsum(per_category)[:-1]])
    collection_at = (first_of_category[by_position] + within // size).astype(np.int64)
    collection = np.empty_like(collection_at)
    collection[order] = collection_at
    n_collections = int(per_category.sum())
    bounds = np.searchsorted(collection_at, np.arange(n_collections + 1)).astype(np.int64)
    return collection, bounds


def _popularity_ranks(
    category: IntArray, category_bounds: IntArray, rng: np.random.Generator
) -> IntArray:
    """A random rank of each item within its category (0 = most popular), independent of
    its collection, so a collection mixes hits and niche items."""
    by_rank = np.lexsort((rng.random(len(category)), category))
    rank = np.empty(category.shape[0], dtype=np.int64)
    rank[by_rank] = np.arange(category.shape[0]) - category_bounds[category[by_rank]]
    return rank


def _release_times(rank: IntArray, config: GeneratorConfig, rng: np.random.Generator) -> FloatArray:
    n_items = len(rank)
    is_new = (rng.random(n_items) < config.new_item_fraction) & (rank > 0)
    new_at = config.start_time + rng.random(n_items) * config.duration_s
    old_at = config.start_time - rng.random(n_items) * _BACK_CATALOGUE_S
    released_at: FloatArray = np.where(is_new, new_at, old_at)
    return released_at.round(3)


def _prices(category: IntArray, n_categories: int, rng: np.random.Generator) -> FloatArray:
    typical = np.exp(rng.normal(np.log(40.0), 0.8, n_categories))  # each category its range
    spread = np.exp(rng.normal(0.0, 0.35, len(category)))
    return np.maximum(np.round(typical[category] * spread, 2), 0.5)
