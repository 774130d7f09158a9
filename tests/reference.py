"""A literal, slow implementation of docs/model.md: plain loops per neuron, slot and cycle.

Python ints (no overflow), Fractions for the quantilizers, sets for contributing slots:
deliberately nothing in common with the engine's fast paths, so agreement means something.
Each function and loop names the rule of docs/model.md it transcribes (E1-E12: the exact
mode; F1-F6: D𝜋's program); the table "How bit for bit is checked" there names the tests.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np


def spike_counts(cfg, receptors, weights, planes):
    """docs/model.md, E2 "Forward pass: spike counts" (weights frozen)."""
    n_samples = planes.shape[0]
    out = np.zeros((n_samples, cfg.columns), dtype=np.int64)
    for i in range(n_samples):
        for col in range(cfg.columns):
            for n in range(cfg.neurons):        # a column's count: the sum over its neurons
                t = 0
                for c in range(len(cfg.levels)):  # E2: each cycle in order, rules 1-3
                    for k in range(cfg.slots):    # E2 rule 1: slots on in plane c (free adds 0)
                        if bool(planes[i, c, receptors[col, n, k]]):
                            t += int(weights[col, n, k])
                    if t > cfg.spike_threshold:   # E2 rule 2: spike and reset
                        out[i, col] += 1
                        t = 0
                    else:                         # E2 rule 3: halve, floor (toward -inf)
                        t = t // 2
    return out


def reinforce(cfg, receptors, weights, sample_planes, column, amount):
    """docs/model.md, E4 "Reinforcement", of one column for one sample.

    In place on `weights` (a numpy array); returns slots pruned."""
    pruned = 0
    for n in range(cfg.neurons):              # E4: every neuron of the column
        t = 0
        contributing: set[int] = set()
        for c in range(len(cfg.levels)):      # E4: each cycle, steps 1-3
            for k in range(cfg.slots):        # E4 step 1: live slots on in plane c
                w = int(weights[column, n, k])
                if w != 0 and bool(sample_planes[c, receptors[column, n, k]]):
                    t += w
                    contributing.add(k)
            if t > cfg.learn_low:             # E4 step 2: the learning window, then reset
                if t < cfg.learn_high:
                    for k in sorted(contributing):  # E4 step 2: each still-live contributor
                        w = int(weights[column, n, k])
                        if w == 0:
                            continue
                        if abs(w + amount) < cfg.spike_threshold:
                            w += amount
                            if abs(w) < cfg.prune_below:
                                w = 0
                                pruned += 1
                            weights[column, n, k] = w
                t = 0
                contributing = set()
            t = t // 2                        # E4 step 3: halve, floor
    return pruned


def decay(cfg, weights):
    """docs/model.md, E6 "Decay and pruning", over every slot of the network."""
    pruned = 0
    for idx in np.ndindex(weights.shape):   # E6: each live weight toward 0, then prune
        w = int(weights[idx])
        if w == 0:
            continue
        w = max(w - cfg.decay_amount, 0) if w > 0 else min(w + cfg.decay_amount, 0)
        if abs(w) < cfg.prune_below:
            w = 0
            pruned += 1
        weights[idx] = w
    return pruned


class RefQuantilizer:
    """docs/model.md, E7 "Quantilizers", exact: q as a Fraction."""

    def __init__(self, up, down, denominator):
        self.q = Fraction(0)
        self.up = Fraction(up, denominator)
        self.down = Fraction(down, denominator)

    def observe(self, x):
        if x > self.q:
            self.q += self.up
        elif x < self.q:
            self.q -= self.down


class RefTrainer:
    """docs/model.md, E8 "One training batch" with the priming rules of E10, growth
    disabled (grow_count == 0)."""

    def __init__(self, cfg, receptors, weights):
        assert cfg.grow_count == 0
        self.cfg = cfg
        self.receptors = receptors.copy()
        self.weights = weights.astype(np.int64).copy()
        self.pos = RefQuantilizer(cfg.positive_up, cfg.positive_down, cfg.positive_denominator)
        self.neg = RefQuantilizer(cfg.negative_up, cfg.negative_down, cfg.negative_denominator)
        self.batches_seen = self.positive_learns = self.negative_learns = 0

    def train_batch(self, planes, labels):
        cfg = self.cfg
        self.batches_seen += 1                                          # E8 step 1
        counts = spike_counts(cfg, self.receptors, self.weights, planes)  # E8 step 2
        errs, excesses = [], []
        for i, y in enumerate(labels):   # E8 step 3: observe err, then excess_j (ascending j)
            y = int(y)
            cnt = [int(v) for v in counts[i]]
            err = max(cnt[j] for j in range(cfg.columns) if j != y) - cnt[y]
            total = sum(cnt)
            ex = {j: cnt[j] - (total - cnt[j]) // (cfg.columns - 1)
                  for j in range(cfg.columns) if j != y}
            self.pos.observe(err)
            for j in sorted(ex):
                self.neg.observe(ex[j])
            errs.append(err)
            excesses.append(ex)
        for i, y in enumerate(labels):   # E8 step 4: learn, in batch order
            y = int(y)
            forced = cfg.prime_forced_positive and self.batches_seen > self.positive_learns
            if errs[i] >= self.pos.q or forced:
                reinforce(cfg, self.receptors, self.weights, planes[i], y,
                          cfg.reinforce_positive)
                self.positive_learns += 1
                if cfg.decay_amount > 0 and self.positive_learns % cfg.decay_every == 0:
                    decay(cfg, self.weights)
            if cfg.prime_negative_cap and self.negative_learns > (3 * self.positive_learns) // 2:
                continue                 # E10: the negative cap, once per sample
            for j in sorted(excesses[i]):   # E8 step 4: negative steps, ascending j
                if excesses[i][j] >= self.neg.q:
                    reinforce(cfg, self.receptors, self.weights, planes[i], j,
                              cfg.reinforce_negative)
                    self.negative_learns += 1
        return counts


def dpi_grow(weights, receptors, active, count, weight, rand):
    """D𝜋's growth walk, literally as docs/model.md (F4 "Growth: the dpi-walk") words it, on
    one column's (neurons, slots) arrays, in place. `rand()` is the C library's own (F2).
    Returns placed slots."""
    neurons, slots = weights.shape

    def rnd(m):
        return rand() % m

    def live(n):
        return sum(1 for k in range(slots) if weights[n, k] != 0)

    free = sum(slots - live(n) for n in range(neurons))
    if free == 0:
        return []
    nb = min(count, free)
    ps = []
    for _ in range(nb):                   # F4: draw p_i = rnd(free) + 1, repeats drawn again
        p = rnd(free) + 1
        while p in ps:
            p = rnd(free) + 1
        ps.append(p)
    ps.sort()
    n, s, p0, prev = 0, 0, 0, None
    placed = []
    for p in ps:                          # F4: place the sorted p_i one by one
        while n < neurons and p0 != p:    # F4: the walk over the column's neurons
            f = slots - live(n)
            if p0 + f < p:
                p0 += f
                n += 1
                continue
            if n != prev:
                s = 0
            while s < slots and p0 != p:  # F4: scan the neuron's slots from s
                if weights[n, s] == 0:
                    p0 += 1
                if p0 != p:
                    s += 1
            if p0 != p:
                n += 1
        assert weights[n, s] == 0, "the walk must land on a free slot"
        k = rnd(len(active)) + 1
        receptors[n, s] = active[k - 1]
        weights[n, s] = weight
        prev = n
        placed.append((n, s))
    return placed


def binary32_observe(q, up, down, denominator, x):
    """docs/model.md, F1 "Quantilizers in binary32", with numpy scalars: q is np.float32.

    The down-step is D𝜋's `q - 1.0 / denominator`, so this equals the engine's rule only for
    down = 1 (both of D𝜋's quantilizers; the tests use no other)."""
    xf = np.float32(x)
    if xf != q:
        if xf >= q:
            return np.float32(q + np.float32(np.float32(up) / np.float32(denominator)))
        return np.float32(np.float64(q) - np.float64(1.0) / np.float64(denominator))
    return q
