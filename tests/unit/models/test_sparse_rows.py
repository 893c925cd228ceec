"""SparseRows (models/sparse_rows.py): sums like a dense matrix, bit for bit as one addition
at a time, through moves, packs into new slabs, cuts, scaling and restores; reads change
nothing; a frozen copy keeps its moment."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.engine.sizes import _Walker
from streamrec.models import change_log, sparse_rows
from streamrec.models.sparse_rows import SparseRows, _kernels
from streamrec.storage.snapshots import AsSaved, Kept

N = 50  # rows and columns of the random batches


def dense_of(rows: SparseRows) -> np.ndarray:
    dense = np.zeros((N, N))
    for row in range(rows.n_rows):
        cols, vals = rows.row(row)
        assert np.all(np.diff(cols) > 0)  # sorted, unique
        dense[row, cols] = vals
    return dense


def sequential(batches: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
    """The additions one at a time, each value summed in order from 0.0."""
    expected = np.zeros((N, N))
    for r, c, v in batches:
        for row, col, value in zip(r.tolist(), c.tolist(), v.tolist(), strict=True):
            expected[row, col] += value
    return expected


def random_batches(rng: np.random.Generator, batches: int,
                   most: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    out = []
    for _ in range(batches):
        size = int(rng.integers(1, most))
        out.append((rng.integers(0, N, size), rng.integers(0, N, size), rng.normal(size=size)))
    return out


def test_additions_sum_bit_for_bit_as_one_at_a_time_through_moves_packs_and_state() -> None:
    rng = np.random.default_rng(3)
    batches = random_batches(rng, 300, 200)
    rows = SparseRows()
    packs, slab = 0, rows._slab_cols
    for batch in batches:
        rows.add(*batch)
        if rows._slab_cols is not slab:
            packs, slab = packs + 1, rows._slab_cols
    assert packs > 3  # the rows outgrew several slabs, and moved within them
    expected = sequential(batches)
    assert dense_of(rows).tobytes() == expected.tobytes()
    rows.scale(0.5)
    restored = SparseRows()
    restored.restore(rows.state("x_"), "x_")
    assert dense_of(restored).tobytes() == (expected * 0.5).tobytes()
    assert restored.nnz() == np.count_nonzero(expected)
    restored.add(*batches[0])  # through the restored rows' room, moves and packs
    np.testing.assert_allclose(dense_of(restored),
                               sequential(batches[:1]) + expected * 0.5, atol=1e-12)


def test_reads_change_nothing_and_run_side_by_side() -> None:
    """Readers run side by side (engine/rwlock.py): a read merges a row's pending part into
    a copy, never into the row."""
    for seed in range(10):
        rows = SparseRows()
        batches = random_batches(np.random.default_rng(seed), 40, 30)
        for batch in batches:
            rows.add(*batch)
        assert rows._meta[: rows.n_rows, 2].any()  # pending parts to merge on reading
        before = (rows._meta.tobytes(), rows._slab_cols.tobytes(), rows._slab_vals.tobytes())
        start = threading.Barrier(4)
        seen: list[np.ndarray] = []

        def read(start: threading.Barrier = start, seen: list[np.ndarray] = seen,
                 rows: SparseRows = rows) -> None:
            start.wait()
            dense = np.zeros((N, N))
            for row, (cols, vals) in enumerate(rows.rows(list(range(N)))):
                dense[row, cols] = vals
            seen.append(dense)

        threads = [threading.Thread(target=read) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        expected = sequential(batches)
        assert len(seen) == 4 and all(d.tobytes() == expected.tobytes() for d in seen)
        assert (rows._meta.tobytes(), rows._slab_cols.tobytes(),
                rows._slab_vals.tobytes()) == before


def test_a_frozen_copy_keeps_the_moment_it_was_taken() -> None:
    """What a snapshot or a refit takes under the lock: later additions, moves, packs, cuts
    and scaling of the live rows never reach it."""
    rng = np.random.default_rng(5)
    rows = SparseRows(max_per_row=30)
    batches = random_batches(rng, 40, 50)
    for batch in batches:
        rows.add(*batch)
    frozen = rows.frozen()
    arrays = {key: value.copy() for key, value in frozen.csr().items()}
    for batch in random_batches(rng, 200, 100):
        rows.add(*batch)
    rows.scale(0.25)
    assert all(value.tobytes() == arrays[key].tobytes()
               for key, value in frozen.csr().items())
    never_frozen = SparseRows(max_per_row=30)
    for batch in batches:
        never_frozen.add(*batch)
    assert never_frozen.state("").keys() == arrays.keys()
    assert all(value.tobytes() == arrays[key].tobytes()
               for key, value in never_frozen.state("").items())


def test_the_slab_stays_in_proportion_to_the_entries_held() -> None:
    """Rows move to the slab's end as they grow; packing into a new slab drops the space
    they left, so a long stream with a budget holds at most the rows' room, plus slack."""
    rng = np.random.default_rng(7)
    rows = SparseRows(max_per_row=20)
    for _ in range(2_000):
        rows.add(rng.integers(0, 1_000, 500), rng.integers(0, 5_000, 500), rng.random(500))
    most_room = 2 * 20 * rows.n_rows
    assert rows._slab_cols.size <= 1.25 * most_room + 1024 + 2 * 40 + 4
    assert _Walker().size(rows) < 2 * 12 * most_room
    assert rows.row_sizes().max() <= rows.row_limit


