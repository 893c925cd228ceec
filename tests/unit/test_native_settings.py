"""What the command line sets before numpy loads (streamrec/cli/native.py), seen from a fresh
interpreter, as the ``streamrec`` command starts one."""

from __future__ import annotations

import json
import os
import subprocess
import sys

_PROBE = (
    "import json, os\n"
    "import streamrec.cli.main\n"
    "from numpy._core.multiarray import _get_madvise_hugepage\n"
    "print(json.dumps({'hugepage': _get_madvise_hugepage(),\n"
    "                  'blas': os.environ.get('OPENBLAS_NUM_THREADS')}))\n")
_OURS = ("NUMPY_MADVISE_HUGEPAGE", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


def _started(**given: str) -> dict[str, object]:
    env = {name: value for name, value in os.environ.items() if name not in _OURS}
    done = subprocess.run([sys.executable, "-c", _PROBE], env={**env, **given}, check=True,
                          capture_output=True, text=True, timeout=120)
    found: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return found


def test_the_command_line_turns_numpys_huge_page_advice_off_and_pins_blas() -> None:
    assert _started() == {"hugepage": False, "blas": "1"}


def test_what_the_user_set_is_kept() -> None:
    assert _started(NUMPY_MADVISE_HUGEPAGE="1", OPENBLAS_NUM_THREADS="2") == {
        "hugepage": True, "blas": "2"}
