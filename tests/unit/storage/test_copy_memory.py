"""A snapshot's copies go into memory taken ahead, request by request, and are the same
copies as without it."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from streamrec.storage import copy_memory
from streamrec.storage.copy_memory import Prefaulted

MIB = 1 << 20


def test_outside_a_capture_they_are_numpys_own() -> None:
    array = np.arange(10.0)
    copied = copy_memory.copy_of(array)
    assert copied.base is None and np.array_equal(copied, array)
    assert not np.shares_memory(copied, array)
    empty = copy_memory.empty((2, 3), np.int32)
    assert empty.shape == (2, 3) and empty.dtype == np.int32 and empty.base is None


def test_each_request_takes_the_buffer_of_its_place_in_the_last_captures_order() -> None:
    first = np.arange(MIB // 8, dtype=np.float64)  # 1 MiB
    second = np.arange(MIB // 4, dtype=np.int32) - 7
    memory = Prefaulted([first.nbytes, 100, second.nbytes])
    if sys.platform.startswith("linux"):
        assert memory.ready_bytes >= first.nbytes + second.nbytes  # the small one: none
    with memory.active():
        a = copy_memory.copy_of(first)
        small = copy_memory.copy_of(np.arange(25, dtype=np.int32))
        b = copy_memory.copy_of(second)
    assert np.array_equal(a, first) and np.array_equal(b, second)
    assert np.array_equal(small, np.arange(25)) and small.base is None
    assert memory.asked == [first.nbytes, 100, second.nbytes]
    if memory.ready_bytes or sys.platform.startswith("linux"):
        assert a.base is not None and b.base is not None  # views of the buffers
        assert not np.shares_memory(a, b)
    a[:] = -1.0  # a copy is the caller's: nothing else writes it or reads it back
    assert np.array_equal(b, second)


def test_a_grown_request_or_one_past_the_buffers_gets_new_memory() -> None:
    memory = Prefaulted([MIB])
    with memory.active():
        grown = copy_memory.empty(2 * MIB, np.uint8)
        past = copy_memory.empty(MIB, np.uint8)
    assert grown.base is None and past.base is None
    assert memory.asked == [2 * MIB, MIB]
    with memory.active():  # buffers not taken are let go when the capture ends
        pass
    assert memory.ready_bytes == 0


@pytest.mark.parametrize("shape", [(0,), (3, 0), ()])
def test_empty_and_scalar_shapes(shape: tuple[int, ...]) -> None:
    memory = Prefaulted([MIB])
    with memory.active():
        taken = copy_memory.empty(shape, np.float64)
    assert taken.shape == shape


def test_the_kernel_maps_memory_ahead_on_linux() -> None:
    buffer = np.empty(4 * MIB, dtype=np.uint8)
    assert copy_memory.populate(buffer) == sys.platform.startswith("linux")