def test_a_restore_cuts_only_the_rows_over_a_new_budget() -> None:
    """Rows saved without a budget, restored with one: each row reads back as saved, but
    those over the new budget's limit, which keep their ``max_per_row`` largest entries."""
    rows = SparseRows()
    sizes = [0, 3, 5, 6, 2, 9]  # limit 2 * 3 - 1 = 5: rows 3 and 5 are over it
    for row, size in enumerate(sizes):
        if size:
            cols = np.arange(size, dtype=np.int64) * 3
            rows.add(np.full(size, row, dtype=np.int64), cols, (cols + 1.0) * (-1.0) ** cols)
    saved = rows.state("r_")
    restored = SparseRows(3)
    restored.restore(saved, "r_")
    assert restored.n_rows == len(sizes)
    for row, size in enumerate(sizes):
        cols, vals = restored.row(row)
        want_cols, want_vals = rows.row(row)
        if size > 5:  # the three largest by magnitude: the last three columns
            want_cols, want_vals = want_cols[-3:], want_vals[-3:]
        assert cols.tolist() == want_cols.tolist() and vals.tolist() == want_vals.tolist()


@pytest.mark.parametrize("budget", [None, 8])
def test_restored_rows_have_the_room_learning_gave_them(budget: int | None) -> None:
    """A restore gives each row the room additions would have (the power of two above its
    size, within the budget's limit), so the log's tail learned after it does not move
    every row it touches and pack the slab again and again (a crash's replay)."""
    rng = np.random.default_rng(11)
    rows = SparseRows(budget)
    for batch in random_batches(rng, 100, 200):
        rows.add(*batch)
    restored = SparseRows(budget)
    restored.restore(rows.state("s_"), "s_")
    sizes = restored.row_sizes()
    rooms = restored._column(sparse_rows._ROOM)
    assert np.all(rooms > sizes) or budget is not None
    assert np.all(rooms >= sizes) and np.all(rooms[sizes > 0] >= sparse_rows._MIN_ROOM)
    if budget is not None:
        assert rooms.max() <= 2 * budget
    slab, end = restored._slab_cols, restored._end
    assert slab.size >= 1.25 * rooms.sum() > end  # slack for the rows that outgrow theirs
    one_each = np.flatnonzero(rooms > sizes)  # one addition more to each row with room
    addition = (one_each, np.zeros(one_each.size, np.int64), np.ones(one_each.size))
    restored.add(*addition)
    assert restored._slab_cols is slab and restored._end == end  # no row moved, no pack
    rows.add(*addition)  # the rows that were saved take it too (and cut where they do)
    assert dense_of(restored).tobytes() == dense_of(rows).tobytes()


