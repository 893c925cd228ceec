"""Keep the server's resident memory near what it holds: glibc malloc arenas and trims.

Two things made a long-running server's RSS grow although its state did not (bench/soak.py,
bench/RESULTS.md):

- **Arenas.** glibc gives each thread that allocates concurrently an arena of its own, up to
  8 per core, and memory freed in one arena is never reused by another. Request threads,
  the learner, the trainer and snapshot writers all allocate numpy temporaries, so every
  arena grew to its own high-water mark. ``serving.malloc_arena_max`` (default 2) caps them.
- **High-water marks.** A snapshot copies the whole state and a refit its training matrix,
  for seconds; freed, that memory stays in the heap (glibc returns only its top, and after
  the first large free it stops using ``mmap`` for arrays up to 32 MiB). A trim every
  ``serving.malloc_trim_s`` (default 10 s) hands whole free pages back to the OS
  (``malloc_trim(0)``, which ``madvise``s them away: nothing is moved or copied). A trim
  with little to give back takes ~1 ms; one after a snapshot of a few hundred MiB, ~0.1 s,
  during which threads allocating in the arena it is trimming wait.

Only on glibc (Linux); elsewhere both are no-ops. 0 turns either off; the environment
variable ``MALLOC_ARENA_MAX`` then works as usual.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform
import threading
import time
from functools import cache

log = logging.getLogger(__name__)

_M_ARENA_MAX = -8  # mallopt parameter numbers, from glibc's malloc.h


@cache
def _libc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def is_supported() -> bool:
    return _libc() is not None


def limit_arenas(arena_max: int) -> bool:
    """Cap glibc's malloc arenas (threads beyond share them; 0: leave glibc's default); True
    if applied. Call before threads start allocating: arenas already made stay."""
    libc = _libc()
    if libc is None or arena_max <= 0:
        return False
    return bool(libc.mallopt(_M_ARENA_MAX, arena_max))


def trim() -> bool:
    """Give free heap pages back to the OS; True if some memory was released."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


class Trimmer:
    """A daemon thread that trims every ``every_s`` seconds until stopped (0: never)."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self.trims = 0
        self.last_trim_s = 0.0  # how long the last trim took
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.every_s <= 0 or not is_supported():
            return
        self._thread = threading.Thread(target=self._run, name="malloc-trim", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            started = time.perf_counter()
            trim()
            self.last_trim_s = time.perf_counter() - started
            self.trims += 1
            log.debug("malloc_trim took %.3fs", self.last_trim_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
