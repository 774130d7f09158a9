"""Up-front checks of what a run will need from the machine, before anything is allocated."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from snnpipe.engine import Config
from snnpipe.pipeline.errors import PipelineError

# Bytes per (column, neuron, slot): the CSR receptor and weight of the slot, the transposed
# copy the masks are built from, and the copies a checkpoint write makes; measured peaks
# (dpi-98.9: 792,000 slots, 805 MiB with the data) are well under this.
BYTES_PER_SLOT_FACTOR = 3


def network_bytes(cfg: Config) -> int:
    slots = cfg.columns * cfg.neurons * cfg.slots
    return slots * (4 + np.dtype(cfg.weight_dtype).itemsize) * BYTES_PER_SLOT_FACTOR


def available_bytes(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def memory_budget() -> int:
    """Bytes one reader may hold at once: half of what is available now, the free memory
    (MemAvailable) or what the address-space limit (`ulimit -v`) still leaves, whichever is
    less. Half, because a reader's arrays are converted and copied once more after."""
    import resource
    have = available_bytes()
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        try:
            pages = int(Path("/proc/self/statm").read_text().split()[0])
            left = soft - pages * resource.getpagesize()
        except (OSError, ValueError, IndexError):
            left = soft
        have = left if have is None else min(have, left)
    return max(0, (have if have is not None else 1 << 40) // 2)


def check_memory(cfg: Config, available: int | None = None) -> None:
    """Refuse with one line when the network alone would not fit in available memory."""
    need = network_bytes(cfg)
    have = available if available is not None else available_bytes()
    if have is not None and need > have:
        raise PipelineError(
            f"this network needs about {need / 2**30:.1f} GiB ({cfg.columns} columns x "
            f"{cfg.neurons:,} neurons x {cfg.slots} slots) but the machine has "
            f"{have / 2**30:.1f} GiB available; use fewer neurons or slots")
