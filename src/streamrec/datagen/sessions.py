"""One block of browsing sessions, vectorised: who, which items, when, and how far down the funnel.

A session belongs to one user (drawn by activity) and focuses on one category drawn from the
user's taste, sometimes two. Its first view is *fresh*; each later view is either fresh again
or, with ``related_probability``, *related*: an item of the same collection as the session's
last fresh view, so similar items co-occur. A fresh view is a personal favourite
(``affinity_probability``), an item of the session's categories, or now and then
(``exploration_probability``) any item; items are drawn by their popularity at the block's
first start, among released items only.

Each view may turn into a click, a click into a cart, a cart into a purchase, each strictly
later (at least a second), by the same user on the same item in the same session.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from streamrec.datagen.arrays import CART, CLICK, PURCHASE, RATING, VIEW, EventArrays
from streamrec.datagen.catalogue import SyntheticCatalogue
from streamrec.datagen.config import GeneratorConfig
from streamrec.datagen.popularity import Popularity, is_released, sample_positions
from streamrec.datagen.users import SyntheticUsers
from streamrec.types import FloatArray, IntArray

_MIN_GAP_S = 1.0  # keeps every funnel step strictly after the one before, even rounded to ms
_CLICK_DELAY_S = 8.0  # mean delays after the step before
_CART_DELAY_S = 30.0
_PURCHASE_DELAY_S = 120.0
_RATING_DELAY_S = 60.0

Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class World:
    """Everything a block of sessions draws from."""

    config: GeneratorConfig
    catalogue: SyntheticCatalogue
    users: SyntheticUsers
    popularity: Popularity


@dataclass(frozen=True, slots=True)
class _Views:
    session: IntArray  # session of each view, numbered across blocks
    users: IntArray
    items: IntArray
    is_favourite: Mask
    times: FloatArray


def generate_sessions(
    world: World, starts: FloatArray, first_session: int, rng: np.random.Generator
) -> EventArrays:
    """The events of sessions starting at ``starts`` (non-decreasing), in no useful order.

    Sessions are numbered from ``first_session``. No event is earlier than its session's start,
    and no item appears before its release. Timestamps are whole milliseconds.
    """
    config = world.config
    n_sessions = len(starts)
    users = world.users.sample_users(n_sessions, rng)
    progress = np.clip((starts - config.start_time) / config.duration_s, 0.0, 1.0)
    is_late = rng.random(n_sessions) < config.taste_drift * progress
    primary = world.users.sample_categories(users, is_late, rng)
    has_second = rng.random(n_sessions) < config.second_category_probability
    second = world.users.sample_categories(users, is_late, rng)
    categories = np.stack([primary, np.where(has_second, second, primary)], axis=1)
    lengths = np.minimum(
        rng.geometric(1.0 / config.mean_session_views, n_sessions), config.max_session_views
    ).astype(np.int64)
    session = np.repeat(np.arange(n_sessions, dtype=np.int64), lengths)
    first_view = np.cumsum(lengths) - lengths
    step = np.arange(len(session), dtype=np.int64) - first_view[session]
    cumulative = world.popularity.cumulative_at(float(starts[0]))
    items, is_favourite = _pick_items(world, cumulative, session, step, users, categories, rng)
    gaps = rng.exponential(config.mean_view_gap_s, len(session)) + _MIN_GAP_S
    gaps[first_view] = 0.0
    elapsed = np.cumsum(gaps)
    times = starts[session] + (elapsed - elapsed[first_view][session])
    views = _Views(session + first_session, users[session], items, is_favourite, times)
    return _funnel(views, config, rng)


def _pick_items(
    world: World,
    cumulative: FloatArray,
    session: IntArray,
    step: IntArray,
    users: IntArray,
    categories: IntArray,
    rng: np.random.Generator,
) -> tuple[IntArray, Mask]:
    """Items of all views, and which ones are the user's favourites."""
    is_fresh = (step == 0) | (rng.random(len(step)) >= world.config.related_probability)
    fresh = np.flatnonzero(is_fresh)
    items = np.empty(len(step), dtype=np.int64)
    is_favourite = np.zeros(len(step), dtype=bool)
    fresh_items, fresh_favourite = _fresh_items(
        world, cumulative, users[session[fresh]], categories[session[fresh]], rng
    )
    items[fresh] = fresh_items
    is_favourite[fresh] = fresh_favourite
    # every session starts fresh, so the running maximum never crosses into another session
    anchor = np.maximum.accumulate(np.where(is_fresh, np.arange(len(step)), 0))
    related = np.flatnonzero(~is_fresh)
    items[related] = _related_items(world.catalogue, cumulative, items[anchor[related]], rng)
    return items, is_favourite


