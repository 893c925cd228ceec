"""Memory for a snapshot's copies, faulted in before the learner waits for them.

A snapshot's copies are taken while the learner waits (a consistent cut), and each copy is
new memory whose every 4 KiB page the kernel maps on its first touch: here ~2.5 us a page,
so copying 800 MiB into new memory took 0.55-0.7 s and into memory already touched 0.08 s.
At 100k items and 10M events that was most of the 1.5 s the learner waited for each
snapshot's copies (bench/RESULTS.md).

So a capture records the sizes it asked for, in order, and the next capture's memory is
asked for ahead: ``Prefaulted`` takes buffers of those sizes (a little more) and has the
kernel map them (``madvise(MADV_POPULATE_WRITE)``, Linux 5.14+, outside the interpreter's
lock) on the snapshotter's thread while the learner goes on. The capture then copies into
them, the n-th request into the n-th buffer. A request larger than its buffer, or past
them, gets new memory as before; where the kernel cannot populate, nothing is taken ahead.
Outside a capture (``Prefaulted.active``), ``empty`` and ``copy_of`` are ``np.empty`` and
``ndarray.copy``."""

from __future__ import annotations

import contextvars
import ctypes
import ctypes.util
import mmap
import platform
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

import numpy as np

_POPULATE_WRITE = 23  # madvise advice, from Linux's mman-common.h (5.14+)
_SMALLEST = 1 << 20  # smaller requests are recorded, not taken ahead: their faults are few
_MARGIN = 1.02  # a buffer holds this times what the last capture asked for, plus a page
_ACTIVE: contextvars.ContextVar[Prefaulted | None] = contextvars.ContextVar(
    "streamrec_copy_memory", default=None)


@cache
def _madvise() -> Any:
    if platform.system() != "Linux":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        madvise = libc.madvise
    except (OSError, AttributeError):
        return None
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    return madvise


def populate(buffer: np.ndarray) -> bool:
    """Have the kernel map every whole page of ``buffer`` now (ctypes lets go of the
    interpreter's lock meanwhile); False where it cannot (not Linux, a kernel before 5.14)."""
    madvise = _madvise()
    if madvise is None:
        return False
    page = mmap.PAGESIZE
    address = buffer.ctypes.data
    start = -(-address // page) * page
    length = (address + buffer.nbytes - start) // page * page
    return length <= 0 or madvise(start, length, _POPULATE_WRITE) == 0


def empty(shape: int | tuple[int, ...], dtype: Any) -> np.ndarray:
    """``np.empty``; in a capture, memory taken ahead where there is some."""
    memory = _ACTIVE.get()
    return np.empty(shape, dtype) if memory is None else memory.take(shape, dtype)


def copy_of(array: np.ndarray) -> np.ndarray:
    """``array.copy()``; in a capture, into memory taken ahead where there is some."""
    copied = empty(array.shape, array.dtype)
    np.copyto(copied, array)
    return copied


class Prefaulted:
    def __init__(self, sizes: Sequence[int] = ()) -> None:
        """Buffers for requests of these byte sizes, in this order, mapped now (no buffer
        for small ones, or any where the kernel cannot populate)."""
        self.asked: list[int] = []  # the bytes of each request of this capture, in order
        self._buffers: list[np.ndarray | None] = []
        for size in sizes:
            buffer = None
            if size >= _SMALLEST:
                buffer = np.empty(int(size * _MARGIN) + mmap.PAGESIZE, dtype=np.uint8)
                if not populate(buffer):
                    self._buffers = []
                    return
            self._buffers.append(buffer)

    @property
    def ready_bytes(self) -> int:
        return sum(b.nbytes for b in self._buffers if b is not None)

    def take(self, shape: int | tuple[int, ...], dtype: Any) -> np.ndarray:
        dtype = np.dtype(dtype)
        dims = (shape,) if isinstance(shape, int) else tuple(shape)
        size = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
        n = len(self.asked)
        self.asked.append(size)
        buffer = self._buffers[n] if n < len(self._buffers) else None
        if buffer is None or buffer.nbytes < size or size == 0:
            return np.empty(dims, dtype)
        self._buffers[n] = None  # the copy holds it now, as long as it lives
        taken: np.ndarray = buffer[:size].view(dtype).reshape(dims)
        return taken

    @contextmanager
    def active(self) -> Iterator[Prefaulted]:
        """Copies made in this thread meanwhile use these buffers; those not taken are let
        go at the end."""
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)
            self._buffers = []