def test_a_room_a_row_left_is_taken_by_the_next_row_that_needs_that_size() -> None:
    rows = SparseRows()
    rows.add(np.zeros(4, np.int64), np.arange(4), np.ones(4))  # row 0: a room of 4 at 0
    rows.add(np.zeros(1, np.int64), np.array([9]), np.ones(1))  # full: it moves to 8
    start, end = int(rows._meta[0, sparse_rows._START]), rows._end
    assert (start, end) == (4, 12)
    rows.add(np.ones(1, np.int64), np.array([5]), np.ones(1))  # row 1's first room: 4
    assert int(rows._meta[1, sparse_rows._START]) == 0 and rows._end == end
    assert rows.row(0)[0].tolist() == [0, 1, 2, 3, 9] and rows.row(1)[0].tolist() == [5]


@pytest.mark.parametrize("budget", [None, 6])
def test_rooms_taken_again_change_no_row(budget: int | None) -> None:
    """Rows whose rooms come off the free lists hold what rows packed into a new slab after
    every batch (no room taken again) hold, bit for bit, through moves, cuts and clears."""
    rng = np.random.default_rng(5)
    reused, packed = SparseRows(budget), SparseRows(budget)
    taken_again = 0
    for batch in random_batches(rng, 300, 120):
        heads = reused._free.copy()
        reused.add(*batch)
        packed.add(*batch)
        packed._pack()
        taken_again += int(np.any((heads >= 0) & (reused._free != heads)))
        if rng.random() < 0.1:
            cleared = rng.integers(0, N, 3)
            reused.clear(cleared)
            packed.clear(cleared)
        assert dense_of(reused).tobytes() == dense_of(packed).tobytes()
    assert taken_again > 10


def test_gather_reads_rows_one_after_another_and_none_for_unknown_rows() -> None:
    rows = SparseRows()
    rows.add(np.array([0, 2, 2, 0]), np.array([5, 1, 3, 4]), np.array([1.0, 2.0, 3.0, 4.0]))
    cols, vals, sizes = rows.gather(np.array([2, 7, 0, 1]))
    assert cols.tolist() == [1, 3, 4, 5] and vals.tolist() == [2.0, 3.0, 4.0, 1.0]
    assert sizes.tolist() == [2, 0, 2, 0]
    assert [c.tolist() for c, _ in rows.rows([9, 0])] == [[], [4, 5]]


def test_columns_out_of_range_are_refused_and_nothing_is_added() -> None:
    rows = SparseRows()
    for bad in (np.array([-1]), np.array([2**31])):
        with pytest.raises(ValueError, match="columns"):
            rows.add(np.array([0]), bad, np.array([1.0]))
    assert rows.nnz() == 0



@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**31 - 1) | st.integers(0, 40), max_size=300))
def test_the_stable_order_of_a_rows_additions_is_numpys_stable_argsort(keys: list[int]) -> None:
    _kernels()  # the compiled helpers, as the kernels call them
    array = np.array(keys, dtype=np.int32)
    assert sparse_rows._stable_order(array).tolist() == \
        np.argsort(array, kind="stable").tolist()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.0, 1e300) | st.sampled_from([0.0, 1.0, 2.5, 5e-324]),
                min_size=1, max_size=500), st.data())
def test_the_cuts_selection_is_numpys_partition(values: list[float],
                                                data: st.DataObject) -> None:
    _kernels()
    magnitudes = np.array(values, dtype=np.float64)
    k = data.draw(st.integers(0, magnitudes.size - 1))
    assert sparse_rows._kth_smallest(magnitudes.copy(), k) == np.partition(magnitudes, k)[k]


def test_cuts_keep_the_largest_and_the_lowest_columns_of_ties() -> None:
    rows = SparseRows(3)
    # six distinct columns, magnitudes 1, 5, 5, 5, -7, 2: the cut after the third addition
    # keeps all three; after the sixth, -7 and the two lowest columns of the 5s
    rows.add(np.zeros(6, dtype=np.int64), np.array([10, 20, 30, 40, 50, 60]),
             np.array([1.0, 5.0, 5.0, 5.0, -7.0, 2.0]))
    cols, vals = rows.row(0)
    assert cols.tolist() == [20, 30, 50] and vals.tolist() == [5.0, 5.0, -7.0]


