"""Where compiled kernels are cached when numba has nowhere of its own (models/compiled.py).

numba caches beside the installed source, else under the home. Each process below is shown
neither (numba's list of cache locations cut to the one a setting names), as a container whose
install and home are read-only would be: with ``cache_in`` the second start loads the kernels
the first compiled; without it, each start compiles them again.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import streamrec

SCRIPT = """
import json, logging, sys
from pathlib import Path
import numba.core.caching as caching
# neither the install nor the home is writable: only a folder named by a setting is left
caching.CacheImpl._locator_classes = [caching.UserProvidedCacheLocator]
from streamrec.models import compiled, windows
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
if sys.argv[1]:
    compiled.cache_in(Path(sys.argv[1]))
kernels = windows._KERNELS.get()
print(json.dumps({
    "hits": sum(sum(k.stats.cache_hits.values()) for k in kernels),
    "misses": sum(sum(k.stats.cache_misses.values()) for k in kernels),
}))
"""


def _start(folder: str, home: Path) -> tuple[dict[str, int], str]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, folder], capture_output=True, text=True, timeout=300,
        check=True, cwd=Path(streamrec.__file__).parents[1],
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), "OPENBLAS_NUM_THREADS": "1"})
    counts: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return counts, done.stderr


def test_a_start_without_a_writable_install_or_home_caches_in_the_folder_it_is_given(
        tmp_path: Path) -> None:
    folder = tmp_path / "data" / "compiled"
    first, _ = _start(str(folder), tmp_path)
    assert first["misses"] > 0 and first["hits"] == 0  # compiled, and kept in the folder
    assert any(folder.rglob("*.nbi")), "no index of cached kernels in the folder"
    second, said = _start(str(folder), tmp_path)
    assert second == {"hits": first["misses"], "misses": 0}, second  # loaded, none compiled
    assert "cached in" in said


def test_without_a_folder_each_start_compiles_again_and_says_so(tmp_path: Path) -> None:
    for _ in range(2):
        counts, said = _start("", tmp_path)
        assert counts["hits"] == 0 and counts["misses"] > 0, counts  # compiled each time
        assert "cannot be cached" in said
