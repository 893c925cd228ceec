"""serving/allocator.py: glibc arena cap and trims (no-ops where glibc is not the libc)."""

from __future__ import annotations

import time

import numpy as np

from streamrec.serving import allocator


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


def test_the_arena_cap_applies_on_glibc_and_nothing_is_asked_for_without_one() -> None:
    assert allocator.limit_arenas(0) is False
    assert allocator.limit_arenas(2) is allocator.is_supported()


def test_a_trim_gives_freed_heap_memory_back() -> None:
    if not allocator.is_supported():
        return
    # many mid-sized arrays (heap, not mmap, once a big free has raised the threshold),
    # every third kept, so the freed ones sit below live memory and stay without a trim
    np.ones(5_000_000).sum()
    arrays = [np.ones(20_000) for _ in range(2_000)]
    kept = arrays[::3]
    del arrays
    before = rss_mib()
    allocator.trim()
    assert rss_mib() < before - 50
    assert len(kept) == 667


def test_the_trimmer_trims_until_stopped() -> None:
    trimmer = allocator.Trimmer(0.01)
    trimmer.start()
    deadline = time.monotonic() + 5
    while trimmer.trims < 2 and time.monotonic() < deadline and allocator.is_supported():
        time.sleep(0.01)
    trimmer.stop()
    assert trimmer.trims >= 2 or not allocator.is_supported()
    never = allocator.Trimmer(0)
    never.start()
    never.stop()
    assert never.trims == 0
