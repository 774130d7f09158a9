"""Forward-pass designs tried on a *trained* network and not adopted (docs/engine.md,
"Trained networks"). Each must give the engine's spike counts exactly; the script checks
that, then prints samples/s for the engine's kernel and each alternative:

- masks stored as int16 or int32 (no sign extension of the int8 masks in the inner loop);
- onset lists: with nested planes a slot's drive only changes in the cycle its receptor
  turns on, so scatter each live slot's weight into a (cycle, sample) delta at just those
  samples (scalar), then take a prefix sum over cycles;
- hybrid: the first cycle dense (as the engine does), later onsets scattered;
- 16-bit lanes: each weight split exactly into hi * 2**12 + lo, both parts summed in int16
  lanes (for 10 slots neither sum can leave 16 bits) and joined before rules 2-3;
- onset codes: one byte per receptor and sample (the first plane it is on in), compared
  against each plane instead of one mask byte per plane (4 planes only).
- bounded 16-bit lanes (round 4): the drive of `w >> S` in 16 lanes, rules 2-3 on it with
  proven error bounds, and an exact scalar pass for the samples near the threshold (4 planes).

These alternatives are built like the engine before round 2 (4-slot passes, one chunk per
column), except the bounded 16-bit one, which uses the engine's own passes and chunks: they
compare designs, not tuned kernels. Last, three timing-only profile rows: the
engine with its slots remapped onto 64 receptors (masks in L1), without rules 2-3, and
without the drive additions.

    python benchmarks/forward_alternatives.py docs/reproduce-98.9/checkpoints/last.zarr

Medians of 3 over the first 2,000 test images, each row timed in `--rounds` rounds that
alternate with the engine, printed with the median of its ratios to the engine: the machine
may be shared, so compare ratios, not runs.
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

from snnpipe.engine import forward  # noqa: E402
from snnpipe.engine.network import Network  # noqa: E402
from snnpipe.stores import checkpoint as ckpt  # noqa: E402
from snnpipe.stores.dataset import open_dataset  # noqa: E402


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
                if not forward._can_spike(weights[m], n_levels, threshold):
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


@njit(parallel=True, cache=True)
def spike_counts_split16(receptors, weights, masks, neurons_per_column, threshold, bits):
    """16-bit lanes: lo = w & (2**bits - 1) and hi = w >> bits summed separately (exact while
    slots * 2**bits <= 65536 and slots * |hi| < 32768), joined as hi * 2**bits + lo; 4 planes."""
    n_neurons, n_slots = receptors.shape
    n_columns = n_neurons // neurons_per_column
    n_blocks, n_rec, n_levels, sb = masks.shape
    span = n_levels * sb
    flat = masks.reshape(n_blocks, n_rec, span)
    out = np.zeros((n_columns, n_blocks * sb), dtype=np.int32)
    low = (1 << bits) - 1
    for column in prange(n_columns):
        to = weights.dtype.type
        thr, scale, zero = to(threshold), to(1 << bits), to(0)
        live_l = np.zeros(n_slots + 4, dtype=np.int16)
        live_h = np.zeros(n_slots + 4, dtype=np.int16)
        live_r = np.zeros(n_slots + 4, dtype=np.int64)
        acc_l = np.zeros(span, dtype=np.int16)
        acc_h = np.zeros(span, dtype=np.int16)
        for b in range(n_blocks):
            rows = flat[b]
            for m in range(column * neurons_per_column, (column + 1) * neurons_per_column):
                if not forward._can_spike(weights[m], n_levels, threshold):
                    continue
                n_live = 0
                for k in range(n_slots):
                    if weights[m, k] != 0:
                        live_l[n_live] = np.int16(weights[m, k] & low)
                        live_h[n_live] = np.int16(weights[m, k] >> bits)
                        live_r[n_live] = receptors[m, k]
                        n_live += 1
                live_l[n_live:] = 0
                live_h[n_live:] = 0
                live_r[n_live:] = 0
                acc_l[:] = 0
                acc_h[:] = 0
                for j in range(0, n_live, 4):
                    l1, l2, l3, l4 = live_l[j], live_l[j + 1], live_l[j + 2], live_l[j + 3]
                    h1, h2, h3, h4 = live_h[j], live_h[j + 1], live_h[j + 2], live_h[j + 3]
                    r1, r2 = rows[live_r[j]], rows[live_r[j + 1]]
                    r3, r4 = rows[live_r[j + 2]], rows[live_r[j + 3]]
                    for x in range(span):
                        m1, m2 = np.int16(r1[x]), np.int16(r2[x])
                        m3, m4 = np.int16(r3[x]), np.int16(r4[x])
                        acc_l[x] += ((l1 & m1) + (l2 & m2)) + ((l3 & m3) + (l4 & m4))
                        acc_h[x] += ((h1 & m1) + (h2 & m2)) + ((h3 & m3) + (h4 & m4))
                for s in range(sb):
                    t = zero
                    for c in range(4):
                        x = c * sb + s
                        v = to(t + to(acc_h[x]) * scale + (to(acc_l[x]) & 0xFFFF))
                        fire = v > thr
                        out[column, b * sb + s] += fire
                        t = zero if fire else to(v >> 1)
    return out


@njit(cache=True)
def onset_codes(masks):
    """(blocks, R, L, block) masks of nested planes -> (blocks, R, block) int8: the first
    plane each receptor is on in, L if never."""
    n_blocks, n_rec, n_levels, sb = masks.shape
    codes = np.full((n_blocks, n_rec, sb), n_levels, dtype=np.int8)
    for b in range(n_blocks):
        for r in range(n_rec):
            for s in range(sb):
                for c in range(n_levels):
                    if masks[b, r, c, s] != 0:
                        codes[b, r, s] = c
                        break
    return codes


@njit(parallel=True, cache=True)
def spike_counts_codes(receptors, weights, codes, neurons_per_column, threshold):
    """Onset codes compared against each of the 4 planes (slot on in plane c iff code <= c)."""
    n_neurons, n_slots = receptors.shape
    n_columns = n_neurons // neurons_per_column
    n_blocks, n_rec, sb = codes.shape
    out = np.zeros((n_columns, n_blocks * sb), dtype=np.int32)
    for column in prange(n_columns):
        to = weights.dtype.type
        thr, z = to(threshold), to(0)
        live_w = np.zeros(n_slots + 4, dtype=weights.dtype)
        live_r = np.zeros(n_slots + 4, dtype=np.int64)
        drive = np.zeros(4 * sb, dtype=weights.dtype)
        for b in range(n_blocks):
            rows = codes[b]
            for m in range(column * neurons_per_column, (column + 1) * neurons_per_column):
                if not forward._can_spike(weights[m], 4, threshold):
                    continue
                n_live = forward._live_slots(weights[m], receptors[m], live_w, live_r)
                live_w[n_live:] = 0
                live_r[n_live:] = 0
                drive[:] = 0
                for j in range(0, n_live, 4):
                    w1, w2, w3, w4 = live_w[j], live_w[j + 1], live_w[j + 2], live_w[j + 3]
                    r1, r2 = rows[live_r[j]], rows[live_r[j + 1]]
                    r3, r4 = rows[live_r[j + 2]], rows[live_r[j + 3]]
                    for x in range(sb):
                        a1, a2, a3, a4 = r1[x], r2[x], r3[x], r4[x]
                        for c in range(4):
                            drive[c * sb + x] += (((w1 if a1 <= c else z) + (w2 if a2 <= c else z))
                                                  + ((w3 if a3 <= c else z)
                                                     + (w4 if a4 <= c else z)))
                for s in range(sb):
                    t = z
                    for c in range(4):
                        v = to(t + drive[c * sb + s])
                        fire = v > thr
                        out[column, b * sb + s] += fire
                        t = z if fire else to(v >> 1)
    return out


@njit(cache=True, inline="always")
def blocked_layout(receptors, masks, neurons_per_column, parts):
    """What the blocked kernels below start from, as in `forward.spike_counts_blocked`: the
    masks as (blocks, receptors, levels x block) runs, the neurons per chunk, and zeroed
    (columns, parts, samples) counts."""
    n_blocks, n_rec, n_levels, sb = masks.shape
    flat = masks.reshape(n_blocks, n_rec, n_levels * sb)
    per_part = (neurons_per_column + parts - 1) // parts
    n_columns = receptors.shape[0] // neurons_per_column
    return flat, per_part, np.zeros((n_columns, parts, n_blocks * sb), dtype=np.int32)


@njit(cache=True, inline="always")
def chunk_neurons(chunk, parts, neurons_per_column, per_part):
    """Column, part and neuron range [lo, hi) of one chunk, as in the engine."""
    column, part = chunk // parts, chunk % parts
    lo = column * neurons_per_column + part * per_part
    return column, part, lo, min(lo + per_part, (column + 1) * neurons_per_column)


I16_MAX = 32767


@njit(cache=True)
def bounded_shift(live_w, n_live):
    """Smallest S such that every partial sum of the live slots' `w >> S`, and the trajectory
    built from them, fits int16 (|value| <= 2 * sum|w >> S| + small); -1 if none."""
    for shift in range(40):
        total = 0
        for j in range(n_live):
            total += abs(live_w[j] >> shift)
        if 2 * total + 2 * n_live + 8 <= I16_MAX:
            return shift
    return -1


@njit(cache=True, inline="always")
def window_trajectory4(drive, res, sb, hi_t, lo_t):
    """Rules 2-3 on the int16 drive of `w >> S`: res[s] = spikes + 16 if any cycle's value
    lies in (lo_t[c], hi_t[c]], where the exact decision is not known."""
    to = np.int16
    zero = to(0)
    h0, h1, h2, h3 = hi_t[0], hi_t[1], hi_t[2], hi_t[3]
    l0, l1, l2, l3 = lo_t[0], lo_t[1], lo_t[2], lo_t[3]
    for s in range(sb):
        v = drive[s]
        f0, a0 = v > h0, v > l0
        t = zero if f0 else to(v >> 1)
        v = to(t + drive[sb + s])
        f1, a1 = v > h1, v > l1
        t = zero if f1 else to(v >> 1)
        v = to(t + drive[2 * sb + s])
        f2, a2 = v > h2, v > l2
        t = zero if f2 else to(v >> 1)
        v = to(t + drive[3 * sb + s])
        f3, a3 = v > h3, v > l3
        res[s] = to(to(f0) + to(f1) + to(f2) + to(f3)
                    + to(16) * to((a0 ^ f0) | (a1 ^ f1) | (a2 ^ f2) | (a3 ^ f3)))


@njit(cache=True)
def exact_sample(rows, live_w, live_r, n_live, s, sb, n_levels, threshold):
    """One neuron's spikes for sample s of a block, scalar and exact (the fallback)."""
    t, k = 0, 0
    for c in range(n_levels):
        d = 0
        for j in range(n_live):
            if rows[live_r[j], c * sb + s] != 0:
                d += live_w[j]
        v = t + d
        if v > threshold:
            k, t = k + 1, 0
        else:
            t = v >> 1
    return k


