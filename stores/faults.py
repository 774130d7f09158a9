"""Test-only fault injection: make the process signal or kill itself at a known point.

`SNNPIPE_FAULT="SIGINT@batch:190"` sends SIGINT to this process right after training batch
190 (counted by `batches_seen`); SIGTERM and SIGKILL work the same way. Tests use it instead
of sleeping and hoping the signal lands in the right place. Unset (always, outside tests),
`hit` is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

_SPEC: tuple[int, str, int] | None | bool = False     # False: not parsed yet


def _parse() -> tuple[int, str, int] | None:
    text = os.environ.get("SNNPIPE_FAULT", "")
    if not text:
        return None
    try:
        action, where = text.split("@", 1)
        point, count = where.split(":", 1)
        return int(getattr(signal, action.upper())), point, int(count)
    except (ValueError, AttributeError):
        raise ValueError(f"SNNPIPE_FAULT={text!r}: expected e.g. SIGINT@batch:190") from None


def hit(point: str, count: int) -> None:
    """Deliver the configured signal when `point` reaches `count`."""
    global _SPEC
    if _SPEC is False:
        _SPEC = _parse()
    if _SPEC is not None and _SPEC[1] == point and _SPEC[2] == count:
        os.kill(os.getpid(), _SPEC[0])
