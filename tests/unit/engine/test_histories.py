"""Bounded user histories (engine/histories.py): the last ``keep`` events stay, older ones
leave only their items behind for exclude-seen, and nothing depends on batching."""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.engine.histories import UserHistories
from streamrec.models import change_log
from streamrec.storage.snapshots import AsSaved, Kept, SnapshotStore, read_snapshot
from streamrec.types import EventBatch

KEEP = 20
LIMIT = KEEP + 16  # trimmed past keep plus max(16, keep // 4)


def batch(users: list[int], items: list[int], start: float = 0.0) -> EventBatch:
    n = len(users)
    return EventBatch(np.array(users, dtype=np.int64), np.array(items, dtype=np.int64),
                      np.arange(1.0, n + 1.0), start + np.arange(float(n)))


def one_user(items: list[int]) -> EventBatch:
    return batch([0] * len(items), items)


def test_a_history_keeps_its_recent_events_and_every_item_it_saw() -> None:
    items = list(range(100, 400))  # 300 events, each a new item
    histories = UserHistories(KEEP)
    histories.learn(one_user(items))
    recent, weights, times = histories.recent(0, KEEP)
    assert recent.tolist() == items[-KEEP:]
    assert weights.tolist() == list(range(281, 301)) and times.tolist() == list(range(280, 300))
    assert histories.seen(0).tolist() == items  # trimmed events' items included
    assert histories.event_count(0) == 300
    assert len(histories.state()["items"]) <= LIMIT


def test_memory_stops_growing_when_the_same_items_come_back() -> None:
    histories = UserHistories(KEEP)
    sizes = []
    for round_ in range(60):
        histories.learn(batch([0, 1] * 50, [n % 30 for n in range(100)], start=100.0 * round_))
        state = histories.state()
        sizes.append(sum(a.nbytes for a in state.values()))
    # between keep and keep + 16 events per user (the kept length cycles with period 17
    # rounds here), and the same 15 older items
    assert max(sizes[20:]) <= max(sizes[:20])
    assert histories.seen(0).tolist() == list(range(0, 30, 2))
    assert histories.event_count(1) == 60 * 50


def test_the_state_does_not_depend_on_how_events_were_batched() -> None:
    rng = np.random.default_rng(1)
    users, items = rng.integers(0, 3, 500).tolist(), rng.integers(0, 60, 500).tolist()
    whole, pieces = UserHistories(KEEP), UserHistories(KEEP)
    whole.learn(batch(users, items))
    everything = batch(users, items)
    for start, end in ((0, 7), (7, 150), (150, 151), (151, 500)):
        pieces.learn(EventBatch(everything.users[start:end], everything.items[start:end],
                                everything.weights[start:end], everything.timestamps[start:end]))
    for key, array in whole.state().items():
        np.testing.assert_array_equal(pieces.state()[key], array, err_msg=key)


def test_state_round_trips_and_an_unbounded_snapshot_is_trimmed_on_restore() -> None:
    items = [n % 50 for n in range(200)]
    bounded = UserHistories(KEEP)
    bounded.learn(one_user(items))
    restored = UserHistories(KEEP)
    restored.restore(bounded.state())
    for key, array in bounded.state().items():
        np.testing.assert_array_equal(restored.state()[key], array, err_msg=key)
    unbounded = UserHistories()
    unbounded.learn(one_user(items))
    old = {k: v for k, v in unbounded.state().items()
           if k in ("users", "indptr", "items", "weights", "times")}  # before the bound
    trimmed = UserHistories(KEEP)
    trimmed.restore(old)
    assert trimmed.recent(0, KEEP)[0].tolist() == items[-KEEP:]
    assert trimmed.seen(0).tolist() == unbounded.seen(0).tolist() == list(range(50))
    assert trimmed.event_count(0) == 200


def test_a_merge_joins_trimmed_items_and_counts() -> None:
    histories = UserHistories(KEEP)
    histories.learn(batch([0] * 100, list(range(100))))
    histories.learn(batch([1] * 100, list(range(100, 200)), start=1_000.0))
    histories.merge(0, 1)
    assert histories.seen(1).tolist() == list(range(200))
    assert histories.event_count(1) == 200 and histories.event_count(0) == 0
    assert histories.recent(1, KEEP)[0].tolist() == list(range(180, 200))
    assert len(histories.state()["items"]) <= LIMIT


