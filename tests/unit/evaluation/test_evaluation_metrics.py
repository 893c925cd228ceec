"""Metric code against small cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from streamrec.evaluation.metrics import (
    catalogue_coverage,
    novelty,
    percentile_ms,
    score_list,
    windowed_mean,
)
from streamrec.evaluation.runs import RunCollector


def test_a_hit_at_rank_one_scores_one_everywhere() -> None:
    scores = score_list([4, 5, 6], [4], k=3)
    assert (scores.hit, scores.recall, scores.ndcg, scores.reciprocal_rank) == (1, 1, 1, 1)


def test_a_hit_at_rank_three() -> None:
    scores = score_list([4, 5, 6], [6], k=3)
    assert scores.hit == 1.0 and scores.recall == 1.0
    assert scores.ndcg == pytest.approx(1 / math.log2(4))  # 0.5
    assert scores.reciprocal_rank == pytest.approx(1 / 3)


def test_a_hit_beyond_k_is_a_miss() -> None:
    scores = score_list([4, 5, 6], [6], k=2)
    assert (scores.hit, scores.recall, scores.ndcg, scores.reciprocal_rank) == (0, 0, 0, 0)


def test_fewer_than_k_results_are_judged_as_they_are() -> None:
    # two items for k=10: missing places are misses, nothing is padded or renormalised
    found = score_list([8, 9], [9], k=10)
    assert found.ndcg == pytest.approx(1 / math.log2(3))
    assert found.reciprocal_rank == 0.5
    empty = score_list([], [9], k=10)
    assert (empty.hit, empty.recall, empty.ndcg, empty.reciprocal_rank) == (0, 0, 0, 0)


def test_ties_are_credited_at_the_rank_the_model_gave() -> None:
    # a model scoring items 1 and 2 equally returned 2 first (its tie-break): the list order
    # is the ranking, so the relevant item 1 is at rank 2, never "shared" rank 1.5
    assert score_list([2, 1, 3], [1], k=3).reciprocal_rank == 0.5
    assert score_list([1, 2, 3], [1], k=3).reciprocal_rank == 1.0


def test_a_repeated_item_counts_once_at_its_first_place() -> None:
    scores = score_list([7, 7, 3], [7, 3], k=3)
    # hits at ranks 1 and 3; ideal: ranks 1 and 2
    ideal = 1 + 1 / math.log2(3)
    assert scores.recall == 1.0
    assert scores.ndcg == pytest.approx((1 + 1 / math.log2(4)) / ideal)


def test_several_relevant_items() -> None:
    scores = score_list([1, 2, 3, 4], [2, 4, 9], k=4)
    assert scores.hit == 1.0
    assert scores.recall == pytest.approx(2 / 3)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)  # min(|R|=3, k=4) = 3 ideal hits
    assert scores.ndcg == pytest.approx(dcg / ideal)
    assert scores.reciprocal_rank == 0.5


def test_ideal_dcg_is_capped_at_k() -> None:
    # 5 relevant items, k = 2, both places hit: a perfect list
    assert score_list([1, 2], [1, 2, 3, 4, 5], k=2).ndcg == pytest.approx(1.0)


def test_nothing_to_find_is_refused_not_scored_zero() -> None:
    # a user with nothing held out must be left out by the protocol, not averaged in as 0
    with pytest.raises(ValueError):
        score_list([1, 2], [], k=2)


def test_coverage_ignores_padding_and_counts_each_item_once() -> None:
    recommended = np.array([[0, 1, -1], [1, 2, -1]])
    assert catalogue_coverage(recommended, 6) == pytest.approx(3 / 6)
    assert catalogue_coverage(np.zeros((0, 3), np.int64), 6) == 0.0


def test_novelty_is_mean_self_information() -> None:
    # item 0 had by 4 of 8 users (1 bit), item 1 by 1 of 8 (3 bits)
    got = novelty(np.array([[0, 1], [1, -1]]), np.array([4, 1]), 8)
    assert got == pytest.approx((1 + 3 + 3) / 3)


def test_percentiles_in_milliseconds() -> None:
    latencies = np.array([0.001, 0.002, 0.003])
    assert percentile_ms(latencies, 50) == pytest.approx(2.0)
    assert percentile_ms(np.zeros(0), 99) == 0.0


def test_windows_split_the_stream_by_position() -> None:
    starts, means, counts = windowed_mean(np.array([0, 1, 2, 9]), np.array([1, 0, 1, 1.0]),
                                          n_events=10, windows=5)
    assert starts.tolist() == [0, 2, 4, 6, 8]
    assert counts.tolist() == [2, 1, 0, 0, 1]
    assert means[0] == 0.5 and means[1] == 1.0 and math.isnan(means[2])


def test_collector_pads_short_lists_and_keeps_query_order() -> None:
    collector = RunCollector("m", k=3)
    collector.add(5, 0, np.array([9, 8]), [8], 0.001)
    collector.add(7, 1, np.array([1, 2, 3, 4]), [4], 0.002)  # the 4th item is beyond k
    run = collector.finish(learned_events=10, learn_seconds=0.5)
    assert run.recommended.tolist() == [[9, 8, -1], [1, 2, 3]]
    assert run.score("hit").tolist() == [1.0, 0.0]
    assert run.score("reciprocal_rank").tolist() == [0.5, 0.0]
    assert run.positions.tolist() == [5, 7]


def test_catalogue_only_items_count_as_misses_not_coverage() -> None:
    # id 5 is beyond the log's 4 items (an item only the catalogue knows)
    recommended = np.array([[5, 0]])
    assert catalogue_coverage(recommended, 4) == pytest.approx(1 / 4)
    assert novelty(recommended, np.array([2, 1, 1, 1]), 4) == pytest.approx((2 + 1) / 2)
