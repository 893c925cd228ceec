"""The sequence model as a source: what tends to come next after the user's latest items.

Its worth is measured online like every source's (ranking/blend.py): a small, bulk-rated log
may give it little weight, a log of sessions more. Without torch it is never refit and stays
silent (no candidates, zero features); it still serves a fit the log names."""

from __future__ import annotations

from typing import Any

from streamrec.models.base import Model
from streamrec.models.sequence import SequenceModel
from streamrec.sources.base import Source


def _build(settings: Any) -> Model:  # settings.models (ModelSettings)
    return SequenceModel(settings.sequence)


SOURCE = Source(
    name="sequence",
    build=_build,
    # measured against 0/0/0 (docs/sequence.md, "Where it helps"): starting at 0 cost the
    # logs where the model helps (synthetic 1.023x -> 1.005x the blend without it, Online
    # Retail 1.012x -> 0.998x) and gained 2 hits of 7,197 on DIGINETICA
    prior={"score": 0.1, "rank": 0.5, "top5": 0.2},
    # fitted late (5,000 events) and weak on small or sparse logs, where its features cost
    # the blend a few hits: it serves once the stream shows the blend better with it
    on_probation=True,
    reason="often comes next after what you engaged with lately",
    description="a GRU over the user's latest items (PyTorch, refit in the background), "
    "items embedded from their events and their content",
)
