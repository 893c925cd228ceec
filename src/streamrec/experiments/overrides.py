"""The settings a variant may override, checked against the settings themselves, and made into
the variant's serving plan (``ranking/plan.py``) once, when its experiment starts.

One engine state serves every variant: a variant can change how a list is made from it
(which sources bring candidates, how the blend mixes them, how hard a dislike pushes, the
default diversity) but not what the models learn. So a variant overrides only the serving
settings below, each by its full name as an environment variable would spell it after
``STREAMREC_`` (lower case, dots for ``__``), and each value is validated by the setting's
own rules.

>>> from streamrec.ranking.hybrid import HybridRanker
>>> from streamrec.settings import Settings
>>> plan = plan_of(Settings(), HybridRanker(), {"models.hybrid.hedge.enabled": False})
>>> plan.mixes, plan.per_source
(False, 100)
>>> plan_of(Settings(), HybridRanker(), {"models.als.factors": 8})
Traceback (most recent call last):
...
streamrec.errors.InvalidInput: overrides.models.als.factors: shapes what the models learn, \
which one state serves to every variant; a variant may override: models.hybrid.per_source, \
models.hybrid.only_source, models.hybrid.disabled_sources, models.hybrid.hedge.enabled, \
models.hybrid.hedge.learning_rate, models.hybrid.hedge.ranker_prior, \
models.hybrid.hedge.paced_candidates, models.negatives.window, models.negatives.half_life_s, \
models.negatives.strength, models.negatives.hide_at_weight, serving.max_per_category
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from streamrec.errors import InvalidInput
from streamrec.ranking.hedge import HedgeConfig
from streamrec.ranking.hybrid import HybridConfig, HybridRanker
from streamrec.ranking.negatives import NegativesConfig
from streamrec.ranking.plan import ServingPlan
from streamrec.setting_names import accepts
from streamrec.settings import ServingSettings, Settings

# the section of each overridable setting, and the class whose rules check its value
_SECTIONS: dict[str, type[BaseModel]] = {
    "models.hybrid": HybridConfig, "models.hybrid.hedge": HedgeConfig,
    "models.negatives": NegativesConfig, "serving": ServingSettings}
OVERRIDABLE: tuple[str, ...] = (
    "models.hybrid.per_source", "models.hybrid.only_source", "models.hybrid.disabled_sources",
    "models.hybrid.hedge.enabled", "models.hybrid.hedge.learning_rate",
    "models.hybrid.hedge.ranker_prior", "models.hybrid.hedge.paced_candidates",
    "models.negatives.window", "models.negatives.half_life_s", "models.negatives.strength",
    "models.negatives.hide_at_weight", "serving.max_per_category")


def plan_of(settings: Settings, ranker: HybridRanker, overrides: Mapping[str, Any],
            field: str = "overrides") -> ServingPlan:
    """``settings`` with ``overrides`` as ``ranker`` serves them. Raises ``InvalidInput``
    naming ``<field>.<setting>`` for a name that is no overridable setting or a value its
    setting refuses."""
    updates: dict[str, dict[str, Any]] = {section: {} for section in _SECTIONS}
    for name, value in overrides.items():
        where = f"{field}.{name}"
        if name not in OVERRIDABLE:
            raise InvalidInput(where, f"{where}: {_why_not(name)}; a variant may override: "
                               f"{', '.join(OVERRIDABLE)}")
        section, key = name.rsplit(".", 1)
        updates[section][key] = _checked(_SECTIONS[section], key, value, where)
    hybrid = settings.models.hybrid
    hedge = hybrid.hedge.model_copy(update=updates["models.hybrid.hedge"])
    hybrid = hybrid.model_copy(update={**updates["models.hybrid"], "hedge": hedge})
    negatives = settings.models.negatives.model_copy(update=updates["models.negatives"])
    max_per_category = updates["serving"].get("max_per_category",
                                              settings.serving.max_per_category)
    return ranker.plan(hybrid, negatives, max_per_category)


def _why_not(name: str) -> str:
    if accepts(Settings, name.lower().split(".")):
        return "shapes what the models learn, which one state serves to every variant"
    return "is not a setting"


def _checked(model: type[BaseModel], key: str, value: Any, where: str) -> Any:
    """``value`` as the setting's own validation makes it (e.g. a list of known sources)."""
    try:
        return getattr(model.model_validate({key: value}), key)
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]
        raise InvalidInput(where, f"{where}: {problem['msg']}") from None
