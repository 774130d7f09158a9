"""Compile the engine's kernels into numba's cache once, before the test workers start.

On a fresh clone the cache is empty, and every process that first runs a kernel compiles it
(about 45 s of one core): both workers' fork servers and both workers themselves would do
it at the same time, four times over. tests/conftest.py runs this script once in the
controller instead, beside the data download. It runs tests/forkserver_warm.py (every
stage and every engine variant, as the fork server does) and then marks the cache folder
complete, so the next run of the suite skips it in a fraction of a second.
"""

import os
import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MARK = ".warm-complete"


def main() -> int:
    import snnpipe.engine  # noqa: F401  (sets NUMBA_CACHE_DIR, one folder per engine version)
    folder = Path(os.environ["NUMBA_CACHE_DIR"])
    if (folder / MARK).is_file():
        return 0
    sys.path.insert(0, str(HERE))
    runpy.run_path(str(HERE / "forkserver_warm.py"), run_name="forkserver_warm")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARK).touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
