"""How sure a difference is: paired per-query differences with batch-means errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamrec.evaluation.paired import paired

hits = st.lists(st.sampled_from([0.0, 1.0]), min_size=2, max_size=300)


@given(hits)
def test_a_model_against_itself_differs_by_nothing(values: list[float]) -> None:
    ours = np.array(values)
    found = paired(ours, ours.copy())
    assert found.difference == 0.0 and found.standard_error == 0.0
    assert found.low == found.high == 0.0


@given(hits, hits)
def test_the_difference_is_the_difference_of_the_means_and_inside_its_interval(
        a: list[float], b: list[float]) -> None:
    n = min(len(a), len(b))
    ours, theirs = np.array(a[:n]), np.array(b[:n])
    found = paired(ours, theirs)
    assert found.difference == pytest.approx(ours.mean() - theirs.mean())
    assert found.low <= found.difference <= found.high
    assert found.queries == n


def test_a_clear_difference_excludes_zero_and_noise_does_not() -> None:
    rng = np.random.default_rng(0)
    theirs = (rng.random(4_000) < 0.10).astype(float)
    better = np.maximum(theirs, rng.random(4_000) < 0.05)  # 5% more hits, never fewer
    clear = paired(better, theirs)
    assert clear.low > 0.0 and clear.blocks == 20
    same = (rng.random(4_000) < 0.10).astype(float)  # another draw of the same model
    noise = paired(same, theirs)
    assert noise.low < 0.0 < noise.high


def test_stretches_widen_the_interval_beyond_independent_queries() -> None:
    # one model is ahead for a long stretch, then behind for as long: the queries within a
    # stretch are not independent, and blocks of consecutive queries see it
    differences = np.repeat([1.0, 0.0, -1.0, 0.0] * 5, 100)
    ours, theirs = np.maximum(differences, 0.0), np.maximum(-differences, 0.0)
    blocked = paired(ours, theirs)
    independent = paired(ours, theirs, blocks=1)
    assert independent.blocks == 0
    assert blocked.standard_error > 2 * independent.standard_error


def test_the_same_queries_are_required() -> None:
    with pytest.raises(ValueError, match="same queries"):
        paired(np.zeros(3), np.zeros(4))