def assert_same_histories(found: UserHistories, expected: UserHistories, users: int,
                          items: int) -> None:
    assert len(found) == len(expected)
    for user in range(users):
        for n in (KEEP // 2, 10**6):
            for got, want in zip(found.recent(user, n), expected.recent(user, n), strict=True):
                assert got.tolist() == want.tolist()
        assert found.seen(user).tolist() == expected.seen(user).tolist()
        assert found.event_count(user) == expected.event_count(user)
        assert [found.has_seen(user, i) for i in range(items)] == \
            [expected.has_seen(user, i) for i in range(items)]
    assert found.budgets() == expected.budgets()
    assert_before_answers_as_each_pair(found, expected, users, items)


def assert_before_answers_as_each_pair(found: UserHistories, expected: UserHistories,
                                       users: int, items: int) -> None:
    """``before`` over every pair (users never seen and item -1, never seen, included)
    answers as ``event_count`` and ``has_seen`` do one pair at a time."""
    pair_users = np.repeat(np.arange(users + 2), items + 1)
    pair_items = np.tile(np.arange(-1, items), users + 2)
    had, seen = found.before(pair_users, pair_items)
    pairs = list(zip(pair_users.tolist(), pair_items.tolist(), strict=True))
    assert had.tolist() == [expected.event_count(user) > 0 for user, _ in pairs]
    assert seen.tolist() == [item >= 0 and expected.has_seen(user, item)
                             for user, item in pairs]


def test_histories_read_in_place_after_a_restore_or_a_snapshot_equal_those_never_saved() -> None:
    """A restore reads the saved arrays in place and a snapshot's ``state`` takes the place
    of the histories changed since: between them, reads (of users the learner has changed
    since and of users it has not), merges and the next state are what they are in
    histories never saved."""
    rng = np.random.default_rng(7)
    users, items = 9, 70
    expected, found = UserHistories(KEEP), UserHistories(KEEP)
    start = 0.0
    for step in range(40):
        size = int(rng.integers(1, 60))
        learned = batch(rng.integers(0, users, size).tolist(),
                        rng.integers(0, items, size).tolist(), start=start)
        start += size
        expected.learn(learned)
        found.learn(learned)
        if step % 7 == 3:
            source, target = (int(u) for u in rng.choice(users, 2, replace=False))
            expected.merge(source, target)
            found.merge(source, target)
        if step % 3 == 0:  # a restart from the state saved now
            restarted = UserHistories(KEEP)
            restarted.restore(found.state())
            found = restarted
        elif step % 3 == 1:  # a snapshot
            found.state()
        assert_same_histories(found, expected, users, items)
    for key, array in expected.state().items():  # its first state: it was never saved
        np.testing.assert_array_equal(found.state()[key], array, err_msg=key)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 30)),
                                   max_size=40),
                          st.sampled_from(["learn", "snapshot", "restart"])),
                min_size=1, max_size=12))
def test_a_batchs_questions_at_once_answer_as_one_at_a_time(
        steps: list[tuple[list[tuple[int, int]], str]]) -> None:
    """Whatever was learned, saved or restored, ``before`` (the learner's eligibility for a
    whole batch, compiled) equals ``event_count > 0`` and ``has_seen`` per pair."""
    histories = UserHistories(4)  # short: trims, and older items, come soon
    start = 0.0
    for pairs, then in steps:
        if pairs:
            users, items = (list(column) for column in zip(*pairs, strict=True))
            histories.learn(batch(users, items, start=start))
            start += len(pairs)
        if then == "snapshot":
            histories.state()
        elif then == "restart":
            restarted = UserHistories(4)
            restarted.restore(histories.state())
            histories = restarted
        assert_before_answers_as_each_pair(histories, histories, 6, 31)


