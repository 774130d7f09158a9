"""Test-only fault injection: make the process signal or kill itself at a known point.

`SNNPIPE_FAULT="SIGINT@batch:190"` sends SIGINT to this process right after training batch
190 (counted by `batches_seen`). `SNNPIPE_FAULT="SIGKILL@write:7"` kills it at the 7th
write point it crosses: every step of every durable write (a file written, a temporary
renamed, an old copy moved away, a row half appended) calls `write_point(name)`.
`SNNPIPE_FAULT_TRACE=FILE` appends "N name" for each write point, so a test can list them
from an uninterrupted run and then kill at each one. Unset (always, outside tests), both
hooks cost one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

_SPEC: tuple[int, str, int] | None | bool = False     # False: not parsed yet
_WRITES = 0


def _parse() -> tuple[int, str, int] | None:
    text = os.environ.get("SNNPIPE_FAULT", "")
    if not text:
        return None
    try:
        action, where = text.split("@", 1)
        point, count = where.split(":", 1)
        return int(getattr(signal, action.upper())), point, int(count)
    except (ValueError, AttributeError):
        raise ValueError(f"SNNPIPE_FAULT={text!r}: expected e.g. SIGINT@batch:190 or "
                         "SIGKILL@write:7") from None


def hit(point: str, count: int) -> None:
    """Deliver the configured signal when `point` reaches `count`."""
    global _SPEC
    if _SPEC is False:
        _SPEC = _parse()
    if _SPEC is not None and _SPEC[1] == point and _SPEC[2] == count:
        os.kill(os.getpid(), _SPEC[0])


def write_point(name: str) -> None:
    """One step of a durable write was taken; the fault may strike right here."""
    global _WRITES
    _WRITES += 1
    trace = os.environ.get("SNNPIPE_FAULT_TRACE")
    if trace:
        with open(trace, "a") as f:
            f.write(f"{_WRITES} {name}\n")
    hit("write", _WRITES)