def _fresh_items(
    world: World,
    cumulative: FloatArray,
    users: IntArray,
    categories: IntArray,
    rng: np.random.Generator,
) -> tuple[IntArray, Mask]:
    config, catalogue = world.config, world.catalogue
    count = len(users)
    category = categories[np.arange(count), rng.integers(0, 2, count)]
    low = catalogue.category_bounds[category]
    high = catalogue.category_bounds[category + 1]
    exploring = rng.random(count) < config.exploration_probability
    low = np.where(exploring, 0, low)
    high = np.where(exploring, catalogue.n_items, high)
    fallback = catalogue.position[catalogue.category_head[category]]
    items = catalogue.order[sample_positions(cumulative, low, high, fallback, rng)]
    wants_favourite = ~exploring & (rng.random(count) < config.affinity_probability)
    favourites = world.users.favourites
    picks = favourites[users, rng.integers(0, favourites.shape[1], count)]
    # a favourite not yet released cannot be viewed; the category pick stands in for it
    is_favourite = wants_favourite & is_released(cumulative, catalogue, picks)
    return np.where(is_favourite, picks, items), is_favourite


def _related_items(
    catalogue: SyntheticCatalogue,
    cumulative: FloatArray,
    anchors: IntArray,
    rng: np.random.Generator,
) -> IntArray:
    collection = catalogue.collection[anchors]
    low = catalogue.collection_bounds[collection]
    high = catalogue.collection_bounds[collection + 1]
    fallback = catalogue.position[anchors]
    return catalogue.order[sample_positions(cumulative, low, high, fallback, rng)]


def _funnel(views: _Views, config: GeneratorConfig, rng: np.random.Generator) -> EventArrays:
    """Views plus the clicks, carts, purchases and ratings they lead to (not sorted)."""
    n_views = len(views.items)
    boost = np.where(views.is_favourite, config.affinity_click_boost, 1.0)
    clicked = np.flatnonzero(rng.random(n_views) < config.click_probability * boost)
    click_times = views.times[clicked] + _delays(_CLICK_DELAY_S, len(clicked), rng)
    is_carted = rng.random(len(clicked)) < config.cart_probability
    carted = clicked[is_carted]
    cart_times = click_times[is_carted] + _delays(_CART_DELAY_S, len(carted), rng)
    is_purchased = rng.random(len(carted)) < config.purchase_probability
    purchased = carted[is_purchased]
    purchase_times = cart_times[is_purchased] + _delays(_PURCHASE_DELAY_S, len(purchased), rng)
    rated = np.flatnonzero(rng.random(n_views) < config.rating_fraction)
    rating_times = views.times[rated] + _delays(_RATING_DELAY_S, len(rated), rng)
    # favourites are rated about a star higher
    ratings = 3.3 + views.is_favourite[rated] + rng.normal(0.0, 1.0, len(rated))
    source = np.concatenate([np.arange(n_views), clicked, carted, purchased, rated])
    counts = [n_views, len(clicked), len(carted), len(purchased), len(rated)]
    values = np.full(len(source), np.nan)
    values[len(source) - len(rated) :] = np.clip(np.round(ratings), 1.0, 5.0)
    times = np.concatenate([views.times, click_times, cart_times, purchase_times, rating_times])
    return EventArrays(
        users=views.users[source],
        items=views.items[source],
        types=np.repeat(np.array([VIEW, CLICK, CART, PURCHASE, RATING], dtype=np.int8), counts),
        timestamps=times.round(3),
        values=values,
        sessions=views.session[source],
    )


def _delays(mean_s: float, count: int, rng: np.random.Generator) -> FloatArray:
    return rng.exponential(mean_s, count) + _MIN_GAP_S
