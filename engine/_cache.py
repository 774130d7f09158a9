"""Where numba keeps the compiled kernels: one folder per version of the engine's code.

numba checks a cached function against its own source file only, so after a kernel in
forward.py changes, a caller in batch.py would load its stale machine code (with the old
kernel inside) from the cache. Keying the cache folder by a hash of every engine source file
makes any change to the engine compile afresh. A user's NUMBA_CACHE_DIR is respected.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path


def use_versioned_cache() -> None:
    if "NUMBA_CACHE_DIR" in os.environ:
        return
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for source in sorted(here.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    os.environ["NUMBA_CACHE_DIR"] = str(here / "__pycache__" / f"numba-{digest.hexdigest()[:16]}")
    if "numba" in sys.modules:               # imported before us: re-read its settings
        sys.modules["numba"].config.reload_config()
