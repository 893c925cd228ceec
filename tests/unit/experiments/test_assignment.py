"""Assignment: a pure function of (experiment, user key) and the weights, each variant
getting its weight's share of users, independently of other experiments."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from streamrec.experiments.assignment import bucket, pick, thresholds

USERS = [f"user-{n}" for n in range(20_000)]
weights_lists = st.lists(st.floats(min_value=0.01, max_value=100.0), min_size=2, max_size=20)


@given(st.text(min_size=1, max_size=64), st.text(min_size=1, max_size=256))
def test_a_users_bucket_is_the_same_every_time_and_in_zero_to_one(experiment: str,
                                                                    user: str) -> None:
    first = bucket(experiment, user)
    assert first == bucket(experiment, user)
    assert 0.0 <= first < 1.0


@given(weights_lists, st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_every_bucket_falls_in_one_variant_whose_share_holds_it(weights: list[float],
                                                                at: float) -> None:
    bounds = thresholds(weights)
    chosen = pick(weights, at)
    assert 0 <= chosen < len(weights)
    lower = bounds[chosen - 1] if chosen else 0.0
    assert lower <= at < bounds[chosen] or (chosen == len(weights) - 1 and at >= lower)


@given(weights_lists)
def test_each_variants_share_of_zero_to_one_is_its_share_of_the_weights(
        weights: list[float]) -> None:
    bounds = (0.0, *thresholds(weights))
    total = sum(weights)
    for position, weight in enumerate(weights):
        assert abs((bounds[position + 1] - bounds[position]) - weight / total) < 1e-9


def test_users_split_by_the_weights() -> None:
    counts = Counter(pick((1.0, 3.0), bucket("checkout", user)) for user in USERS)
    # binomial standard deviation at n=20,000, p=0.75: 0.003; 0.015 is five of them
    assert abs(counts[1] / len(USERS) - 0.75) < 0.015


def test_a_users_variant_in_one_experiment_says_nothing_of_another() -> None:
    pairs = Counter((pick((1.0, 1.0), bucket("first", user)),
                     pick((1.0, 1.0), bucket("second", user))) for user in USERS)
    for cell in ((0, 0), (0, 1), (1, 0), (1, 1)):
        assert abs(pairs[cell] / len(USERS) - 0.25) < 0.015, pairs
