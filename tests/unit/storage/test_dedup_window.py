"""The deduplication window against a plain list model of what it must hold: the newest
``size`` accepted ids, less those of forgotten owners, oldest leaving first."""

from __future__ import annotations

import gc

from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.storage.dedup import DedupWindow

KEYS = st.sampled_from([f"k{i}" for i in range(12)])
OWNERS = st.sampled_from(["u1", "u2", "u3"])
OPERATIONS = st.lists(st.one_of(
    st.tuples(st.just("add"), KEYS, OWNERS),
    st.tuples(st.just("extend"), st.lists(st.tuples(KEYS, OWNERS), max_size=8)),
    st.tuples(st.just("forget"), OWNERS),
    st.tuples(st.just("add_many"), st.lists(st.tuples(KEYS, OWNERS), max_size=8)),
    # ids new to the window (the writer's usual commit): the ring's slices, not one by one
    st.tuples(st.just("add_fresh"), st.integers(0, 9), OWNERS),
), max_size=40)


class Model:
    def __init__(self, size: int) -> None:
        self.size = size
        self.held: list[tuple[str, str]] = []

    def add(self, key: str, owner: str) -> None:
        for at, (held, _) in enumerate(self.held):
            if held == key:
                self.held[at] = (key, owner)
                return
        self.held.append((key, owner))
        if len(self.held) > self.size:
            self.held.pop(0)

    def forget(self, owner: str) -> int:
        kept = [(key, holder) for key, holder in self.held if holder != owner]
        gone, self.held = len(self.held) - len(kept), kept
        return gone


@settings(max_examples=300, deadline=None)
@given(size=st.integers(1, 6), operations=OPERATIONS)
def test_the_window_holds_the_newest_ids_in_order(
        size: int, operations: list[tuple]) -> None:  # type: ignore[type-arg]
    window, model = DedupWindow(size), Model(size)
    fresh = 0
    for operation in operations:
        if operation[0] in ("add_many", "add_fresh"):
            if operation[0] == "add_many":
                pairs = operation[1]
            else:
                pairs = [(f"n{fresh + at}", operation[2]) for at in range(operation[1])]
                fresh += operation[1]
            window.add_many(pairs, looked_up=operation[0] == "add_fresh")
            for key, owner in pairs:
                model.add(key, owner)
        elif operation[0] == "add":
            window.add(operation[1], operation[2])
            model.add(operation[1], operation[2])
        elif operation[0] == "extend":
            window.extend(operation[1])
            for key, owner in operation[1]:
                model.add(key, owner)
        else:
            assert window.forget_owner(operation[1]) == model.forget(operation[1])
        assert len(window) == len(model.held)
        assert all(key in window for key, _ in model.held)
        assert all(window._owners[key] == owner for key, owner in model.held)
    # the order: fresh ids push the held ones out oldest first
    for at, (key, _) in enumerate(list(model.held)):
        window.add(f"fresh{at}", "u9")
        model.add(f"fresh{at}", "u9")
        assert (key in window) == any(held == key for held, _ in model.held)
        assert len(window) == len(model.held)


def test_a_window_rebuilt_at_once_equals_one_built_id_by_id() -> None:
    accepted = [(f"id{i}", f"u{i % 7}") for i in range(5_000)]
    at_once, one_by_one = DedupWindow(3_000), DedupWindow(3_000)
    at_once.extend(accepted)
    for key, owner in accepted:
        one_by_one.add(key, owner)
    for more in range(4_000):  # both then evict the same ids in the same order
        at_once.add(f"more{more}", "u0")
        one_by_one.add(f"more{more}", "u0")
        assert len(at_once) == len(one_by_one) == 3_000
    assert all((key in at_once) == (key in one_by_one) for key, _ in accepted)
    assert at_once.forget_owner("u0") == one_by_one.forget_owner("u0")


def test_the_garbage_collector_does_not_walk_the_window() -> None:
    """A full collection visits every reference a tracked container holds; a million ids
    held that way made each one ~40% longer at 1M events."""
    window = DedupWindow(10_000)
    window.extend((f"id{i}", f"u{i % 7}") for i in range(5_000))
    for i in range(20_000):
        window.add(f"next{i}", f"u{i % 5}")
    window.forget_owner("u1")
    gc.collect()
    walked = [part for part in gc.get_referents(window.__dict__) if gc.is_tracked(part)]
    assert walked == []
