"""Users' recent windows in one slab (models/windows.py) against a plain-Python reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.models.windows import RecentWindows

events_strategy = st.lists(
    st.tuples(st.integers(0, 30), st.integers(0, 12), st.booleans()), max_size=300)


def reference(events: list[tuple[int, int, bool]], window: int
              ) -> tuple[dict[int, list[int]], list[list[int]]]:
    windows: dict[int, list[int]] = {}
    partners = []
    for user, item, positive in events:
        recent = windows.setdefault(user, [])
        if not positive:
            partners.append([])
            continue
        if item in recent:
            recent.remove(item)
        partners.append(list(recent))
        recent.append(item)
        del recent[:-window]
    return windows, partners


def paired(windows: RecentWindows, events: list[tuple[int, int, bool]],
           batch: int) -> list[list[int]]:
    out: list[list[int]] = []
    for start in range(0, len(events), batch):
        chunk = events[start:start + batch]
        flat, counts = windows.pair(np.array([u for u, _, _ in chunk], dtype=np.int64),
                                    np.array([i for _, i, _ in chunk], dtype=np.int64),
                                    np.array([p for _, _, p in chunk], dtype=bool))
        bounds = np.r_[0, np.cumsum(counts)]
        out += [flat[bounds[n]:bounds[n + 1]].tolist() for n in range(len(chunk))]
    return out


@settings(max_examples=150, deadline=None)
@given(events_strategy, st.integers(1, 9), st.integers(1, 50))
def test_pairs_and_windows_are_the_references_whatever_the_batches(
        events: list[tuple[int, int, bool]], window: int, batch: int) -> None:
    windows = RecentWindows(window)
    expected_windows, expected_partners = reference(events, window)
    assert paired(windows, events, batch) == expected_partners
    for user in range(32):
        assert windows.of(user).tolist() == expected_windows.get(user, [])
    state = windows.state()
    users = sorted(u for u, w in expected_windows.items() if w)
    assert state["recent_users"].tolist() == users
    bounds = state["recent_indptr"].tolist()
    assert [state["recent_items"][bounds[n]:bounds[n + 1]].tolist()
            for n in range(len(users))] == [expected_windows[u] for u in users]


@settings(max_examples=60, deadline=None)
@given(events_strategy, events_strategy, st.integers(1, 9))
def test_a_restored_window_goes_on_as_the_original(
        before: list[tuple[int, int, bool]], after: list[tuple[int, int, bool]],
        window: int) -> None:
    original = RecentWindows(window)
    paired(original, before, 7)
    restored = RecentWindows(window)
    state = original.state()
    restored.restore(state["recent_users"], state["recent_indptr"], state["recent_items"])
    assert paired(restored, after, 5) == paired(original, after, 5)
    assert all(np.array_equal(a, b) for a, b in zip(restored.state().values(),
                                                     original.state().values(), strict=True))


def test_restored_windows_have_the_room_learning_gave_them() -> None:
    """Each restored window has the room doubling gives it (the power of two above its
    length, at least 4, at most the window), so its user's next event does not move it
    (a crash's replay would otherwise move every window it touches, and pack the slab)."""
    original = RecentWindows(50)
    lengths = [1, 3, 4, 5, 17, 32, 33, 50]
    paired(original, [(user, item, True) for user, length in enumerate(lengths)
                      for item in range(length)], 100)
    restored = RecentWindows(50)
    state = original.state()
    restored.restore(state["recent_users"], state["recent_indptr"], state["recent_items"])
    assert restored._meta[:len(lengths), 2].tolist() == [4, 4, 8, 8, 32, 50, 50, 50]
    slab, end = restored._slab, restored._end
    next_events = [(user, 100, True) for user in range(len(lengths))]
    assert paired(restored, next_events, 100) == paired(original, next_events, 100)
    assert restored._slab is slab and restored._end == end  # none moved


def test_many_users_make_the_slab_pack_and_every_window_survives() -> None:
    rng = np.random.default_rng(3)
    users, items = rng.integers(0, 5_000, 60_000), rng.integers(0, 400, 60_000)
    events = list(zip(users.tolist(), items.tolist(), [True] * users.size, strict=True))
    windows = RecentWindows(6)
    expected_windows, expected_partners = reference(events, 6)
    assert paired(windows, events, 1_000) == expected_partners
    assert all(windows.of(u).tolist() == w for u, w in expected_windows.items())


def test_a_smaller_window_restores_the_newest_items() -> None:
    wide = RecentWindows(5)
    paired(wide, [(0, i, True) for i in range(5)] + [(1, 9, True)], 10)
    narrow = RecentWindows(2)
    state = wide.state()
    narrow.restore(state["recent_users"], state["recent_indptr"], state["recent_items"])
    assert narrow.of(0).tolist() == [3, 4] and narrow.of(1).tolist() == [9]


def test_put_replaces_a_window_keeping_its_newest() -> None:
    windows = RecentWindows(3)
    paired(windows, [(0, 1, True), (0, 2, True)], 10)
    windows.put(0, np.array([5, 6, 7, 8]))
    windows.put(1, np.array([4]))
    assert windows.of(0).tolist() == [6, 7, 8] and windows.of(1).tolist() == [4]
    assert paired(windows, [(0, 9, True)], 1) == [[6, 7, 8]]
    assert windows.of(0).tolist() == [7, 8, 9]


def test_a_cleared_window_is_empty_and_gives_up_its_room() -> None:
    windows = RecentWindows(window=50)
    users = np.repeat(np.arange(10), 60)
    windows.pair(users, np.arange(users.size) % 97, np.ones(users.size, dtype=bool))
    windows.clear(np.arange(5))
    assert windows.of(0).size == 0 and windows.of(7).size == 50
    partners, counts = windows.pair(np.array([0, 0]), np.array([3, 4]),
                                    np.ones(2, dtype=bool))
    assert partners.tolist() == [3] and counts.tolist() == [0, 1]
    assert windows._meta[:5, 2].tolist() == [4, 0, 0, 0, 0]  # a new user's first room


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["pair", "put", "clear"]))
def test_room_made_ahead_changes_no_window_and_a_stale_one_is_not_put_in_place(
        seed: int, change: str) -> None:
    """As the sparse rows' (test_sparse_rows.py): the windows packed ahead equal the ones
    packed as pairing needs it, and a pack made before a change is dropped."""
    rng = np.random.default_rng(seed)
    windows, reference = RecentWindows(8), RecentWindows(8)
    made = stale = 0
    for step in range(150):
        users, items = rng.integers(0, 400, 50), rng.integers(0, 60, 50)
        events = list(zip(users.tolist(), items.tolist(), [True] * 50, strict=True))
        before = windows.state()
        put_in_place = windows.make_room(ahead=rng.choice([0.05, 0.5, 1.0]))
        assert all(np.array_equal(a, b) for a, b in zip(before.values(),
                                                         windows.state().values(), strict=True))
        if put_in_place is not None:
            made += 1
            if step % 2:
                stale += 1
                for target in (windows, reference):
                    if change == "pair":
                        paired(target, events[:5], 5)
                    elif change == "put":
                        target.put(int(users[0]), np.arange(8))
                    else:
                        target.clear(users[:3])
            put_in_place()
        assert paired(windows, events, 50) == paired(reference, events, 50)
    assert made > 3 and stale > 0
    assert all(np.array_equal(a, b) for a, b in zip(windows.state().values(),
                                                     reference.state().values(), strict=True))
