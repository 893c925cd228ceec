"""Impressions (engine/impressions.py): bounded, and each one holds only its own items."""

from __future__ import annotations

import numpy as np

from streamrec.engine.impressions import Impression, Impressions


def test_an_impression_does_not_keep_the_candidate_list_it_was_cut_from() -> None:
    impressions = Impressions()
    ranked = np.arange(400, dtype=np.int64)  # the whole ranked list; a page of 10 is shown
    impressions.remember("r1", Impression("u1", ranked[:10], np.zeros(0, np.int64)))
    impressions.remember("r2", Impression("u1", ranked[10:20], ranked[:10]))
    first, second = impressions.get("r1"), impressions.get("r2")
    assert first is not None and second is not None
    assert first.items.tolist() == list(range(10)) and first.items.base is None
    assert second.shown_before.tolist() == list(range(10)) and second.shown_before.base is None
    ranked[:] = -1  # the caller's array may change: the impression keeps what was shown
    assert first.items.tolist() == list(range(10))


def test_the_oldest_impressions_are_forgotten_beyond_the_capacity() -> None:
    impressions = Impressions(capacity=3)
    for n in range(5):
        impressions.remember(f"r{n}", Impression("u", np.array([n]), np.zeros(0, np.int64)))
    assert len(impressions) == 3
    assert impressions.get("r1") is None and impressions.get("r4") is not None
