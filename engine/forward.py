"""The forward pass (docs/model.md, rule E2): spike counts of every neuron for a batch.

Two exact paths. `spike_counts_blocked` (the one training and evaluation use) reads a
batch's planes as byte masks (`build_masks`, one bit of each receptor per sample) and
integrates blocks of up to 200 samples at once, vectorised across samples;
`spike_counts_events` walks the receptor-major matrix, one event per receptor switching on
(a second, independent implementation, checked against the first). numba compiles both.
The slot layout is neuron-major: `receptors[m, k]`, `weights[m, k]` for the flat neuron
index `m = column * neurons + n`: the `indices`/`data` of the network's CSR matrix.
"""

from __future__ import annotations

import sys

import numba
import numpy as np
from numba import njit, prange

SAMPLE_BLOCK = 200  # most samples integrated together (one batch of D𝜋's); see block_size


@njit(cache=True)
def block_size(n):
    """Samples per block for a pass over n samples: at most SAMPLE_BLOCK, a multiple of 8
    (one AVX2 vector of int32), with as little padding as possible (200 for a batch of
    200 and for the 10,000 test images, 8 for one image)."""
    blocks = max(1, (n + SAMPLE_BLOCK - 1) // SAMPLE_BLOCK)
    per = (n + blocks - 1) // blocks
    return max(8, (per + 7) // 8 * 8)


_BYTES_1 = np.uint64(0x00FF00FF00FF00FF)
_BYTES_2 = np.uint64(0x0000FFFF0000FFFF)
_BYTES_4 = np.uint64(0x00000000FFFFFFFF)
_SHIFT_1, _SHIFT_2, _SHIFT_4 = np.uint64(8), np.uint64(16), np.uint64(32)
_ON = np.uint64(255)                     # a 0/1 byte times 255 is the 0/-1 mask byte
_LITTLE_ENDIAN = sys.byteorder == "little"  # byte k of a word is bits 8k..8k+7


@njit(cache=True, inline="always")
def _swap_blocks(upper, lower, keep, shift):
    """One step of a 64-bit 8 x 8 byte transpose: exchange the blocks of `upper` above the
    diagonal (its high halves of each 2*shift-bit field) with those of `lower` below it."""
    t = ((upper >> shift) ^ lower) & keep
    return upper ^ (t << shift), lower ^ t


@njit(cache=True)
def build_masks(planes):
    """(n, L, R) bool -> (blocks, R, L, block_size(n)) int8 masks (-1 on, 0 off),
    zero-padded: the layout the forward kernel reads. One receptor's on/off state over every
    cycle and every sample of a block is one contiguous run of L x block bytes, so a slot adds
    its weight to all cycles of all samples in one vectorised loop.

    This is a byte transpose (samples x receptors -> receptors x samples per plane), done
    8 x 8 bytes at a time in 64-bit registers: byte by byte it cost ~0.5 ms per batch of
    200, about a tenth of a trained default-size training batch. Receptor counts that are
    not a multiple of 8, and the last samples of a block that do not fill 8, go byte by byte
    (`_mask_bytes`), as does a big-endian machine. `planes` must be C-contiguous
    (`Network.spike_counts` and the trainer pass it so).
    """
    n, n_levels, n_rec = planes.shape
    sb = block_size(n)
    blocks = max(1, (n + sb - 1) // sb)
    masks = np.empty((blocks, n_rec, n_levels, sb), dtype=np.int8)
    pad = blocks * sb - n                 # only the last block is short
    if pad > 0:
        masks[blocks - 1, :, :, sb - pad:] = 0
    src = planes.view(np.uint8)
    if n_rec % 8 != 0 or not _LITTLE_ENDIAN:
        _mask_bytes(src, masks, 0, n, sb)
        return masks
    words = src.reshape(n * n_levels * n_rec).view(np.uint64).reshape(n, n_levels, n_rec // 8)
    out = masks.reshape(blocks * n_rec * n_levels * sb).view(np.uint64).reshape(
        blocks, n_rec, n_levels, sb // 8)
    for b in range(blocks):
        lo = b * sb
        hi = min(lo + sb, n)
        full = lo + (hi - lo) // 8 * 8
        for s in range(lo, full, 8):
            g = (s - lo) // 8
            for c in range(n_levels):
                for q in range(n_rec // 8):
                    # rows: samples s..s+7, each 8 bytes = receptors 8q..8q+7
                    a0, a1 = words[s, c, q], words[s + 1, c, q]
                    a2, a3 = words[s + 2, c, q], words[s + 3, c, q]
                    a4, a5 = words[s + 4, c, q], words[s + 5, c, q]
                    a6, a7 = words[s + 6, c, q], words[s + 7, c, q]
                    # swap 1-byte, then 2-byte, then 4-byte blocks across the diagonal
                    a0, a1 = _swap_blocks(a0, a1, _BYTES_1, _SHIFT_1)
                    a2, a3 = _swap_blocks(a2, a3, _BYTES_1, _SHIFT_1)
                    a4, a5 = _swap_blocks(a4, a5, _BYTES_1, _SHIFT_1)
                    a6, a7 = _swap_blocks(a6, a7, _BYTES_1, _SHIFT_1)
                    a0, a2 = _swap_blocks(a0, a2, _BYTES_2, _SHIFT_2)
                    a1, a3 = _swap_blocks(a1, a3, _BYTES_2, _SHIFT_2)
                    a4, a6 = _swap_blocks(a4, a6, _BYTES_2, _SHIFT_2)
                    a5, a7 = _swap_blocks(a5, a7, _BYTES_2, _SHIFT_2)
                    a0, a4 = _swap_blocks(a0, a4, _BYTES_4, _SHIFT_4)
                    a1, a5 = _swap_blocks(a1, a5, _BYTES_4, _SHIFT_4)
                    a2, a6 = _swap_blocks(a2, a6, _BYTES_4, _SHIFT_4)
                    a3, a7 = _swap_blocks(a3, a7, _BYTES_4, _SHIFT_4)
                    # now a_k = receptor 8q+k over samples s..s+7
                    r = q * 8
                    out[b, r, c, g], out[b, r + 1, c, g] = a0 * _ON, a1 * _ON
                    out[b, r + 2, c, g], out[b, r + 3, c, g] = a2 * _ON, a3 * _ON
                    out[b, r + 4, c, g], out[b, r + 5, c, g] = a4 * _ON, a5 * _ON
                    out[b, r + 6, c, g], out[b, r + 7, c, g] = a6 * _ON, a7 * _ON
        _mask_bytes(src, masks, full, hi, sb)
    return masks


@njit(cache=True)
def _mask_bytes(src, masks, lo, hi, sb):
    """masks[i // sb, r, c, i % sb] = -src[i, c, r] for samples lo <= i < hi, byte by byte."""
    n_levels, n_rec = src.shape[1], src.shape[2]
    for i in range(lo, hi):
        b = i // sb
        for c in range(n_levels):
            for r in range(n_rec):
                masks[b, r, c, i - b * sb] = -np.int8(src[i, c, r])


@njit(cache=True, inline="always")
def _can_spike(weights_row: np.ndarray, n_levels: int, threshold: int) -> bool:
    """False when even all positive weights on from the first cycle cannot pass threshold.

    With drive s <= P each cycle, t_c <= P * (2 - 2**-c); so if P * (2**L - 1) <= T * 2**(L-1)
    the neuron never spikes and can be skipped without changing any count. Evaluated without
    overflow for any L: divided by 2**(L-1) the test is 2P - T > P / 2**(L-1), and for an
    integer d = 2P - T that is d > floor(P / 2**(L-1)) = P >> (L-1).
    """
    positive = 0
    for k in range(weights_row.shape[0]):
        if weights_row[k] > 0:
            positive += weights_row[k]
    d = 2 * positive - threshold
    if d < 1:
        return False
    if n_levels - 1 >= 63:
        return True
    return d > (positive >> (n_levels - 1))


@njit(cache=True, inline="always")
def _live_slots(weights_row, receptors_row, live_w, live_r):
    """Copy a neuron's live (non-zero) slots to the front of live_w / live_r; returns how many."""
    n_live = 0
    for k in range(weights_row.shape[0]):
        if weights_row[k] != 0:
            live_w[n_live] = weights_row[k]
            live_r[n_live] = receptors_row[k]
            n_live += 1
    return n_live


@njit(cache=True, inline="always")
def _accumulate_drive(drive, rows, live_w, live_r, n_live, span):
    """Rule 1, every cycle at once: drive[c * block + s] = the sum of the weights of the live
    slots whose receptor is on in plane c for sample s.

    Eight slots per pass over the (levels x block) run, then four, two, one: the drive is
    loaded and stored once per pass, and the first pass writes it instead of adding to zeros.
    """
    j = 0
    first = True
    while j + 7 < n_live:
        w1, w2, w3, w4 = live_w[j], live_w[j + 1], live_w[j + 2], live_w[j + 3]
        w5, w6, w7, w8 = live_w[j + 4], live_w[j + 5], live_w[j + 6], live_w[j + 7]
        r1, r2 = rows[live_r[j]], rows[live_r[j + 1]]
        r3, r4 = rows[live_r[j + 2]], rows[live_r[j + 3]]
        r5, r6 = rows[live_r[j + 4]], rows[live_r[j + 5]]
        r7, r8 = rows[live_r[j + 6]], rows[live_r[j + 7]]
        if first:
            for x in range(span):
                drive[x] = (((w1 & r1[x]) + (w2 & r2[x])) + ((w3 & r3[x]) + (w4 & r4[x]))) + (
                    ((w5 & r5[x]) + (w6 & r6[x])) + ((w7 & r7[x]) + (w8 & r8[x])))
        else:
            for x in range(span):
                drive[x] += (((w1 & r1[x]) + (w2 & r2[x])) + ((w3 & r3[x]) + (w4 & r4[x]))) + (
                    ((w5 & r5[x]) + (w6 & r6[x])) + ((w7 & r7[x]) + (w8 & r8[x])))
        first = False
        j += 8
    if j + 3 < n_live:
        w1, w2, w3, w4 = live_w[j], live_w[j + 1], live_w[j + 2], live_w[j + 3]
        r1, r2 = rows[live_r[j]], rows[live_r[j + 1]]
        r3, r4 = rows[live_r[j + 2]], rows[live_r[j + 3]]
        if first:
            for x in range(span):
                drive[x] = ((w1 & r1[x]) + (w2 & r2[x])) + ((w3 & r3[x]) + (w4 & r4[x]))
        else:
            for x in range(span):
                drive[x] += ((w1 & r1[x]) + (w2 & r2[x])) + ((w3 & r3[x]) + (w4 & r4[x]))
        first = False
        j += 4
    if first:
        drive[:] = 0
    if j + 1 < n_live:
        w1, w2, r1, r2 = live_w[j], live_w[j + 1], rows[live_r[j]], rows[live_r[j + 1]]
        for x in range(span):
            drive[x] += (w1 & r1[x]) + (w2 & r2[x])
        j += 2
    if j < n_live:
        w1, r1 = live_w[j], rows[live_r[j]]
        for x in range(span):
            drive[x] += w1 & r1[x]


@njit(cache=True, inline="always")
def _integrate_and_fire(drive, t, v, counts, base, sb, n_levels, thr):
    """Rules 2-3 for every sample of a block: t += drive of the cycle; spike and reset above
    threshold, else halve (floor). counts[base + s] += spikes of sample s.

    With 4 planes (the SONN's) the four cycles are written out, so each sample's potential
    and count stay in registers (one pass over the samples, one store per sample); other
    plane counts run cycle by cycle through `t` and `v`. Both run in the weights' own type
    (exact: |t + drive| < 2 * slots * threshold fits it).
    """
    if n_levels == 4:
        to = drive.dtype.type           # numba widens int32 arithmetic; keep the lanes narrow
        zero = to(0)
        for s in range(sb):
            v0 = drive[s]
            f0 = v0 > thr
            t0 = zero if f0 else to(v0 >> 1)
            v1 = to(t0 + drive[sb + s])
            f1 = v1 > thr
            t1 = zero if f1 else to(v1 >> 1)
            v2 = to(t1 + drive[2 * sb + s])
            f2 = v2 > thr
            t2 = zero if f2 else to(v2 >> 1)
            v3 = to(t2 + drive[3 * sb + s])
            f3 = v3 > thr
            counts[base + s] += np.int32(f0) + np.int32(f1) + np.int32(f2) + np.int32(f3)
        return
    t[:] = 0
    for c in range(n_levels):
        for s in range(sb):
            v[s] = t[s] + drive[c * sb + s]
        for s in range(sb):
            fire = v[s] > thr
            counts[base + s] += fire
            t[s] = 0 if fire else v[s] >> 1


@njit(parallel=True, cache=True)
def spike_counts_blocked(receptors, weights, masks, neurons_per_column, parts, threshold):
    """Spike count of every column for every sample.

    masks: (blocks, receptors, levels, block) int8 from `build_masks`. Each column is split
    into `parts` chunks of neurons so both cores stay busy. Returns
    (columns, parts, blocks * block) int32; sum over axis 1 for the column counts.

    Why it is fast on a trained network (every slot live, most neurons able to spike): a
    block is a whole batch (up to 200 samples), and one block's masks stay in cache while
    every neuron of the chunk reads them; rule 1's drive of every cycle and sample is
    accumulated eight slots per pass over one (levels x block) run (`_accumulate_drive`);
    with 4 planes, rules 2-3 keep each sample's potential in a register across the cycles
    (`_integrate_and_fire`).
    """
    n_neurons, n_slots = receptors.shape
    n_columns = n_neurons // neurons_per_column
    n_blocks, n_rec, n_levels, sb = masks.shape
    span = n_levels * sb
    flat = masks.reshape(n_blocks, n_rec, span)
    per_part = (neurons_per_column + parts - 1) // parts
    out = np.zeros((n_columns, parts, n_blocks * sb), dtype=np.int32)
    thr_arr = np.empty(1, dtype=weights.dtype)
    thr_arr[0] = threshold
    for chunk in prange(n_columns * parts):
        column = chunk // parts
        part = chunk % parts
        lo = column * neurons_per_column + part * per_part
        hi = min(lo + per_part, (column + 1) * neurons_per_column)
        thr = thr_arr[0]
        live_w = np.empty(n_slots, dtype=weights.dtype)
        live_r = np.empty(n_slots, dtype=np.int64)
        drive = np.zeros(span, dtype=weights.dtype)
        t = np.zeros(sb, dtype=weights.dtype)
        v = np.zeros(sb, dtype=weights.dtype)
        counts = np.zeros(n_blocks * sb, dtype=np.int32)
        spiky = np.empty(max(hi - lo, 0), dtype=np.bool_)
        for m in range(lo, hi):
            spiky[m - lo] = _can_spike(weights[m], n_levels, threshold)
        for b in range(n_blocks):          # block-outer: one block's masks stay in cache
            rows = flat[b]
            for m in range(lo, hi):
                if not spiky[m - lo]:
                    continue
                n_live = _live_slots(weights[m], receptors[m], live_w, live_r)
                _accumulate_drive(drive, rows, live_w, live_r, n_live, span)
                _integrate_and_fire(drive, t, v, counts, b * sb, sb, n_levels, thr)
        for s in range(n_blocks * sb):
            out[column, part, s] = counts[s]
    return out


def threads() -> int:
    return numba.get_num_threads()


@njit(parallel=True, cache=True)
def spike_counts_events(indptr, neurons, weights, switch_on, n_levels, neurons_per_column,
                        n_columns, threshold, n_chunks):
    """Event-driven spike counts: each active receptor is processed once per sample.

    Receptor-major (CSC) connectivity: the slots reading receptor r are
    `neurons[indptr[r]:indptr[r+1]]` with `weights[...]`. switch_on: (samples, receptors)
    int8, the first plane index in which the receptor is on (n_levels = never). Planes are
    nested, so one switch-on event adds the receptor's weights to its targets' drive from
    that cycle on; only the neurons an event touched are integrated.
    Returns (samples, columns) int64.
    """
    n_samples, n_receptors = switch_on.shape
    n_neurons = neurons_per_column * n_columns
    out = np.zeros((n_samples, n_columns), dtype=np.int64)
    per_chunk = (n_samples + n_chunks - 1) // n_chunks
    for chunk in prange(n_chunks):
        delta = np.zeros((n_neurons, n_levels), dtype=weights.dtype)
        touched = np.zeros(n_neurons, dtype=np.bool_)
        touched_list = np.empty(n_neurons, dtype=np.int64)
        for i in range(chunk * per_chunk, min((chunk + 1) * per_chunk, n_samples)):
            n_touched = 0
            for r in range(n_receptors):
                level = switch_on[i, r]
                if level >= n_levels:
                    continue
                for j in range(indptr[r], indptr[r + 1]):      # the event's fan-out
                    m = neurons[j]
                    delta[m, level] += weights[j]
                    if not touched[m]:
                        touched[m] = True
                        touched_list[n_touched] = m
                        n_touched += 1
            for q in range(n_touched):
                m = touched_list[q]
                drive = 0
                t = 0
                spikes = 0
                for c in range(n_levels):
                    drive += delta[m, c]          # receptors on in plane c (nested)
                    t += drive
                    if t > threshold:
                        spikes += 1
                        t = 0
                    else:
                        t >>= 1
                    delta[m, c] = 0
                touched[m] = False
                out[i, m // neurons_per_column] += spikes
    return out
