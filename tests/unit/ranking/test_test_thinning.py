"""Which eligible events the ranker tests and learns from (``HybridRanker.wants_example``):
every one at first, then thinning, and past ``thin_after`` thinning on with the log, so a
log of millions pays a candidate pass ever more rarely; the same events in every replay."""

from __future__ import annotations

import numpy as np

from streamrec.ranking.hedge import HedgeConfig
from streamrec.ranking.hybrid import HybridConfig, HybridRanker


def chosen(config: HybridConfig, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The eligible events (1-based) tested, and those that were lessons."""
    ranker = HybridRanker(config)
    tested, lessons = [], []
    for seen in range(1, n + 1):
        if ranker.wants_example():
            tested.append(seen)
            if ranker.lesson_now:
                lessons.append(seen)
    return np.array(tested), np.array(lessons)


def between(picks: np.ndarray, low: int, high: int) -> int:
    return int(((picks > low) & (picks <= high)).sum())


def test_past_thin_after_lessons_and_tests_thin_in_proportion_to_the_log() -> None:
    hedge = HedgeConfig(test_until=0)  # tests only at lessons, as on a large log
    thinning = HybridConfig(train_every=10, warmup_events=0, thin_after=1_000, hedge=hedge)
    tested, lessons = chosen(thinning, 8_000)
    assert np.array_equal(tested, lessons)
    assert between(lessons, 0, 1_000) == 100  # every 10th
    assert between(lessons, 1_000, 2_000) == 99 + 1  # every 10th, to 2,000 (every 20th)
    assert between(lessons, 2_000, 4_000) == 100  # every 20th
    assert between(lessons, 4_000, 8_000) == 100  # every 40th, to 8,000 (every 80th)
    never = HybridConfig(train_every=10, warmup_events=0, thin_after=0, hedge=hedge)
    assert between(chosen(never, 8_000)[1], 7_000, 8_000) == 100
    again, _ = chosen(thinning, 8_000)
    assert np.array_equal(again, tested)  # a function of the count alone: replays agree
