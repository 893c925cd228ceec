"""A full disk under a running server: writes refused with a clear 503, nothing
half-stored, reads still served, writes accepted again once the disk has room.

The data dir lives on a small tmpfs mounted for the test (needs root and CAP_SYS_ADMIN; the
test skips without them). A full disk takes the path every refused write takes: sqlite's
write fails, the commit is rolled back, every waiting caller gets 503. The read-only disk has
its own test (test_disk_readonly.py).
"""

from __future__ import annotations

import errno
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

DISK_MB = 24
QUIET = {"STREAMREC_SNAPSHOTS__EVERY_EVENTS": "1000000000",
         "STREAMREC_SNAPSHOTS__EVERY_S": "1000000"}


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30,
                          check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A DISK_MB tmpfs, unmounted at teardown (after the servers, which are set up later)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = _mount("-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(mount_point))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False, timeout=30)


def fill(disk: Path) -> Path:
    """Write a filler file until the disk refuses; returns it."""
    filler = disk / "filler"
    chunk = b"\0" * (64 * 1024)
    # unbuffered: a buffered file kept the bytes of a partly written last chunk and raised
    # ENOSPC again when closed, whenever the room left was not a multiple of the chunk
    with open(filler, "wb", buffering=0) as sink:
        try:
            while True:
                sink.write(chunk)
        except OSError as error:
            assert error.errno == errno.ENOSPC, error
    return filler


def batch(tag: str, n: int = 4000) -> list[dict[str, Any]]:
    # long ids: the batch needs far more pages than the WAL already holds
    return [{"user_id": f"{tag}-user-{n % 50}-{'x' * 120}", "item_id": f"{tag}-item-{i}",
             "type": "view", "event_id": f"{tag}-{i}-{'y' * 100}"} for i in range(n)]


def settled_events(api: Any) -> int:
    """``/v1/stats``' events once learning has caught up: the engine's own entries (a
    refit's marker, written when learning crosses a threshold) are told apart from clients'
    as they are learned, so a figure read in between counts one of them."""
    for _ in range(200):
        stats = api.stats()
        if stats["learn_lag_events"] == 0:
            return int(stats["events"])
        time.sleep(0.05)
    raise AssertionError(f"learning did not catch up: {stats}")


def test_a_full_disk_refuses_writes_cleanly_and_recovers(
    small_disk: Path, start_server: Any, connect: Callable[[Any], Any],
) -> None:
    server = start_server(env=QUIET, data_dir=small_disk / "data")
    api = connect(server)
    warm = [api.event(f"w{n}", f"i{n % 5}") for n in range(20)]
    assert api.post_events(warm).status_code == 200
    before = settled_events(api)

    filler = fill(small_disk)
    refused = api.post_events(batch("full"))
    assert refused.status_code == 503, refused.text
    error = refused.json()["error"]
    assert error["code"] == "unavailable"
    assert "could not store events" in error["message"]
    assert "full" in error["message"]  # sqlite's "database or disk is full", passed on

    assert settled_events(api) == before  # the whole batch refused, nothing half-stored
    assert api.recommend("w1", k=3).status_code == 200
    assert api.client.get("/healthz").json() == {"status": "ok"}

    filler.unlink()
    stored = api.post_events(batch("full"))  # the same events, retried
    assert stored.status_code == 200, stored.text
    assert stored.json()["accepted"] == 4000 and stored.json()["duplicates"] == 0
    assert settled_events(api) == before + 4000
    again = api.post_events(batch("full")[:10])
    assert again.json()["duplicates"] == 10  # idempotent: no copy from the refused attempt

