"""What the synthetic world looks like: one frozen, validated configuration.

Every knob has a default that gives a small shop with real structure (1,000 users, 2,000
items, 20 categories, 50,000 events over 30 days). The same configuration always generates
the same catalogue and the same events.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

DAY_S = 86_400.0


class GeneratorConfig(BaseModel):
    """Sizes, time span and the strength of each kind of structure in the generated data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # sizes and time
    n_users: int = Field(default=1_000, ge=1)
    n_items: int = Field(default=2_000, ge=1, description="At least n_categories.")
    n_categories: int = Field(default=20, ge=1)
    n_events: int = Field(default=50_000, ge=0, description="Exactly this many are generated.")
    seed: int = Field(default=0, ge=0)
    start_time: float = Field(default=1_700_000_000.0, ge=0, description="Unix seconds.")
    duration_s: float = Field(
        default=30 * DAY_S,
        gt=0,
        description="Events span about this long (sessions arrive "
        "at the rate that fits n_events into it).",
    )
    chunk_size: int = Field(default=10_000, ge=1, description="Events or items per chunk.")

    # catalogue
    popularity_exponent: float = Field(
        default=1.0, ge=0, description="Zipf exponent of item popularity within a category."
    )
    collection_size: int = Field(
        default=8,
        ge=1,
        description="Items per collection: similar items that share a tag, "
        "a name word, and co-occur within sessions.",
    )
    new_item_fraction: float = Field(
        default=0.2, ge=0, le=1, description="Share of items released during the time span."
    )
    freshness_boost: float = Field(
        default=2.0, ge=0, description="Extra popularity of a just-released item, as a multiple."
    )
    freshness_decay_s: float = Field(default=3 * DAY_S, gt=0)
    popularity_drift: float = Field(
        default=1.0, ge=0, description="Std of each item's log-popularity change over the span."
    )

    # users
    taste_concentration: float = Field(
        default=2.0,
        gt=0,
        description="Total mass of the Dirichlet over categories: small "
        "values give users few favourite categories.",
    )
    taste_drift: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="By the end of the span, this share of sessions "
        "follows each user's second (later) taste instead of the first.",
    )
    activity_sigma: float = Field(
        default=1.0, ge=0, description="Lognormal spread of how often users come back."
    )
    affinity_items: int = Field(default=10, ge=1, description="Personal favourites per user.")
    affinity_probability: float = Field(
        default=0.15, ge=0, le=1, description="Chance that a fresh view is a personal favourite."
    )

    # sessions
    mean_session_views: float = Field(default=6.0, ge=1)
    max_session_views: int = Field(default=60, ge=1)
    second_category_probability: float = Field(
        default=0.3, ge=0, le=1, description="Chance that a session covers two categories."
    )
    related_probability: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Chance that a view stays in the collection of "
        "the session's last freely chosen item.",
    )
    exploration_probability: float = Field(
        default=0.05, ge=0, le=1, description="Chance that a fresh view ignores the user's taste."
    )
    mean_view_gap_s: float = Field(default=40.0, gt=0)
    daily_cycle: float = Field(
        default=0.5, ge=0, le=0.8, description="Relative amplitude of the daily rhythm."
    )
    peak_hour_utc: float = Field(default=20.0, ge=0, lt=24)

    # funnel: each step is conditional on the one before
    click_probability: float = Field(default=0.3, ge=0, le=1, description="Of views.")
    cart_probability: float = Field(default=0.3, ge=0, le=1, description="Of clicks.")
    purchase_probability: float = Field(default=0.5, ge=0, le=1, description="Of carts.")
    affinity_click_boost: float = Field(
        default=2.0, ge=1, description="Clicks are this much likelier on personal favourites."
    )
    rating_fraction: float = Field(
        default=0.0, ge=0, le=1, description="Share of views followed by a 1-5 rating event."
    )

    @model_validator(mode="after")
    def _every_category_has_an_item(self) -> Self:
        if self.n_items < self.n_categories:
            raise ValueError(
                f"n_items ({self.n_items}) must be at least n_categories ({self.n_categories})"
            )
        return self
