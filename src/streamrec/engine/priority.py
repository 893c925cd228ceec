"""Background work at a lower priority than reads: refits, snapshots' copies and writes."""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)


def lower_priority(nice: int) -> None:
    """This thread's niceness, raised by ``nice`` (Linux: ``setpriority`` on a thread id sets
    that thread's alone). Elsewhere, or where it is refused, the thread runs as it is."""
    if not sys.platform.startswith("linux"):  # elsewhere a thread id is no process id
        return
    thread = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + nice)
    except OSError as error:  # pragma: no cover - a sandbox that refuses it
        log.debug("thread niceness not set: %s", error)