def test_cleared_rows_give_up_their_room_so_rows_that_change_hands_stay_small() -> None:
    """A row forgotten (engine/forgetting.py) and taken by a light user holds only what
    the light user needs: the slab stays in proportion to what is held, not to the largest
    row any earlier user of each index needed."""
    rows = SparseRows(max_per_row=500)
    rng = np.random.default_rng(3)
    for generation in range(6):
        heavy = np.arange(100) if generation % 2 == 0 else np.arange(100, 200)
        rows.add(np.repeat(heavy, 300), rng.integers(0, 10_000, 30_000), rng.random(30_000))
        rows.clear(heavy)  # forgotten; the next users of these rows have one entry each
        rows.add(heavy, np.full(heavy.size, 7), np.ones(heavy.size))
        for row in heavy[:3].tolist():
            assert rows.row(row)[0].tolist() == [7]
    rows.add(np.array([0]), np.array([8]), np.array([1.0]))  # reads after a pack
    assert rows.row(0)[0].tolist() == [7, 8] and rows.row(150)[0].tolist() == [7]
    rooms = int(rows._meta[: rows.n_rows, sparse_rows._ROOM].sum())
    assert rooms <= 200 * 4  # each row's first room: a kept room would be 512 and more


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([None, 3]),
       st.lists(st.sampled_from(["add", "clear", "scale"]), min_size=1, max_size=3))
def test_room_made_ahead_changes_no_sum_and_a_stale_one_is_not_put_in_place(
        seed: int, budget: int | None, between: list[str]) -> None:
    """``make_room`` packs into a new slab and leaves the rows as they are (readers go on
    beside it); its step puts the new slab in place only if the rows did not change since,
    for a slab packed before an addition, a clear or a scaling would lose it. (Where pending
    parts are merged may differ, as with packs made by additions: not the sums, nor the
    state.)"""
    rng = np.random.default_rng(seed)
    rows, reference = SparseRows(budget), SparseRows(budget)
    made = stale = 0
    for step, batch in enumerate(random_batches(rng, 120, 60)):
        before = dense_of(rows).tobytes()
        put_in_place = rows.make_room(ahead=rng.choice([0.05, 0.5, 1.0]))
        assert dense_of(rows).tobytes() == before  # making room changes nothing by itself
        if put_in_place is not None:
            made += 1
            if step % 2:  # a change in between: the room made is out of date
                stale += 1
                change = between[made % len(between)]
                for target in (rows, reference):
                    if change == "add":
                        target.add(*batch)
                    elif change == "clear":
                        target.clear(batch[0][:3])
                    else:
                        target.scale(0.5)
            put_in_place()
        rows.add(*batch)
        reference.add(*batch)
        assert dense_of(rows).tobytes() == dense_of(reference).tobytes()
    assert made > 3 and stale > 0
    for name, array in reference.state("").items():
        assert np.array_equal(rows.state("")[name], array), name


class HeldArrays:
    """A snapshot store's ``Kept``/``AsSaved`` by token, without the disk: what it holds,
    and a capture's arrays as a store reads them back."""

    def __init__(self) -> None:
        self.kept: dict[object, np.ndarray] = {}  # what a next save may name
        self.on_disk: dict[object, np.ndarray] = {}  # what the saves so far read back

    def holds(self, token: object) -> bool:
        return token in self.kept

    def took(self, captured: dict[str, object]) -> None:
        """The store saved ``captured``: it holds its kept arrays from now on."""
        for value in captured.values():
            if isinstance(value, Kept):
                self.kept[value.token] = self.on_disk[value.token] = value.array

    def read_back(self, captured: dict[str, object]) -> dict[str, np.ndarray]:
        out = {}
        for key, value in captured.items():
            if isinstance(value, Kept):
                out[key] = value.array
            elif isinstance(value, AsSaved):
                out[key] = self.on_disk[value.token]
            else:
                out[key] = np.array(value)
        return out


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([None, 3]),
       st.lists(st.sampled_from(["add", "add", "add", "clear", "scale", "capture",
                                 "capture", "forgotten", "restart"]), min_size=1, max_size=60))
