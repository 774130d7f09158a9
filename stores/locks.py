"""Exclusive locks on run folders and store outputs, so two writers never share one.

`flock` on a small lock file holding the writer's PID: the kernel releases it when the
process dies (even by SIGKILL), so a lock is never left stale. The lock file itself stays.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from .errors import StoreError


def lock_path(target: Path) -> Path:
    """A store output locks the hidden `.NAME.lock` beside it (a run folder: `RUN/.lock`)."""
    target = Path(target)
    return target.parent / f".{target.name}.lock"


@contextlib.contextmanager
def exclusive(target: Path, lock_file: Path | None = None) -> Iterator[None]:
    """Hold the lock on `target` for the block, or raise one StoreError line naming the
    process that holds it."""
    path = Path(lock_file) if lock_file is not None else lock_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise StoreError(f"{target} is in use by process {holder} (lock {path}); wait for "
                             "it to finish or stop it, then run again") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
