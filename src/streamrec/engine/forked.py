"""Work done in a forked child process, on the parent's memory as it was at the fork.

A fork gives the child a copy-on-write view of every array the parent holds: a consistent
cut of the state with no copies taken in the parent, which only pauses for the fork itself
(the page tables' copy, tens of milliseconds at gigabytes). The child then has its own
interpreter lock, so its work (a snapshot's gathers, hashing and writes) takes nothing from
the parent's threads but a CPU, where on two cores a learner bound by its interpreter's lock
leaves one mostly idle.

What may run in the child: the forking thread is the only one there, so nothing may wait
for a lock another thread could have held at the fork, nor use a connection the parent holds
(SQLite, Redis, Kafka), nor start OpenMP work (faiss, implicit) the parent's pools ran. The
work returns a small JSON-able dict, sent back through a pipe. The child never runs the
parent's cleanup: the cyclic garbage collector is off (a collected SQLite connection would
close the parent's database from the child) and it ends with ``os._exit``. It dies with its
parent (Linux: ``PR_SET_PDEATHSIG``) and after ``limit_s`` at most (``SIGALRM``), so a kill
of the server leaves no writer behind it and a child that hangs ends.

Python 3.12 and later warn on any fork of a process that has threads, for the reasons
above; the work given here is held to them, so that warning is silenced for this call only.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import signal
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from streamrec.engine.priority import lower_priority

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_FAILED = 70  # the child's exit code when its work raised (EX_SOFTWARE)


def can_fork() -> bool:
    return hasattr(os, "fork") and hasattr(os, "wait4")


@dataclass(frozen=True)
class ChildResult:
    result: dict[str, Any] | None  # what the work returned; None when it failed
    error: str | None  # why it failed, in words
    refused: bool  # the work raised an OSError (a full or read-only disk), not a fault
    cpu_s: float  # CPU seconds the child used, user and system


class ForkedJob:
    def __init__(self, pid: int, read_fd: int) -> None:
        self.pid = pid
        self._read_fd = read_fd

    def wait(self) -> ChildResult:
        """Until the child ends: what it sent, or why it sent nothing."""
        with os.fdopen(self._read_fd, "rb") as pipe:
            sent = pipe.read()
        _, status, usage = os.wait4(self.pid, 0)
        cpu_s = usage.ru_utime + usage.ru_stime
        try:
            message = json.loads(sent) if sent else {}
        except ValueError:
            message = {}
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 and "result" in message:
            return ChildResult(message["result"], None, False, cpu_s)
        if "error" in message:
            return ChildResult(None, str(message["error"]), bool(message.get("refused")), cpu_s)
        if os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            name = signal.Signals(number).name if number in signal.valid_signals() else number
            return ChildResult(None, f"its process was ended by signal {name}", False, cpu_s)
        return ChildResult(None, f"its process ended with exit code {os.WEXITSTATUS(status)} "
                                 "and no result", False, cpu_s)


def fork(work: Callable[[], dict[str, Any]], *, nice: int = 0,
         limit_s: float = 600.0) -> ForkedJob:
    """Run ``work`` in a child process forked now; the caller goes on at once."""
    parent = os.getpid()
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+; the module says why
        pid = os.fork()
    if pid == 0:
        _child(work, read_fd, write_fd, parent, nice, limit_s)
    os.close(write_fd)
    return ForkedJob(pid, read_fd)


def _child(work: Callable[[], dict[str, Any]], read_fd: int, write_fd: int, parent: int,
           nice: int, limit_s: float) -> NoReturn:
    code = _FAILED
    try:
        gc.disable()
        os.close(read_fd)
        _die_with(parent)
        _end_after(limit_s)
        if nice:
            lower_priority(nice)
        payload = json.dumps({"result": work()}).encode()
        code = 0
    except BaseException as error:  # noqa: BLE001 - the parent is told, whatever it was
        payload = json.dumps({"error": f"{type(error).__name__}: {error}",
                              "refused": isinstance(error, OSError)}).encode()
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(write_fd, view):]
    finally:
        os._exit(code)


def _die_with(parent: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
            pass
    if os.getppid() != parent:  # the parent died before the line above took hold
        os._exit(_FAILED)


def _end_after(limit_s: float) -> None:
    # the forking thread is the child's main thread: it may set handlers
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(max(1, int(limit_s)))
