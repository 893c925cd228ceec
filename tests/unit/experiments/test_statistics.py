"""Rates' and differences' intervals: known answers from Newcombe's paper, invariants by
hypothesis, coverage by simulation; and the verdict's plain words."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamrec.experiments.report import verdict_of
from streamrec.experiments.statistics import difference, lists_needed, wilson


@st.composite
def counts(draw: st.DrawFn) -> tuple[int, int]:
    trials = draw(st.integers(min_value=1, max_value=100_000))
    return draw(st.integers(min_value=0, max_value=trials)), trials


# Newcombe (1998), Statistics in Medicine 17:873-890, table II, method 10
@pytest.mark.parametrize(("b", "a", "expected"), [
    ((56, 70), (48, 80), (0.0524, 0.3339)),
    ((9, 10), (3, 10), (0.1705, 0.8090)),
    ((6, 7), (2, 7), (0.0582, 0.8062)),
    ((5, 56), (0, 29), (-0.0381, 0.1926)),
    ((0, 10), (0, 20), (-0.1611, 0.2775)),
])
def test_the_difference_interval_is_newcombes(b: tuple[int, int], a: tuple[int, int],
                                              expected: tuple[float, float]) -> None:
    low, high = difference(*b, *a)
    assert (round(low, 4), round(high, 4)) == expected


@given(counts())
def test_the_wilson_interval_holds_the_rate_inside_zero_to_one(found: tuple[int, int]) -> None:
    hits, trials = found
    low, high = wilson(hits, trials)
    assert 0.0 <= low <= hits / trials <= high <= 1.0


@given(counts(), counts())
def test_the_difference_interval_holds_the_difference_and_flips_with_the_order(
        b: tuple[int, int], a: tuple[int, int]) -> None:
    low, high = difference(*b, *a)
    seen = b[0] / b[1] - a[0] / a[1]
    assert -1.0 - 1e-12 <= low <= seen + 1e-12 and seen - 1e-12 <= high <= 1.0 + 1e-12
    back_low, back_high = difference(*a, *b)
    assert back_low == pytest.approx(-high) and back_high == pytest.approx(-low)


@pytest.mark.parametrize(("rate", "trials"), [(0.05, 100), (0.3, 40), (0.01, 1000)])
def test_the_wilson_interval_covers_the_true_rate_about_95_times_in_100(rate: float,
                                                                        trials: int) -> None:
    rng = np.random.default_rng(7)
    draws = rng.binomial(trials, rate, size=4000)
    covered = np.mean([low <= rate <= high for low, high in (wilson(int(d), trials)
                                                            for d in draws)])
    assert 0.92 <= covered <= 0.985, covered


def test_the_difference_interval_covers_the_true_difference_about_95_times_in_100() -> None:
    rng = np.random.default_rng(11)
    rate_a, rate_b, trials = 0.10, 0.14, 300
    hits_a = rng.binomial(trials, rate_a, size=3000)
    hits_b = rng.binomial(trials, rate_b, size=3000)
    covered = np.mean([low <= rate_b - rate_a <= high for low, high in (
        difference(int(b), trials, int(a), trials) for a, b in zip(hits_a, hits_b,
                                                                   strict=True))])
    assert 0.93 <= covered <= 0.975, covered


def test_more_lists_are_needed_for_a_smaller_difference() -> None:
    small, large = lists_needed(0.10, 0.11), lists_needed(0.10, 0.15)
    assert small is not None and large is not None and small > large
    assert lists_needed(0.0, 0.0) is None
    # the textbook figure: 10% against 15% at 95% and power 0.8 needs ~683 per group
    assert 670 <= large <= 700


def test_the_verdict_names_the_better_variant_with_its_interval() -> None:
    verdict, winner = verdict_of("click", [("A", 2000, 200), ("B", 2000, 300)])
    assert winner == "B"
    assert verdict.startswith("B beats A on clicks by +5.0 pts (95% CI +")


def test_the_verdict_names_the_control_when_it_is_better() -> None:
    verdict, winner = verdict_of("purchase", [("A", 2000, 300), ("B", 2000, 200)])
    assert winner == "A"
    assert verdict.startswith("A beats B on purchases by +5.0 pts (95% CI +")


def test_without_a_clear_difference_the_verdict_says_how_many_more_lists_would_tell() -> None:
    verdict, winner = verdict_of("click", [("A", 200, 20), ("B", 200, 24)])
    assert winner is None
    assert verdict.startswith("no clear difference yet (B - A: +2.0 pts, 95% CI -")
    assert verdict.endswith("more impressions")


def test_the_verdict_before_any_impression_or_click() -> None:
    assert verdict_of("click", [("A", 0, 0), ("B", 0, 0)]) == ("no impressions yet", None)
    verdict, _ = verdict_of("click", [("A", 50, 0), ("B", 50, 0)])
    assert verdict.endswith("no clicks yet")


def test_with_three_variants_each_comparison_is_made_at_a_bonferroni_level() -> None:
    verdict, winner = verdict_of("click", [("A", 3000, 300), ("B", 3000, 450),
                                           ("C", 3000, 310)])
    assert winner == "B"
    assert "B beats A on clicks by +5.0 pts (97.5% CI" in verdict
    assert "no clear difference yet (C - A" in verdict
