"""Directory-shaped stores replaced so that a kill at any instant leaves a complete copy.

The protocol for writing `NAME` (a zarr store, a checkpoint, the raw-data cache):

1. write everything into `.NAME.tmp-*` (a kill here leaves an incomplete temporary);
2. rename it to `.NAME.new-*`: from now on it is known to be complete;
3. rename the old `NAME` (if any) to `.NAME.old-*`;
4. rename `.NAME.new-*` to `NAME`, then delete `.NAME.old-*`.

Between 3 and 4 there is no `NAME`, but a complete `.new-*` and `.old-*` exist; `recover`
(called under the store's lock before anyone reads it) puts the newest complete copy back in
place. `.tmp-*` folders are never complete, so they are the only thing cleaned up blindly;
a complete copy is deleted only once a newer complete one is in place. Ctrl-C and SIGTERM
wait while steps 2-4 run (`signals_held`), so a command stopped by one (rather than killed)
leaves the old store or the new one in place and nothing beside it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

from . import faults


def _hidden(final: Path, kind: str) -> Path:
    return final.parent / f".{final.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@contextlib.contextmanager
def atomic_directory(final: Path, replace: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling path to write; on success it becomes `final`."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _hidden(final, "tmp")
    try:
        yield tmp
        faults.write_point(f"{final.name}: temporary written")
        if final.exists() and not replace:
            raise FileExistsError(f"{final} already exists")
        with signals_held():                 # the renames are done whole, or not begun
            new = _hidden(final, "new")
            os.replace(tmp, new)
            faults.write_point(f"{final.name}: marked complete")
            if final.exists():
                old = _hidden(final, "old")
                os.replace(final, old)
                faults.write_point(f"{final.name}: old copy moved aside")
                os.replace(new, final)
                faults.write_point(f"{final.name}: new copy in place")
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(new, final)
            faults.write_point(f"{final.name}: done")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait while a finished copy is renamed into place, then take effect
    (raised, or handled, as they would have been): a command stopped by one leaves the old
    store or the new one in place, never hidden copies for the next command to recover.
    SIGKILL cannot wait, and `recover` is still there for it. Main thread only (the only one
    Python's signal handlers run in)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum))
            for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in held.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        for sig in caught:
            signal.raise_signal(sig)


def complete_copies(final: Path, kind: str) -> list[Path]:
    """Hidden complete copies of `final` (`kind` "new" or "old") left by a killed writer,
    newest first."""
    final = Path(final)
    if not final.parent.is_dir():
        return []
    found = list(final.parent.glob(f".{final.name}.{kind}-*"))
    return sorted(found, key=lambda p: p.stat().st_mtime_ns, reverse=True)


def recover(final: Path) -> str | None:
    """Finish a replace of `final` that a kill interrupted (roll forward: a complete `.new`
    copy is the write the killed process meant to make), or put the `.old` copy back if that
    is all there is; then drop what is superseded. Call only while holding the store's lock.
    Returns a sentence saying what was recovered, or None."""
    final = Path(final)
    if not final.parent.is_dir():
        return None
    note = None
    new, old = complete_copies(final, "new"), complete_copies(final, "old")
    if new:
        if final.exists():
            aside = _hidden(final, "old")
            os.replace(final, aside)
            old.append(aside)
        os.replace(new[0], final)
        note = f"finished an interrupted write of {final} (restored {new[0].name})"
    elif not final.exists() and old:
        os.replace(old[0], final)
        note = f"{final} was missing after an interrupted write; restored {old[0].name}"
        old = old[1:]
    for p in [*new[1:], *old]:                 # superseded by `final`, which is complete
        shutil.rmtree(p, ignore_errors=True)
    for p in final.parent.glob(f".{final.name}.tmp-*"):   # never complete
        shutil.rmtree(p, ignore_errors=True)
    return note


def recover_folder(folder: Path) -> list[str]:
    """`recover` every store in `folder` that a killed writer left hidden copies of, and drop
    half-written hidden files (`.NAME.tmp-*`). Call only while holding the folder's lock."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    names = set()
    for p in folder.glob(".*.*-*"):
        for kind in (".tmp-", ".new-", ".old-"):
            if kind in p.name:
                names.add(p.name[1:p.name.rindex(kind)])
    notes = []
    for name in sorted(names):
        if any(p.is_file() for p in folder.glob(f".{name}.tmp-*")):
            for p in folder.glob(f".{name}.tmp-*"):
                p.unlink(missing_ok=True)
            continue
        note = recover(folder / name)
        if note:
            notes.append(note)
    return notes
