"""What a variant may override: serving settings only, by their real names, each value
checked by its setting's own rules, refused naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from streamrec.errors import InvalidInput
from streamrec.experiments.overrides import OVERRIDABLE, plan_of
from streamrec.ranking.hybrid import HybridRanker
from streamrec.setting_names import accepts
from streamrec.settings import Settings


def plan(overrides: dict[str, Any]) -> Any:
    return plan_of(Settings(), HybridRanker(), overrides, "variants[1].overrides")


@pytest.mark.parametrize("name", OVERRIDABLE)
def test_every_overridable_name_is_a_real_setting(name: str) -> None:
    assert accepts(Settings, name.split("."))


def test_overrides_change_the_plan_and_nothing_else() -> None:
    default = plan({})
    changed = plan({"models.hybrid.disabled_sources": ["cooccurrence"],
                    "models.hybrid.hedge.learning_rate": 3.0,
                    "models.negatives.strength": 0.0, "serving.max_per_category": 2})
    assert changed.disabled == {"cooccurrence"} and default.disabled == frozenset()
    assert changed.hedge.config.learning_rate == 3.0
    assert changed.negatives.strength == 0.0 and changed.max_per_category == 2
    assert (changed.per_source, changed.mixes) == (default.per_source, default.mixes)


@pytest.mark.parametrize(("overrides", "field", "said"), [
    ({"models.hybrid.nonsense": 1}, "variants[1].overrides.models.hybrid.nonsense",
     "is not a setting"),
    ({"models.als.factors": 8}, "variants[1].overrides.models.als.factors",
     "shapes what the models learn"),
    ({"models.hybrid.per_source": 0}, "variants[1].overrides.models.hybrid.per_source",
     "greater than or equal to 1"),
    ({"models.hybrid.disabled_sources": ["nosuch"]},
     "variants[1].overrides.models.hybrid.disabled_sources", "unknown sources ['nosuch']"),
    ({"models.hybrid.only_source": "nosuch"}, "variants[1].overrides.models.hybrid.only_source",
     "unknown source 'nosuch'"),
    ({"models.hybrid.hedge.enabled": "perhaps"},
     "variants[1].overrides.models.hybrid.hedge.enabled", "boolean"),
])
def test_a_bad_override_is_refused_naming_its_field(overrides: dict[str, Any], field: str,
                                                     said: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        plan(overrides)
    assert refused.value.field == field
    assert said in refused.value.message
