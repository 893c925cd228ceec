"""The catalogue's attribute counts (ranking/attribute_names.py) kept in a snapshot: restored,
they answer as counting every item again would, and a snapshot without them is counted."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from streamrec.ranking.attribute_names import AttributeNames

values = st.one_of(st.text(max_size=3), st.integers(), st.lists(st.text(max_size=3), max_size=2),
                   st.lists(st.integers(), min_size=1, max_size=2))
attributes = st.dictionaries(st.sampled_from(["category", "genres", "title", "year", "price"]),
                             values, max_size=4)


def answers(names: AttributeNames) -> tuple[Any, ...]:
    known = tuple(n in names for n in ("category", "genres", "title", "year", "price"))
    return known, names.default_grouping()


@given(st.lists(st.tuples(attributes, attributes), max_size=30))
def test_restored_counts_answer_as_the_counted_ones(changes: list[tuple[dict[str, Any],
                                                                       dict[str, Any]]]) -> None:
    counted = AttributeNames()
    for before, after in changes:  # each item new, then changed
        counted.change({}, before)
        counted.change(before, after)
    restored = AttributeNames.restore(counted.state())
    assert restored is not None and answers(restored) == answers(counted)
    assert {k: v.tolist() for k, v in restored.state().items()} \
        == {k: v.tolist() for k, v in counted.state().items()}


def test_a_snapshot_without_counts_restores_none() -> None:
    assert AttributeNames.restore({}) is None