def test_readers_beside_a_snapshots_state_read_every_history_whole() -> None:
    """A snapshot's ``state`` runs beside readers (both under the read lock) and replaces
    the stored arrays, where rows move as users come: a reader meanwhile reads each history
    from one version of them, never a row of one with the arrays of the other."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch between nearly any two bytecodes
    try:
        histories = UserHistories(KEEP)
        known: list[int] = []
        for round_ in range(150):
            # a new user sorting before all the others (every stored row moves by one), and
            # a few of the others changed; each user's events are all of one item, their own
            known.append(1_000 - round_)
            some = known[-1:] + known[round_ % 3::3]
            histories.learn(batch(some * 2, some * 2, start=100.0 * round_))
            wrong: list[int] = []

            def read(users: list[int], wrong: list[int]) -> None:
                for user in users:
                    if set(histories.recent(user, KEEP)[0].tolist()) != {user} or \
                            histories.seen(user).tolist() != [user]:
                        wrong.append(user)

            readers = [threading.Thread(target=read, args=(list(known), wrong))
                       for _ in range(3)]
            for reader in readers:
                reader.start()
            histories.state()
            for reader in readers:
                reader.join()
            assert wrong == []
    finally:
        sys.setswitchinterval(interval)


def histories_arrays(histories: UserHistories) -> dict[str, bytes]:
    return {key: value.tobytes() for key, value in histories.state().items()}


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([None, 5]),
       st.lists(st.sampled_from(["learn", "learn", "learn", "merge", "forget", "capture",
                                 "capture", "failed", "restart"]), min_size=1, max_size=40))
def test_a_capture_by_changes_restores_the_histories_of_its_moment(
        seed: int, keep: int | None, steps: list[str]) -> None:
    """Histories in a snapshot by their changes (models/change_log.py): a base now and then,
    in between that base named again and the events, merges and forgets since. Each
    snapshot, read back from a real store after every later change, restores the histories
    of its moment exactly (trims included); after a restart from one whose store adopted
    it, the next snapshot names the same base; a store that no longer holds it (a failed
    save, an erasure) gets a base again."""
    rng = np.random.default_rng(seed)
    histories = UserHistories(keep)
    # ~160 events: a sixteenth of the base holds a batch, so changes are named often
    histories.learn(batch(rng.integers(0, 8, 160).tolist(), rng.integers(0, 30, 160).tolist()))
    clock = 200.0
    with tempfile.TemporaryDirectory() as folder:
        store = SnapshotStore(Path(folder), keep=100)
        taken: list[tuple[int, dict[str, bytes]]] = []
        named = 0
        for step in steps:
            if step == "learn":
                n = int(rng.integers(1, 6))
                histories.learn(batch(rng.integers(0, 10, n).tolist(),
                                      rng.integers(0, 30, n).tolist(), start=clock))
                clock += n
            elif step == "merge":
                source, target = rng.choice(10, 2, replace=False).tolist()
                histories.merge(source, target)
            elif step == "forget":
                histories.forget_users(rng.integers(0, 10, 2))
            elif step == "failed":  # a save failed, or an erasure deleted every snapshot
                store.delete_all()
                taken.clear()
            elif step == "restart" and taken:  # from the newest: the store adopts it
                snapshot = next(store.readable())
                histories = UserHistories(keep)
                histories.restore(snapshot.components["histories"])
                store.adopt(snapshot)
            elif step == "capture":
                captured = histories.capture(store.holds)
                named += any(isinstance(value, AsSaved) for value in captured.values())
                offset = len(taken) + 1
                store.save(offset, {"histories": captured}, {})
                taken.append((offset, histories_arrays(histories)))
        histories.learn(batch([1, 2], [3, 4], start=clock))  # changes after the last too
        for offset, expected in taken:
            snapshot = read_snapshot(next(f for f in store.folders()
                                          if f.name.endswith(f"{offset:020d}")))
            restored = UserHistories(keep)
            restored.restore(snapshot.components["histories"])
            assert histories_arrays(restored) == expected
    if steps[:3] in (["capture", "learn", "capture"], ["capture", "restart", "capture"]):
        assert named  # the base held, and the changes small: the second named the base


def test_changes_past_a_share_of_the_base_make_the_next_capture_a_base() -> None:
    histories = UserHistories(KEEP)
    histories.learn(batch([n % 7 for n in range(320)], [n % 41 for n in range(320)]))
    kept: set[str] = set()
    first = histories.capture(kept.__contains__)
    kept.update(value.token for value in first.values() if isinstance(value, Kept))
    assert isinstance(first["items"], Kept)
    entries = int(first["items"].array.size + first["older_items"].array.size)
    added = 0
    while added + 3 <= change_log.SHARE * entries:
        histories.learn(batch([1, 2, 3], [5, 6, 7], start=1000.0 + added))
        added += 3
        by_changes = histories.capture(kept.__contains__)
        assert isinstance(by_changes["items"], AsSaved)
        assert by_changes["log_items"].size == added  # type: ignore[union-attr]
    histories.learn(batch([1, 2, 3], [5, 6, 7], start=5000.0))  # past the share
    assert isinstance(histories.capture(kept.__contains__)["items"], Kept)


def test_histories_restored_from_a_capture_carry_on_from_its_base(tmp_path: Path) -> None:
    """A start whose store adopted the snapshot it restored: its first snapshot names the
    base that snapshot named, and adds the changes saved in it and made since."""
    histories = UserHistories(KEEP)
    histories.learn(batch([n % 7 for n in range(320)], [n % 41 for n in range(320)]))
    store = SnapshotStore(tmp_path, keep=5)
    store.save(1, {"histories": histories.capture(store.holds)}, {})
    histories.learn(batch([1, 2], [5, 6], start=1000.0))
    store.save(2, {"histories": histories.capture(store.holds)}, {})
    snapshot = next(store.readable())
    restarted = UserHistories(KEEP)
    restarted.restore(snapshot.components["histories"])
    store.adopt(snapshot)
    restarted.learn(batch([3], [7], start=2000.0))
    captured = restarted.capture(store.holds)
    assert isinstance(captured["items"], AsSaved)
    assert captured["log_items"].tolist() == [5, 6, 7]  # type: ignore[union-attr]
