"""The impression store (storage/impressions.py): bounded, keyed by item ids, and an erasure
forgets one user's lists only."""

from __future__ import annotations

import numpy as np
import pytest

from streamrec.errors import InvalidInput
from streamrec.storage.impressions import (
    Impression,
    MemoryImpressions,
    open_impressions,
    ranked_list,
)


def a_list(n: int = 20) -> Impression:
    ranked = ranked_list([f"i{n}" for n in range(n)], np.linspace(1.0, 0.1, n),
                         [["popular now"]] * n)
    return Impression("u1", ranked, 0, 5)


def test_a_page_is_its_positions_of_the_list_and_pages_share_the_list() -> None:
    first = a_list()
    second = Impression("u1", first.ranked, first.end, first.end + 5)
    assert first.shown == ("i0", "i1", "i2", "i3", "i4")
    assert second.shown == ("i5", "i6", "i7", "i8", "i9")
    assert second.ranked is first.ranked
    assert first.ranked.reasons[0] is first.ranked.reasons[19]  # equal reasons kept once


def test_the_oldest_impressions_are_forgotten_beyond_the_capacity() -> None:
    impressions = MemoryImpressions(capacity=3)
    for n in range(5):
        impressions.remember(f"r{n}", a_list())
    assert len(impressions) == 3
    assert impressions.get("r1") is None and impressions.get("r4") is not None


def test_forgetting_a_user_forgets_their_lists_only() -> None:
    impressions = MemoryImpressions()
    mine, theirs = a_list(), a_list()
    theirs = Impression("u2", theirs.ranked, 0, 5)
    impressions.remember("r1", mine)
    impressions.remember("r2", theirs)
    impressions.remember("r3", mine)
    assert impressions.forget_user("u1") == 2
    assert impressions.get("r1") is None and impressions.get("r3") is None
    assert impressions.get("r2") == theirs


def test_an_unknown_store_url_names_the_setting() -> None:
    assert isinstance(open_impressions("memory:", 10), MemoryImpressions)
    with pytest.raises(InvalidInput) as raised:
        open_impressions("redis://localhost", 10)
    assert raised.value.field == "serving.impressions_url"
