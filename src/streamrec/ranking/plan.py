"""How a list is made on the read path: the settings that change serving only.

The models, the ranker's weights and the blend's measurements are learned from the log and
shared by every list. What a read chooses on top of them (which sources may bring
candidates, how many each, whether and how the blend mixes its experts, how hard a dislike
pushes, the default diversity) is a ``ServingPlan``. The engine makes one from its settings
(``HybridRanker.plan``), and an experiment one per variant when it starts
(``streamrec.experiments``), so a read never rebuilds settings: it picks a plan.
"""

from __future__ import annotations

from dataclasses import dataclass

from streamrec.ranking.hedge import Hedge
from streamrec.ranking.negatives import NegativesConfig


@dataclass(frozen=True, slots=True)
class ServingPlan:
    per_source: int  # candidates each source brings
    only_source: str | None  # one source alone, ranked by its own score
    disabled: frozenset[str]  # sources that bring and score nothing on lists
    mixes: bool  # the blend mixes its experts (else the learned ranker alone)
    hedge: Hedge  # weights over the blend's experts, by this plan's rate and ranker prior
    paced_candidates: int  # candidates each popularity-at-the-log's-pace expert brings
    negatives: NegativesConfig
    max_per_category: int | None  # diversity of a list whose request asks for none
