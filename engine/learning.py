"""Learning (docs/model.md): reinforcement (rule E4) and decay with pruning (rule E6).

Which reinforcement runs where, in training (`snnpipe.engine.batch.train_batch`):
- `reinforce_column_nested`: intensity planes (nested: a receptor on at one level stays on
  at every dimmer one), the SONN's case; each slot costs one lookup of its receptor's first
  cycle (`receptor_first_cycles`);
- `reinforce_column_nested_parallel`: the same on all cores, for columns of at least
  `PARALLEL_REINFORCE_NEURONS` neurons (D𝜋's 7,920);
- `reinforce_column`: planes that are not nested (the rule written plainly).
Growth (rule E5) is in engine/growth.py, the quantilizers (rule E7) in engine/quantilizer.py.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def _learn_contributing(weights_row, contributing, amount, threshold, prune_below):
    """Rule 2's update: each contributing, still non-free slot moves by `amount` unless that
    would reach the spike threshold, and is freed if it falls below `prune_below`."""
    pruned = 0
    for k in range(weights_row.shape[0]):
        if contributing[k] and weights_row[k] != 0:
            w = weights_row[k] + amount
            if abs(w) < threshold:
                weights_row[k] = w
                if abs(w) < prune_below:
                    weights_row[k] = 0
                    pruned += 1
    return pruned


@njit(cache=True)
def reinforce_column(receptors, weights, planes, amount, threshold, learn_low, learn_high,
                     prune_below):
    """Reinforce every neuron of one column for one sample, in place. Returns slots pruned.

    receptors, weights: (neurons, slots) of that column; planes: (levels, receptors) bool.
    """
    n_neurons, n_slots = receptors.shape
    n_levels = planes.shape[0]
    contributing = np.zeros(n_slots, dtype=np.bool_)
    pruned = 0
    for n in range(n_neurons):
        t = 0
        contributing[:] = False
        for c in range(n_levels):
            # 1. add the non-free slots that are on in plane c; they now contribute.
            for k in range(n_slots):
                if weights[n, k] != 0 and planes[c, receptors[n, k]]:
                    t += weights[n, k]
                    contributing[k] = True
            # 2. above learn_low: learn (if also below learn_high), then reset.
            if t > learn_low:
                if t < learn_high:
                    pruned += _learn_contributing(weights[n], contributing, amount, threshold,
                                                  prune_below)
                t = 0
                contributing[:] = False
            # 3. halve, rounding toward minus infinity.
            t = t >> 1
    return pruned


@njit(cache=True)
def receptor_first_cycles(planes, first):
    """first[r] = the first cycle in which receptor r is on (n_levels if never). Returns True
    when the planes are nested (a receptor on in plane c is on in every later plane), as
    intensity planes always are; only then is `first` a complete description."""
    n_levels, n_receptors = planes.shape
    first[:] = n_levels
    nested = True
    for c in range(n_levels - 1, -1, -1):
        for r in range(n_receptors):
            if planes[c, r]:
                first[r] = c
                if c + 1 < n_levels and not planes[c + 1, r]:
                    nested = False
    return nested


@njit(cache=True)
def reinforce_column_nested(receptors, weights, first, n_levels, amount, threshold, learn_low,
                            learn_high, prune_below):
    """`reinforce_column` for nested planes, fastest: a slot on in plane c stays on, so the
    drive of cycle c is the previous drive plus the weights of the slots switching on at c
    (one pass over the slots per neuron, then one step per cycle), and the contributing set
    since the last reset is exactly the slots on in the current cycle. After a learning step
    the drive is recomputed from the new weights (freed slots add 0)."""
    n_neurons, n_slots = receptors.shape
    slot_first = np.empty(n_slots, dtype=np.int64)
    delta = np.empty(n_levels + 1, dtype=np.int64)
    pruned = 0
    for n in range(n_neurons):
        delta[:] = 0
        for k in range(n_slots):            # branch-free: a free slot adds 0
            f = first[receptors[n, k]]
            slot_first[k] = f
            delta[f] += weights[n, k]
        silent = True                  # zero drive every cycle: t stays 0 <= learn_low
        for c in range(n_levels):
            if delta[c] != 0:
                silent = False
        if silent:
            continue
        t = 0
        drive = 0
        for c in range(n_levels):
            drive += delta[c]
            t += drive
            if t > learn_low:
                if t < learn_high:
                    drive = 0
                    for k in range(n_slots):
                        if slot_first[k] <= c and weights[n, k] != 0:
                            w = weights[n, k] + amount
                            if abs(w) < threshold:
                                weights[n, k] = w
                                if abs(w) < prune_below:
                                    weights[n, k] = 0
                                    pruned += 1
                            drive += weights[n, k]
                t = 0
            t = t >> 1
    return pruned


PARALLEL_REINFORCE_NEURONS = 2048   # columns this large reinforce on all cores


@njit(parallel=True, cache=True)
def reinforce_column_nested_parallel(receptors, weights, first, n_levels, amount, threshold,
                                     learn_low, learn_high, prune_below, chunks):
    """`reinforce_column_nested` with the column's neurons split into `chunks` run on all
    cores: in reinforcement each neuron depends only on its own slots, so the result is
    identical."""
    n_neurons = receptors.shape[0]
    per = (n_neurons + chunks - 1) // chunks
    pruned = np.zeros(chunks, dtype=np.int64)
    for c in prange(chunks):
        lo = min(c * per, n_neurons)
        hi = min(lo + per, n_neurons)
        pruned[c] = reinforce_column_nested(receptors[lo:hi], weights[lo:hi], first, n_levels,
                                            amount, threshold, learn_low, learn_high,
                                            prune_below)
    return pruned.sum()


@njit(cache=True)
def decay_and_prune(weights, amount, prune_below):
    """Move every non-free weight toward zero by `amount` (not past it), then free
    |w| < prune_below. amount >= 0, prune_below >= 1.

    weights: any-shaped integer array, flattened view. Returns slots pruned. Written without
    branches (a free slot stays 0 and is not counted) so that it vectorises: a large network
    decays 792,000 slots every `decay_every` positive steps.
    """
    flat = weights.reshape(-1)
    pruned = 0
    for i in range(flat.shape[0]):
        w = flat[i]
        d = min(w + amount, 0) if w < 0 else max(w - amount, 0)
        small = abs(d) < prune_below
        pruned += small & (w != 0)
        flat[i] = 0 if small else d
    return pruned
