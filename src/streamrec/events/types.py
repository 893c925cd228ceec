"""Event types and how much each one says about a user's interest.

Implicit signals are ordered view < click < cart < purchase; a rating weighs by its value.
Negative types (dislike, skip, return) carry negative weight: they push items down.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class EventTypeConfig(BaseModel):
    weight: float = Field(default=1.0, description="Weight of one event of this type.")
    uses_value: bool = Field(
        default=False, description="Multiply the weight by the event's value (e.g. a rating)."
    )
    requires_value: bool = False
    neutral_value: float = Field(
        default=0.0, description="With uses_value: the value that says nothing; the weight is "
        "weight x (value - neutral_value), so values below it are negative signals (a "
        "1-star rating pushes its item and its neighbours down, as a dislike does).")

    @property
    def is_negative(self) -> bool:
        return self.weight < 0


def default_event_types() -> dict[str, EventTypeConfig]:
    return {
        "view": EventTypeConfig(weight=1.0),
        "click": EventTypeConfig(weight=2.0),
        "cart": EventTypeConfig(weight=4.0),
        "purchase": EventTypeConfig(weight=8.0),
        # a 5-star rating weighs like a click; a 1-star one like a fifth of a view
        "rating": EventTypeConfig(weight=0.4, uses_value=True, requires_value=True),
        "like": EventTypeConfig(weight=3.0),
        "dislike": EventTypeConfig(weight=-2.0),
        "skip": EventTypeConfig(weight=-0.5),
        "return": EventTypeConfig(weight=-4.0),
    }


def event_weight(config: EventTypeConfig, value: float | None) -> float:
    if config.uses_value and value is not None:
        return config.weight * (value - config.neutral_value)
    return config.weight
