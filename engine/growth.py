"""Growth: new connections on free slots of one column (docs/model.md, rules E5 and F4).

Both rules work on one column's (neurons, slots) receptor and weight arrays in place, draw
from a generator state array (`snnpipe.engine.generators`), and return the number of slots grown.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .generators import below, choose_distinct

GROWTH_UNIFORM = 0
GROWTH_DPI_WALK = 1


@njit(cache=True)
def active_pixels(pixels_row, out):
    """Receptors eligible for new connections (pixel > 0), ascending; returns how many."""
    n = 0
    for r in range(pixels_row.shape[0]):
        if pixels_row[r] > 0:
            out[n] = r
            n += 1
    return n


@njit(cache=True)
def grow_uniform(receptors, weights, active, n_active, count, weight, st, kind):
    """min(count, free) distinct free slots uniformly at random (numpy's `choice` without
    replacement over the free slots in slot order), then a receptor per slot drawn uniformly
    from the active pixels (numpy's `integers`), exactly as the step-by-step trainer draws.
    The free slots are counted, not listed: only the chosen ranks are located, in one pass."""
    if n_active == 0 or count <= 0:
        return 0
    n_rows, n_slots = weights.shape
    row_free = np.zeros(n_rows, dtype=np.int64)
    n_free = 0
    for n in range(n_rows):
        f = 0
        for k in range(n_slots):             # branch-free count
            f += weights[n, k] == 0
        row_free[n] = f
        n_free += f
    if n_free == 0:
        return 0
    m = min(count, n_free)
    chosen = np.empty(m, dtype=np.int64)
    choose_distinct(st, kind, n_free, m, chosen)
    order = np.argsort(chosen)
    where_n = np.empty(m, dtype=np.int64)
    where_k = np.empty(m, dtype=np.int64)
    base = 0                                  # free slots before row n
    j = 0
    for n in range(n_rows):
        while j < m and chosen[order[j]] < base + row_free[n]:
            r = chosen[order[j]] - base       # the r-th free slot of row n
            for k in range(n_slots):
                if weights[n, k] == 0:
                    if r == 0:
                        where_n[order[j]] = n
                        where_k[order[j]] = k
                        break
                    r -= 1
            j += 1
        if j == m:
            break
        base += row_free[n]
    for i in range(m):
        receptors[where_n[i], where_k[i]] = active[below(st, kind, n_active)]
        weights[where_n[i], where_k[i]] = weight
    return m


@njit(cache=True)
def grow_dpi_walk(receptors, weights, active, n_active, count, weight, st, kind):
    """D𝜋's growth: draw distinct free-slot ranks p_i = rnd(free) + 1, sort them, and walk
    the column's neurons to each (his walk, quirk included: when it skips the rest of the
    neuron it last placed into, that neuron's earlier free slots are counted again).
    One receptor draw `rnd(active) + 1` follows each placement."""
    n_neurons, n_slots = weights.shape
    if n_active == 0 or count <= 0:
        return 0
    live = np.zeros(n_neurons, dtype=np.int64)
    n_free = 0
    for n in range(n_neurons):
        f = 0
        for s in range(n_slots):             # branch-free count: a trained column is full
            f += weights[n, s] != 0
        live[n] = f
        n_free += n_slots - f
    if n_free == 0:
        return 0
    nb = min(count, n_free)
    p = np.empty(nb, dtype=np.int64)
    for i in range(nb):
        while True:
            v = below(st, kind, n_free) + 1
            repeat = False
            for j in range(i):
                if p[j] == v:
                    repeat = True
                    break
            if not repeat:
                break
        p[i] = v
    p.sort()
    n = 0
    s = 0
    p0 = 0
    prev = -1
    for i in range(nb):
        target = p[i]
        while n < n_neurons and p0 != target:
            f = n_slots - live[n]
            if p0 + f < target:
                p0 += f
                n += 1
                continue
            if n != prev:
                s = 0
            while s < n_slots and p0 != target:
                if weights[n, s] == 0:
                    p0 += 1
                if p0 != target:
                    s += 1
            if p0 != target:
                n += 1
        if n >= n_neurons:          # cannot happen (the walk always lands); never write past
            return i
        receptors[n, s] = active[below(st, kind, n_active)]
        weights[n, s] = weight
        live[n] += 1
        prev = n
    return nb
