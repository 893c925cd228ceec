"""query_positions against a brute-force reading of the rule, on random logs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.evaluation.queries import query_positions


def brute_force(users: list[int], items: list[int], sample: int, block: int) -> list[int]:
    chosen = []
    for p in range(len(users)):
        start = p - p % block
        before = range(start)
        user_has_history = any(users[q] == users[p] for q in before)
        item_is_new = not any(users[q] == users[p] and items[q] == items[p] for q in before)
        if p % sample == 0 and user_has_history and item_is_new:
            chosen.append(p)
    return chosen


logs = st.integers(0, 60).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 5), min_size=n, max_size=n),
    st.lists(st.integers(0, 7), min_size=n, max_size=n)))


@settings(max_examples=150)
@given(logs, st.integers(1, 4), st.integers(1, 6))
def test_query_positions_follow_the_rule(log: tuple[list[int], list[int]], sample: int,
                                         block: int) -> None:
    users, items = log
    found = query_positions(np.array(users, dtype=np.int64), np.array(items, dtype=np.int64),
                            sample, block)
    assert found.tolist() == brute_force(users, items, sample, block)


def test_a_repeat_inside_a_block_is_asked_twice() -> None:
    # item 2 first comes at 4 and again at 5: in blocks of 4 neither was had before the block
    users = np.array([0, 0, 0, 0, 0, 0])
    items = np.array([1, 1, 1, 1, 2, 2])
    assert query_positions(users, items, block=4).tolist() == [4, 5]
    assert query_positions(users, items, block=1).tolist() == [4]


def test_sampling_keeps_every_nth_position_only() -> None:
    users = np.zeros(10, dtype=np.int64)
    items = np.arange(10, dtype=np.int64)
    assert query_positions(users, items, sample=3).tolist() == [3, 6, 9]
    assert query_positions(users[:0], items[:0]).tolist() == []
