"""Settings of native code that must be made before numpy loads (the CLI imports this
first); each is left as the user set it.

- BLAS and OpenMP pinned to one thread. On small machines, threaded BLAS under concurrent
  requests measured 5-8x slower: every request's tiny solve spins up threads that fight for
  the same cores.
- numpy's advice to the kernel to back large arrays with huge pages, off
  (``NUMPY_MADVISE_HUGEPAGE=0``). Where transparent huge pages are granted on advice
  (``/sys/kernel/mm/transparent_hugepage/enabled`` and ``defrag`` at ``madvise``, a common
  default), each first touch of an advised array may stall while the kernel compacts memory
  to find a huge page, and falls back to small pages when it cannot. Measured here:
  touching 2 GiB took 0.8-0.9 s without the advice, 2.0-5.4 s with it; a restart at 1M
  items, whose snapshot fills gigabytes of new arrays, 7.5 s against 12.4-13.2 s
  (bench/RESULTS.md). Set ``NUMPY_MADVISE_HUGEPAGE=1`` to measure it on your machine.
"""

import os

for variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(variable, "1")
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
