"""Pin BLAS and OpenMP to one thread before numpy loads.

On small machines, threaded BLAS under concurrent requests measured 5-8x slower: every
request's tiny solve spins up threads that fight for the same cores. Importing this module
first (the CLI does) sets the limits unless the user set them.
"""

import os

for variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(variable, "1")