def test_a_capture_by_changes_since_a_base_restores_what_the_rows_held_then(
        seed: int, budget: int | None, steps: list[str]) -> None:
    """``capture`` names its last base while the store holds it and gives the changes since
    (views: the rows' later changes never reach them), else the rows whole as a new base;
    each capture, read back after every later change, restores the rows of its moment
    exactly, through budget cuts, clears and scalings. Rows restored from a capture carry
    on from its base and changes (a start whose store adopted that snapshot)."""
    rng = np.random.default_rng(seed)
    rows, store = SparseRows(budget), HeldArrays()
    for batch in random_batches(rng, 100, 40):  # without a budget, a base of ~1,200
        rows.add(*batch)  # entries: the share of it a capture names holds an addition
    taken: list[tuple[dict[str, object], dict[str, np.ndarray]]] = []
    named = 0
    for step in steps:
        if step == "add":
            rows.add(*random_batches(rng, 1, 40)[0])
        elif step == "clear":
            rows.clear(rng.integers(0, N, 3))
        elif step == "scale":
            rows.scale(0.5)
        elif step == "forgotten":  # a save failed, or an erasure deleted every snapshot
            store.kept.clear()
        elif step == "restart":  # from the last capture, the store adopting it: go on
            if taken:
                rows = SparseRows(budget)
                rows.restore(store.read_back(taken[-1][0]), "p_")
        else:
            captured = rows.capture("p_", store.holds)
            named += any(isinstance(value, AsSaved) for value in captured.values())
            store.took(captured)
            taken.append((captured, {k: v.copy() for k, v in rows.state("p_").items()}))
    rows.add(*random_batches(rng, 1, 40)[0])  # changes after the last capture too
    for captured, expected in taken:
        restored = SparseRows(budget)
        restored.restore(store.read_back(captured), "p_")
        for key, array in restored.state("p_").items():
            assert array.tobytes() == expected[key].tobytes(), key
    if (steps[:3] == ["capture", "add", "capture"] and budget is None) or \
            steps[:3] == ["capture", "restart", "capture"]:
        assert named  # the base held, and the changes small: the second named the base


def test_changes_past_a_share_of_the_base_are_not_kept_and_the_next_capture_is_a_base() -> None:
    rows, store = SparseRows(), HeldArrays()
    rng = np.random.default_rng(5)
    for batch in random_batches(rng, 40, 60):
        rows.add(*batch)
    first = rows.capture("p_", store.holds)
    store.took(first)
    base = int(first["p_indices"].array.size)  # type: ignore[attr-defined]
    small = rows.capture("p_", store.holds)
    assert isinstance(small["p_data"], AsSaved) and small["p_log_rows"].size == 0  # type: ignore[union-attr]
    added = 0
    while added <= change_log.SHARE * base:
        batch = random_batches(rng, 1, 60)[0]
        rows.add(*batch)
        added += batch[0].size
        if added <= change_log.SHARE * base:
            assert isinstance(rows.capture("p_", store.holds)["p_data"], AsSaved)
    assert rows._by_changes.log is None  # not kept until a capture comes: none would name it
    again = rows.capture("p_", store.holds)
    assert isinstance(again["p_data"], Kept) and "p_log_rows" not in again


@pytest.mark.parametrize("budget", [None, 6])
def test_a_restore_gives_each_row_room_for_its_saved_changes_so_none_moves(
        budget: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The changes a capture saved are given again into rooms sized for them: the slab is
    packed once, by the restore itself, however much the changes grow the rows (rows
    past the saved ones included), and the rows are what they were."""
    monkeypatch.setattr(change_log, "SHARE", 1e9)
    rng = np.random.default_rng(8)
    rows, store = SparseRows(budget), HeldArrays()
    for batch in random_batches(rng, 20, 30):
        rows.add(*batch)
    store.took(rows.capture("p_", store.holds))
    for batch in random_batches(rng, 200, 60):  # the rows grow many times over
        rows.add(*batch)
    rows.add(np.array([N + 3]), np.array([1]), np.array([1.0]))  # a row past the saved
    captured = rows.capture("p_", store.holds)
    assert isinstance(captured["p_data"], AsSaved)
    packs = []
    pack = SparseRows._pack
    monkeypatch.setattr(SparseRows, "_pack", lambda self: packs.append(1) or pack(self))
    restored = SparseRows(budget)
    restored.restore(store.read_back(captured), "p_")
    assert len(packs) == 1
    for key, array in rows.state("p_").items():
        assert restored.state("p_")[key].tobytes() == array.tobytes(), key
