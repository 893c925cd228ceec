"""One writer process per data directory: an OS file lock held for the process's life.

Two processes learning from one log would each hold their own model state, and what one
writes the other never learns (an item imported while a server runs was found by
``GET /v1/items`` but unknown to ``/similar``). ``serve``, ``demo``, ``import`` and
``reapply-erasures`` take the lock (``streamrec.lock`` in the directory, ``flock``); the
second one stops with a message naming the directory and the process holding it. The OS
releases the lock when the process ends, however it ends, so a crash never leaves a stale
lock behind.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sys
from itertools import takewhile
from pathlib import Path

from streamrec.errors import Conflict

LOCK_FILE = "streamrec.lock"
_held: dict[Path, int] = {}  # directory -> descriptor, kept open until the process ends


def hold_data_dir(directory: Path) -> None:
    """Take the data directory's lock for this process (again: nothing to do); Conflict when
    another process holds it. A directory this process cannot write to is not locked: a
    read-only directory cannot be written by it either (the storage says so itself)."""
    directory = directory.resolve()
    if directory in _held:
        return
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / LOCK_FILE
    descriptor = _open(path)
    if descriptor is None:
        return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(descriptor)
        os.close(descriptor)
        raise Conflict(f"{directory} is in use by another streamrec process{holder}: one "
                       "process writes a data directory at a time\nstop it first, or send "
                       "the data through its API (POST /v1/events, PUT /v1/items)") from None
    _record_holder(descriptor)
    _held[directory] = descriptor


def _open(path: Path) -> int | None:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as error:
        if error.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
    try:  # an existing lock file in a read-only directory still takes a lock
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None


def _record_holder(descriptor: int) -> None:
    command = " ".join(["streamrec", *takewhile(lambda word: not word.startswith("-"),
                                                 sys.argv[1:3])])
    try:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()} {command}\n".encode(), 0)
    except OSError:
        pass  # opened read-only: the lock holds without the note


def _holder(descriptor: int) -> str:
    """' (pid N: command)' as the holder wrote it, or '' when it wrote nothing."""
    try:
        note = os.pread(descriptor, 200, 0).decode(errors="replace").strip()
    except OSError:
        return ""
    pid, _, command = note.partition(" ")
    if not pid.isdigit():
        return ""
    return f" (pid {pid}: {command})" if command else f" (pid {pid})"
