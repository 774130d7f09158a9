"""Exclusive locks on run folders and store outputs, so two writers never share one.

`flock` on a small lock file holding the writer's PID: the kernel releases it when the
process dies (even by SIGKILL), so a lock is never left stale. The holder removes the lock
file when it is done.

A lock another process holds is refused in one line, except inside `waiting()`: there the
command waits for it. That is for data a command builds on its way (a train or a sweep
needing a store that another command is building): waiting gives the same store, built
once, where refusing would fail a command that has nothing wrong with it. A command that
waits says so in one line on stderr.
"""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from .errors import StoreError

_WAIT = contextvars.ContextVar("snnpipe_lock_wait", default=False)


@contextlib.contextmanager
def waiting() -> Iterator[None]:
    """Inside the block, `exclusive` waits for a lock another process holds."""
    token = _WAIT.set(True)
    try:
        yield
    finally:
        _WAIT.reset(token)


def lock_path(target: Path) -> Path:
    """A store output locks the hidden `.NAME.lock` beside it (a run folder: `RUN/.lock`)."""
    target = Path(target)
    return target.parent / f".{target.name}.lock"


def _make_parents(folder: Path) -> list[Path]:
    """mkdir -p that returns the folders it created (deepest last)."""
    made = []
    for p in reversed([folder, *folder.parents]):
        if not p.exists():
            p.mkdir()
            made.append(p)
    return made


@contextlib.contextmanager
def exclusive(target: Path, lock_file: Path | None = None) -> Iterator[None]:
    """Hold the lock on `target` for the block, or raise one StoreError line naming the
    process that holds it (inside `waiting()`: wait for it). The lock file (and any folder
    made for it) is removed on release, so a refused or failed command leaves nothing
    behind."""
    path = Path(lock_file) if lock_file is not None else lock_path(target)
    made: list[Path] = []
    try:
        while True:
            made += _make_parents(path.parent)   # again, if a holder removed them meanwhile
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                    if not _WAIT.get():
                        raise StoreError(f"{target} is in use by process {holder} (lock "
                                         f"{path}); wait for it to finish or stop it, then "
                                         "run again") from None
                    print(f"waiting for process {holder}, which holds {target} (lock {path})",
                          file=sys.stderr, flush=True)
                    fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
            try:                                 # the file we locked must still be the lock
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)                         # its holder removed it meanwhile: again
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            path.unlink(missing_ok=True)         # while still held: no one can slip in
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
    finally:
        for folder in reversed(made):
            try:
                folder.rmdir()                   # only if the command left it empty
            except OSError:
                pass
