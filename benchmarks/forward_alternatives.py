"""Forward-pass designs tried on a *trained* network and not adopted (docs/engine.md,
"Trained networks"). Each must give the engine's spike counts exactly; the script checks
that, then prints samples/s for the engine's kernel and each alternative:

- masks stored as int16 or int32 (no sign extension of the int8 masks in the inner loop);
- onset lists: with nested planes a slot's drive only changes in the cycle its receptor
  turns on, so scatter each live slot's weight into a (cycle, sample) delta at just those
  samples (scalar), then take a prefix sum over cycles;
- hybrid: the first cycle dense (as the engine does), later onsets scattered.

    python benchmarks/forward_alternatives.py docs/reproduce-98.9/checkpoints/last.zarr

Medians of 3 over the first 2,000 test images; the machine may be shared, so compare the
rows of one run (ratios), not runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit, prange

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine import kernels  # noqa: E402
from engine.network import Network  # noqa: E402
from stores import checkpoint as ckpt  # noqa: E402
from stores.dataset import open_dataset  # noqa: E402


@njit(cache=True)
def onset_lists(masks, first_cycle):
    """Per block and receptor: entries `c * block + s` for each sample s whose receptor turns
    on in cycle c >= first_cycle (planes nested: on in c means on in every later cycle)."""
    n_blocks, n_rec, n_levels, sb = masks.shape
    start = np.zeros((n_blocks, n_rec + 1), np.int64)
    ent = np.empty((n_blocks, n_rec * sb), np.int16)
    for b in range(n_blocks):
        p = 0
        for r in range(n_rec):
            start[b, r] = p
            for s in range(sb):
                for c in range(n_levels):
                    if masks[b, r, c, s] != 0:
                        if c >= first_cycle:
                            ent[b, p] = c * sb + s
                            p += 1
                        break
        start[b, n_rec] = p
    return start, ent


@njit(parallel=True, cache=True)
def spike_counts_onsets(receptors, weights, masks, start, ent, dense_first, neurons_per_column,
                        threshold):
    """Spike counts (columns, samples) from onset lists; `dense_first` adds cycle 0 densely."""
    n_neurons, n_slots = receptors.shape
    n_columns = n_neurons // neurons_per_column
    n_blocks, n_rec, n_levels, sb = masks.shape
    out = np.zeros((n_columns, n_blocks * sb), dtype=np.int32)
    for column in prange(n_columns):
        delta = np.zeros(n_levels * sb, dtype=weights.dtype)
        t = np.zeros(sb, dtype=weights.dtype)
        d = np.zeros(sb, dtype=weights.dtype)
        thr = weights.dtype.type(threshold)
        for b in range(n_blocks):
            st, en, rows = start[b], ent[b], masks[b]
            for m in range(column * neurons_per_column, (column + 1) * neurons_per_column):
                if not kernels._can_spike(weights[m], n_levels, threshold):
                    continue
                delta[:] = 0
                for k in range(n_slots):
                    w = weights[m, k]
                    if w == 0:
                        continue
                    r = receptors[m, k]
                    if dense_first:
                        row = rows[r, 0]
                        for x in range(sb):
                            delta[x] += w & row[x]
                    for q in range(st[r], st[r + 1]):
                        delta[en[q]] += w
                t[:] = 0
                d[:] = 0
                for c in range(n_levels):
                    for s in range(sb):
                        d[s] += delta[c * sb + s]
                        v = t[s] + d[s]
                        fire = v > thr
                        out[column, b * sb + s] += fire
                        t[s] = 0 if fire else v >> 1
    return out


def median_rate(f, n: int, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return n / statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--store", default=str(ROOT / "data" / "mnist.zarr"))
    ap.add_argument("--images", type=int, default=2000)
    args = ap.parse_args()
    ck = ckpt.load(Path(args.checkpoint))
    cfg = ck.cfg
    net = Network.from_arrays(cfg, ck.arrays["receptors"], ck.arrays["weights"])
    planes = np.ascontiguousarray(open_dataset(Path(args.store)).load("test").planes
                                  [:args.images], dtype=np.bool_)
    r = net.connectivity.indices.reshape(-1, cfg.slots)
    w = net.connectivity.data.reshape(-1, cfg.slots)
    parts = max(1, 2 * kernels.threads() // cfg.columns + 1)
    n = len(planes)
    masks = kernels.build_masks(planes)

    def engine(m):
        return kernels.spike_counts_blocked(r, w, m, cfg.neurons, parts, cfg.spike_threshold)

    want = engine(masks).sum(axis=1)[:, :n]
    all_on, later_on = onset_lists(masks, 0), onset_lists(masks, 1)
    live = w != 0
    per_slot = lambda st: (st[:, 1:] - st[:, :-1]).mean(axis=0)[r[live]].mean()  # noqa: E731
    print(f"{args.checkpoint}: {int(live.sum()):,} live slots; a live slot's receptor is on "
          f"in {per_slot(all_on[0]):.0f} of {masks.shape[3]} samples of a block, "
          f"turns on after the first cycle in {per_slot(later_on[0]):.0f}")
    rows = [("engine: int8 masks, dense (the default)", lambda: engine(masks))]
    for dtype in (np.int16, np.int32):
        wide = masks.astype(dtype)
        rows.append((f"masks as {np.dtype(dtype).name}", lambda wide=wide: engine(wide)))
    for name, (st, en), dense in (("onset lists, all scattered", all_on, False),
                                  ("hybrid: cycle 0 dense, later onsets scattered",
                                   later_on, True)):
        rows.append((name, lambda st=st, en=en, dense=dense: spike_counts_onsets(
            r, w, masks, st, en, dense, cfg.neurons, cfg.spike_threshold)))
    for name, f in rows:
        got = f()
        got = got.sum(axis=1) if got.ndim == 3 else got
        assert np.array_equal(got[:, :n], want), f"{name}: different spike counts"
        f()                                          # compiled and warm
        print(f"{name:<50} {median_rate(f, n):>10,.0f} samples/s")


if __name__ == "__main__":
    main()
