"""Query-time rules: attribute filters, boosts and diversity over a ranked list.

Conditions are small strings a client can put in a URL: ``category=shoes|bags`` (one of),
``brand!=acme``, ``price<100``, ``price>=20``. Numbers compare as numbers; a list-valued
attribute (tags, genres) matches when any of its values does.

Diversity (``max_per_category``) counts the values of one attribute (``diversity_by``): a
list-valued one counts an item toward each of its values, and an item without the attribute
is limited by no group.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamrec.errors import InvalidInput
from streamrec.types import FloatArray, IntArray

_NONE: IntArray = np.zeros(0, dtype=np.int64)
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
    # the attribute whose values diversity counts; None: the catalogue's default (the
    # recommender picks it, see AttributeNames.default_grouping)
    diversity_by: str | None = None

    @property
    def is_empty(self) -> bool:
        return not self.filters and not self.boosts and self.max_per_category is None


def warnings_about(rules: Rules, known: Container[str]) -> list[str]:
    """What the caller should hear about ``rules`` on this catalogue (``known``: the
    attributes some item has): a filter or boost naming an attribute no item has matches
    nothing; diversity without an attribute to count does nothing."""
    said = []
    for condition in rules.filters:
        if condition.attribute not in known:
            outcome = "it leaves out nothing" if condition.operator == "!=" else \
                "no item matches it"
            said.append(f"filter: no item has the attribute {condition.attribute!r}, so "
                        f"{outcome}")
    for condition, _ in rules.boosts:
        if condition.attribute not in known:
            said.append(f"boost: no item has the attribute {condition.attribute!r}, so it "
                        "boosts nothing")
    if rules.max_per_category is not None and rules.diversity_by is None:
        said.append("max_per_category: no item has a categorical attribute to count, so it "
                    "does nothing (name one with diversity_by)")
    elif rules.max_per_category is not None and rules.diversity_by not in known:
        said.append(f"diversity_by: no item has the attribute {rules.diversity_by!r}, so "
                    "max_per_category limits nothing")
    return said


def groups_of(attributes: Mapping[str, Any], name: str) -> set[str]:
    """The values of ``name`` that diversity counts an item toward: each value of a
    list-valued attribute (a film of two genres counts toward both); none when the item has
    no such attribute (it is limited by no group, never lumped with others into one)."""
    value = attributes.get(name)
    values = value if isinstance(value, list) else [value]
    return {str(v) for v in values if v is not None and v != ""}


def apply_rules(items: IntArray, scores: FloatArray, rules: Rules,
                attributes_of: Callable[[int], Mapping[str, Any]], k: int, *,
                above: IntArray = _NONE) -> tuple[IntArray, FloatArray]:
    """Filter, boost, re-sort and diversify; returns at most ``k`` items, best first.
    ``above``: items already in the list above these, which diversity counts too."""
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
    if rules.max_per_category is None or rules.diversity_by is None:
        return items[:k], boosted[:k]
    picked = _diversified(items, rules.max_per_category, rules.diversity_by, attributes_of,
                          k, above)
    return items[picked], boosted[picked]


def _diversified(items: IntArray, most: int, name: str,
                 attributes_of: Callable[[int], Mapping[str, Any]], k: int,
                 above: IntArray) -> IntArray:
    """Positions of the first ``k`` items, best first, such that no value of attribute
    ``name`` is shared by more than ``most`` items of the list (``above`` included)."""
    taken: Counter[str] = Counter()
    for item in above.tolist():
        taken.update(groups_of(attributes_of(item), name))
    chosen: list[int] = []
    for position, item in enumerate(items.tolist()):
        groups = groups_of(attributes_of(item), name)
        if all(taken[group] < most for group in groups):
            taken.update(groups)
            chosen.append(position)
            if len(chosen) == k:
                break
    return np.array(chosen, dtype=np.int64)
