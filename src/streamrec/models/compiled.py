"""Compiled kernels (numba), loaded on first use: commands that never learn never import numba.

A module keeps its kernels as plain Python functions and one ``Kernels`` for them. The
first ``get`` compiles them (numba caches the machine code on disk: ~10 s once per machine,
then well under a second), ``nogil``, so the serving threads go on while a kernel runs;
the helpers the kernels call are compiled first, in place of the module's Python functions,
which is where the kernels look them up. The Python functions stay what the tests read.

numba keeps its cache beside the installed source or, when that is read-only, under the
user's home. A server whose install and home are both read-only (a container run as another
user) would compile every kernel at each start (~25 s): ``cache_in`` names a folder of its
data dir that numba uses then instead.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

log = logging.getLogger(__name__)

T = TypeVar("T")

# where the cache goes when numba has nowhere else (``cache_in``)
_fallback: Path | None = None


class Kernels(Generic[T]):
    def __init__(self, what: str, namespace: MutableMapping[str, Any],
                 make: Callable[[Callable[[Callable[..., Any]], Any]], T],
                 helpers: Sequence[str] = (), warm_up: Callable[[], None] | None = None
                 ) -> None:
        """``make(jit)``: the kernels, each passed through ``jit``; ``helpers``: names in
        ``namespace`` the kernels call; ``warm_up``: runs each kernel once on tiny input, so
        that loading them happens at a server's start, not in its first batch."""
        self._what, self._namespace, self._make = what, namespace, make
        self._helpers, self._warm_up = tuple(helpers), warm_up
        self._compiled: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        compiled = self._compiled
        if compiled is not None:
            return compiled
        with self._lock:
            if self._compiled is None:
                began = time.perf_counter()
                jit = _jit()
                for name in self._helpers:
                    self._namespace[name] = jit(self._namespace[name])
                self._compiled = self._make(jit)
                if self._warm_up is not None:
                    self._warm_up()
                log.info("%s kernels ready in %.1f s (compiled once per machine, then cached)",
                         self._what, time.perf_counter() - began)
            return self._compiled


def cache_in(directory: Path) -> None:
    """Keep numba's cache in ``directory`` should neither the install nor the home be
    writable; a server passes a folder of its data dir before its kernels load."""
    global _fallback
    _fallback = directory


def _jit() -> Callable[[Callable[..., Any]], Any]:
    import numba

    jit = _caching_jit(numba)
    if jit is not None:
        return jit
    config: Any = numba.config  # its settings are set from the environment at run time
    if _fallback is not None and not config.CACHE_DIR:  # a read-only install and home
        try:
            _fallback.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass
        else:
            # both: numba reads its settings from the environment again when one changes
            os.environ["NUMBA_CACHE_DIR"] = config.CACHE_DIR = str(_fallback)
            jit = _caching_jit(numba)
            if jit is not None:
                log.info("compiled kernels are cached in %s (the install and the home are "
                         "read-only)", _fallback)
                return jit
            os.environ.pop("NUMBA_CACHE_DIR", None)
            config.CACHE_DIR = ""
    log.warning("compiled kernels cannot be cached (the install, the home%s are read-only): "
                "they are compiled again at every start", "" if _fallback is None
                else f" and {_fallback}")
    return numba.njit(cache=False, nogil=True)


def _caching_jit(numba: Any) -> Callable[[Callable[..., Any]], Any] | None:
    """numba's ``njit`` with its disk cache, or None if it has nowhere to keep it (numba
    raises when told to cache a function it cannot)."""
    try:
        jit = numba.njit(cache=True, nogil=True)
        jit(_probe)
        return cast(Callable[[Callable[..., Any]], Any], jit)
    except RuntimeError:
        return None


def _probe(x: int) -> int:
    return x
