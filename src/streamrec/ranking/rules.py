"""Query-time rules: attribute filters, boosts and diversity over a ranked list.

Conditions are small strings a client can put in a URL: ``category=shoes|bags`` (one of),
``brand!=acme``, ``price<100``, ``price>=20``. Numbers compare as numbers; a list-valued
attribute (tags, genres) matches when any of its values does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamrec.errors import InvalidInput
from streamrec.types import FloatArray, IntArray

_CONDITION = re.compile(r"^\s*([^<>=!\s]+)\s*(<=|>=|!=|=|<|>)\s*(.*?)\s*$")


@dataclass(frozen=True, slots=True)
class Condition:
    attribute: str
    operator: str
    values: tuple[str, ...]

    def matches(self, attributes: Mapping[str, Any]) -> bool:
        value = attributes.get(self.attribute)
        found = value if isinstance(value, list) else [value]
        if self.operator in ("=", "!="):
            hit = any(v is not None and str(v) in self.values for v in found)
            return hit if self.operator == "=" else not hit
        bound = float(self.values[0])
        numbers = [v for v in found if isinstance(v, int | float) and not isinstance(v, bool)]
        compare = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
        return any(bool(compare[self.operator](v, bound)) for v in numbers)


def parse_condition(text: str, field_name: str) -> Condition:
    match = _CONDITION.match(text)
    if match is None or not match.group(3):
        raise InvalidInput(field_name, f"{field_name}: {text!r} is not a condition like "
                           "'category=shoes|bags' or 'price<100'")
    attribute, operator, value = match.groups()
    if operator in ("<", "<=", ">", ">="):
        try:
            float(value)
        except ValueError:
            raise InvalidInput(field_name, f"{field_name}: {value!r} is not a number") from None
        return Condition(attribute, operator, (value,))
    return Condition(attribute, operator, tuple(v for v in value.split("|") if v))


@dataclass(frozen=True, slots=True)
class Rules:
    filters: tuple[Condition, ...] = ()
    boosts: tuple[tuple[Condition, float], ...] = ()
    max_per_category: int | None = None
    category_attribute: str = "category"

    @property
    def is_empty(self) -> bool:
        return not self.filters and not self.boosts and self.max_per_category is None


def apply_rules(items: IntArray, scores: FloatArray, rules: Rules,
                attributes_of: Callable[[int], Mapping[str, Any]], k: int
                ) -> tuple[IntArray, FloatArray]:
    """Filter, boost, re-sort and diversify; returns at most ``k`` items, best first."""
    if rules.is_empty:
        return items[:k], scores[:k]
    keep = np.ones(items.size, dtype=bool)
    boosted = scores.copy()
    for position, item in enumerate(items.tolist()):
        attributes = attributes_of(item)
        if not all(c.matches(attributes) for c in rules.filters):
            keep[position] = False
            continue
        for condition, factor in rules.boosts:
            if condition.matches(attributes):
                boosted[position] *= factor
    items, boosted = items[keep], boosted[keep]
    order = np.argsort(-boosted, kind="stable")
    items, boosted = items[order], boosted[order]
    if rules.max_per_category is None:
        return items[:k], boosted[:k]
    chosen: list[int] = []
    per_category: dict[str, int] = {}
    for position, item in enumerate(items.tolist()):
        category = str(attributes_of(item).get(rules.category_attribute))
        if per_category.get(category, 0) < rules.max_per_category:
            per_category[category] = per_category.get(category, 0) + 1
            chosen.append(position)
            if len(chosen) == k:
                break
    picked = np.array(chosen, dtype=np.int64)
    return items[picked], boosted[picked]