@njit(parallel=True, cache=True)
def spike_counts_bounded16(receptors, weights, masks, neurons_per_column, parts, threshold,
                           fallbacks):
    """16-bit lanes without the split: the drive of `w >> S` (S per neuron, so every sum fits
    int16) in 16 lanes, rules 2-3 on it with proven error bounds, and an exact scalar pass for
    the samples whose value falls in a window around the threshold. With d = w >> S the true
    drive lies in [2**S D, 2**S (D + n_live)). By induction over the cycles, while every
    earlier cycle's decision was certain (so both trajectories reset together), a value v of
    the approximate trajectory means the true value lies in [v - A_c, v + B_c] (units of
    2**S), A_0 = 0, B_0 = n_live, A' = A/2 + 1/2, B' = B/2 + 1/2 + n_live; a spike would
    reset the bounds, which is ignored (they only grow, so that is safe). With S = 0 the
    drive is exact and A = B = 0. 4 planes (callers check), threshold >= 0.
    fallbacks[chunk, 0] counts the (neuron, sample) pairs that took the exact pass, and
    fallbacks[chunk, 1] those of the 16-bit path."""
    n_slots = receptors.shape[1]
    n_blocks, n_rec, n_levels, sb = masks.shape
    span = n_levels * sb
    flat, per_part, out = blocked_layout(receptors, masks, neurons_per_column, parts)
    for chunk in prange(out.shape[0] * parts):
        column, part, lo, hi = chunk_neurons(chunk, parts, neurons_per_column, per_part)
        thr = weights.dtype.type(threshold)
        live_w = np.empty(n_slots, dtype=weights.dtype)
        live_r = np.empty(n_slots, dtype=np.int64)
        narrow_w = np.empty(n_slots, dtype=np.int16)
        drive = np.zeros(span, dtype=weights.dtype)
        drive16 = np.zeros(span, dtype=np.int16)
        res = np.zeros(sb, dtype=np.int16)
        hi_t = np.zeros(4, dtype=np.int16)
        lo_t = np.zeros(4, dtype=np.int16)
        t = np.zeros(sb, dtype=weights.dtype)
        v = np.zeros(sb, dtype=weights.dtype)
        counts = np.zeros(n_blocks * sb, dtype=np.int32)
        shift = np.full(max(hi - lo, 0), -2, dtype=np.int64)     # -2: cannot spike
        for m in range(lo, hi):
            if forward._can_spike(weights[m], n_levels, threshold):
                n_live = forward._live_slots(weights[m], receptors[m], live_w, live_r)
                shift[m - lo] = bounded_shift(live_w, n_live)
        for b in range(n_blocks):
            rows = flat[b]
            for m in range(lo, hi):
                S = shift[m - lo]
                if S == -2:
                    continue
                n_live = forward._live_slots(weights[m], receptors[m], live_w, live_r)
                if S == -1:                                      # no int16 fit: the engine's path
                    forward._accumulate_drive(drive, rows, live_w, live_r, n_live, span)
                    forward._integrate_and_fire(drive, t, v, counts, b * sb, sb, n_levels, thr)
                    continue
                for j in range(n_live):
                    narrow_w[j] = live_w[j] >> S
                slack = n_live if S > 0 else 0
                units = min(threshold >> S, I16_MAX)
                a2, b2 = 0, 2 * slack                            # 2 A_c, 2 B_c
                for c in range(4):
                    hi_t[c] = min(units + (a2 + 1) // 2, I16_MAX)
                    lo_t[c] = units - (b2 + 1) // 2 - 1
                    if S > 0:
                        a2, b2 = (a2 + 1) // 2 + 1, (b2 + 1) // 2 + 1 + 2 * slack
                fallbacks[chunk, 1] += sb
                forward._accumulate_drive(drive16, rows, narrow_w, live_r, n_live, span)
                window_trajectory4(drive16, res, sb, hi_t, lo_t)
                for s in range(sb):
                    r = res[s]
                    if r < 16:
                        counts[b * sb + s] += r
                    else:
                        fallbacks[chunk, 0] += 1
                        counts[b * sb + s] += exact_sample(rows, live_w, live_r, n_live, s, sb,
                                                           n_levels, threshold)
        out[column, part, :] = counts
    return out


@njit(parallel=True, cache=True)
def profile_parts(receptors, weights, masks, neurons_per_column, parts, threshold, skip_drive,
                  skip_rules):
    """`forward.spike_counts_blocked` with one of its two parts switched off (timing only)."""
    n_slots = receptors.shape[1]
    n_blocks, n_rec, n_levels, sb = masks.shape
    span = n_levels * sb
    flat, per_part, out = blocked_layout(receptors, masks, neurons_per_column, parts)
    for chunk in prange(out.shape[0] * parts):
        column, part, lo, hi = chunk_neurons(chunk, parts, neurons_per_column, per_part)
        thr = weights.dtype.type(threshold)
        live_w = np.empty(n_slots, dtype=weights.dtype)
        live_r = np.empty(n_slots, dtype=np.int64)
        drive = np.zeros(span, dtype=weights.dtype)
        t = np.zeros(sb, dtype=weights.dtype)
        v = np.zeros(sb, dtype=weights.dtype)
        counts = np.zeros(n_blocks * sb, dtype=np.int32)
        for b in range(n_blocks):
            for m in range(lo, hi):
                if not forward._can_spike(weights[m], n_levels, threshold):
                    continue
                n_live = forward._live_slots(weights[m], receptors[m], live_w, live_r)
                if not skip_drive:
                    forward._accumulate_drive(drive, flat[b], live_w, live_r, n_live, span)
                if not skip_rules:
                    forward._integrate_and_fire(drive, t, v, counts, b * sb, sb, n_levels, thr)
        out[column, part, :] = counts
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
    ap.add_argument("--rounds", type=int, default=3,
                    help="each row is timed this many times, alternating with the engine")
    args = ap.parse_args()
    ck = ckpt.load(Path(args.checkpoint))
    cfg = ck.cfg
    net = Network.from_arrays(cfg, ck.arrays["receptors"], ck.arrays["weights"])
    planes = np.ascontiguousarray(open_dataset(Path(args.store)).load("test").planes
                                  [:args.images], dtype=np.bool_)
    r = net.connectivity.indices.reshape(-1, cfg.slots)
    w = net.connectivity.data.reshape(-1, cfg.slots)
    parts = max(1, 2 * forward.threads() // cfg.columns + 1)
    n = len(planes)
    masks = forward.build_masks(planes)

    def engine(m):
        return forward.spike_counts_blocked(r, w, m, cfg.neurons, parts, cfg.spike_threshold)

    def engine_remapped(rr):
        return forward.spike_counts_blocked(rr, w, masks, cfg.neurons, parts,
                                            cfg.spike_threshold)

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
    bits = 12                                        # 10 slots: 10 * 4095 < 65536
    if len(cfg.levels) != 4:
        print("skipped: the 16-bit and onset-code rows are written for 4 planes")
    elif cfg.slots * ((1 << bits) - 1) >= 65536 or \
            cfg.slots * int(np.abs(w >> bits).max()) > 32767:
        print(f"skipped: the 16-bit rows (a split sum could leave 16 bits at {cfg.slots} slots)")
    else:
        m16 = masks.astype(np.int16)
        rows.append(("16-bit lanes, weights split hi/lo, int16 masks",
                     lambda: spike_counts_split16(r, w, m16, cfg.neurons, cfg.spike_threshold,
                                                  bits)))
        rows.append(("16-bit lanes, weights split hi/lo, int8 masks",
                     lambda: spike_counts_split16(r, w, masks, cfg.neurons, cfg.spike_threshold,
                                                  bits)))
    if len(cfg.levels) == 4 and cfg.spike_threshold >= 0:
        fallbacks = np.zeros((cfg.columns * parts, 2), dtype=np.int64)
        spike_counts_bounded16(r, w, masks, cfg.neurons, parts, cfg.spike_threshold, fallbacks)
        exact, narrow = fallbacks.sum(axis=0)
        print(f"bounded 16-bit lanes: {exact / max(narrow, 1):.2%} of the (neuron, sample) "
              "pairs they compute take the exact fallback")
        rows.append(("16-bit lanes of w >> S, error-bounded, exact fallback",
                     lambda: spike_counts_bounded16(r, w, masks, cfg.neurons, parts,
                                                    cfg.spike_threshold, fallbacks)))
    if len(cfg.levels) == 4:
        codes = onset_codes(masks)
        rows.append(("onset codes compared against each plane",
                     lambda: spike_counts_codes(r, w, codes, cfg.neurons, cfg.spike_threshold)))
    print(f"{'':<56} {'samples/s':>10}  to the engine (median of {args.rounds} alternating rounds)")
    for name, f in rows:
        got = f()
        got = got.sum(axis=1) if got.ndim == 3 else got
        if not np.array_equal(got[:, :n], want):
            sys.exit(f"error: {name}: different spike counts from the engine")
        f()                                          # compiled and warm
        pairs = [(median_rate(f, n), median_rate(rows[0][1], n)) for _ in range(args.rounds)]
        print(f"{name:<56} {statistics.median(a for a, _ in pairs):>10,.0f}  "
              f"{statistics.median(a / e for a, e in pairs):.2f}x")
    # Where the engine's own time goes (timing only: these skip work, counts not checked).
    remapped = np.ascontiguousarray(r % 64)
    for name, f in (("profile: the engine, slots remapped onto 64 receptors",
                     lambda: engine_remapped(remapped)),
                    ("profile: the engine without rules 2-3",
                     lambda: profile_parts(r, w, masks, cfg.neurons, parts, cfg.spike_threshold,
                                           False, True)),
                    ("profile: the engine without the drive additions",
                     lambda: profile_parts(r, w, masks, cfg.neurons, parts, cfg.spike_threshold,
                                           True, False))):
        f()
        print(f"{name:<56} {median_rate(f, n):>10,.0f} samples/s")


if __name__ == "__main__":
    main()
