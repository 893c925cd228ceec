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
    # zero: an unproven source must not move the ranker's lists before the lessons show
    # what it is worth on this stream (its weights then grow from 0, FTRL pulling them back
    # towards it). Starting at 0.1/0.5/0.2 put the blend 1% below the blend without the
    # model on a small log where the model is useless (DIGINETICA's sample, docs/sequence.md)
    prior={"score": 0.0, "rank": 0.0, "top5": 0.0},
    reason="often comes next after what you engaged with lately",
    description="a GRU over the user's latest items (PyTorch, refit in the background), "
    "items embedded from their events and their content",
)
