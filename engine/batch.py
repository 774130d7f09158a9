"""One training batch as one compiled call (docs/model.md, rule E8, steps 2-4).

`train_batch` runs the forward pass, both quantilizers, the learning decisions, growth,
reinforcement, decay, pruning and the counters without returning to Python. The only way
out mid-batch is an evaluation point (docs/model.md, rule F5): when `eval_every_positive` > 0 the
call returns the index of the next sample to learn, the caller evaluates the network as it
stands, and calls again with `start` set to that index (the counts and the quantilizers of
the batch are unchanged by then, so the decisions are recomputed identically).

Counters live in one int64 array (indices below); parameters in another (`pack_params`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .config import Config
from .forward import build_masks, spike_counts_blocked, threads
from .generators import GEN_GLIBC, GEN_PCG64, below
from .growth import GROWTH_DPI_WALK, GROWTH_UNIFORM, active_pixels, grow_dpi_walk, grow_uniform
from .learning import (
    PARALLEL_REINFORCE_NEURONS,
    decay_and_prune,
    receptor_first_cycles,
    reinforce_column,
    reinforce_column_nested,
    reinforce_column_nested_parallel,
)
from .quantilizer import observe_binary32, observe_exact
from .schedule import annealed

# counters[...]
BATCHES_SEEN, POSITIVE_LEARNS, NEGATIVE_LEARNS, SAMPLES_SEEN, EVALUATED_AT = 0, 1, 2, 3, 4
C_SAMPLES, C_CORRECT, C_NO_DECISION, C_POSITIVE, C_NEGATIVE = 5, 6, 7, 8, 9
C_GROWN, C_PRUNED_REINFORCE, C_PRUNED_DECAY = 10, 11, 12
N_COUNTERS = 13

# params[...]
(P_THRESHOLD, P_LEARN_LOW, P_LEARN_HIGH, P_PRUNE_BELOW, P_W0, P_REINFORCE_POS,
 P_REINFORCE_NEG, P_GROW_COUNT, P_DECAY_AMOUNT, P_DECAY_EVERY, P_POS_UP, P_POS_DOWN,
 P_POS_DEN, P_NEG_UP, P_NEG_DOWN, P_NEG_DEN, P_FORCED, P_CAP, P_NEURONS, P_PARTS,
 P_GENERATOR, P_GROWTH, P_BINARY32, P_CHUNKS, P_ANNEAL, P_ANNEAL_START) = range(26)


def pack_params(cfg: Config, parts: int) -> np.ndarray:
    """The config's numbers and rule switches as the int64 array the kernel reads."""
    return np.array([
        cfg.spike_threshold, cfg.learn_low, cfg.learn_high, cfg.prune_below,
        cfg.initial_weight, cfg.reinforce_positive, cfg.reinforce_negative, cfg.grow_count,
        cfg.decay_amount, cfg.decay_every, cfg.positive_up, cfg.positive_down,
        cfg.positive_denominator, cfg.negative_up, cfg.negative_down, cfg.negative_denominator,
        int(cfg.prime_forced_positive), int(cfg.prime_negative_cap), cfg.neurons, parts,
        GEN_GLIBC if cfg.generator == "glibc" else GEN_PCG64,
        GROWTH_DPI_WALK if cfg.growth == "dpi-walk" else GROWTH_UNIFORM,
        int(cfg.quantilizer == "binary32"), 4 * threads(), cfg.anneal_steps,
        cfg.anneal_start,
    ], dtype=np.int64)


@njit(cache=True)
def _margins(counts, label):
    """err = max_false - count[true]; total of the sample's counts."""
    max_false = np.iinfo(np.int64).min
    total = 0
    for j in range(counts.shape[0]):
        total += counts[j]
        if j != label and counts[j] > max_false:
            max_false = counts[j]
    return max_false - counts[label], total


@njit(cache=True)
def _observe(q_units, q_float, k, up, down, den, binary32, x):
    if binary32:
        q_float[k] = observe_binary32(q_float[k], up, down, den, x)
    else:
        q_units[k] = observe_exact(q_units[k], up, down, den, x)


@njit(cache=True)
def _reached(q_units, q_float, k, den, binary32, x):
    """x >= q in the quantilizer's arithmetic."""
    if binary32:
        return np.float32(x) >= q_float[k]
    return x * den >= q_units[k]


@njit(cache=True)
def _learn(receptors, weights, planes_i, first, nested, active, n_active, column, positive, p,
           counters, st):
    """Grow then reinforce one column for one sample; positive steps also drive decay."""
    neurons = p[P_NEURONS]
    lo, hi = column * neurons, (column + 1) * neurons
    w0 = p[P_W0] if positive else -p[P_W0]
    age = counters[POSITIVE_LEARNS]                 # the schedule's clock (off: unused)
    amount = annealed(p[P_REINFORCE_POS] if positive else p[P_REINFORCE_NEG], age,
                      p[P_ANNEAL], p[P_ANNEAL_START])
    rec_col = receptors[lo:hi]
    w_col = weights[lo:hi]
    if p[P_GROWTH] == GROWTH_DPI_WALK:
        grown = grow_dpi_walk(rec_col, w_col, active, n_active, p[P_GROW_COUNT], w0, st,
                              p[P_GENERATOR])
    else:
        grown = grow_uniform(rec_col, w_col, active, n_active, p[P_GROW_COUNT], w0, st,
                             p[P_GENERATOR])
    counters[C_GROWN] += grown
    if nested and neurons >= PARALLEL_REINFORCE_NEURONS:
        counters[C_PRUNED_REINFORCE] += reinforce_column_nested_parallel(
            rec_col, w_col, first, planes_i.shape[0], amount, p[P_THRESHOLD], p[P_LEARN_LOW],
            p[P_LEARN_HIGH], p[P_PRUNE_BELOW], p[P_CHUNKS])
    elif nested:
        counters[C_PRUNED_REINFORCE] += reinforce_column_nested(
            rec_col, w_col, first, planes_i.shape[0], amount, p[P_THRESHOLD], p[P_LEARN_LOW],
            p[P_LEARN_HIGH], p[P_PRUNE_BELOW])
    else:
        counters[C_PRUNED_REINFORCE] += reinforce_column(
            rec_col, w_col, planes_i, amount, p[P_THRESHOLD], p[P_LEARN_LOW],
            p[P_LEARN_HIGH], p[P_PRUNE_BELOW])
    if positive:
        counters[POSITIVE_LEARNS] += 1
        counters[C_POSITIVE] += 1
        if p[P_DECAY_AMOUNT] > 0 and counters[POSITIVE_LEARNS] % p[P_DECAY_EVERY] == 0:
            decay = annealed(p[P_DECAY_AMOUNT], age, p[P_ANNEAL], p[P_ANNEAL_START])
            counters[C_PRUNED_DECAY] += decay_and_prune(weights, decay, p[P_PRUNE_BELOW])
    else:
        counters[NEGATIVE_LEARNS] += 1
        counters[C_NEGATIVE] += 1


@njit(cache=True)
def train_batch(receptors, weights, planes, pixels, labels, counts, start, q_units,
                q_float, counters, st, p, eval_every_positive):
    """Steps 1-4 of one training batch from sample `start`; returns where it stopped
    (len(labels) when the batch is done, earlier only at an evaluation point).

    receptors, weights: (columns * neurons, slots), the CSR buffers, updated in place.
    planes (B, L, R) bool; pixels (B, R) uint8; labels (B,) int64;
    counts (B, columns) int64, filled when start == 0 and reused after.
    """
    n = labels.shape[0]
    n_columns = counts.shape[1]
    binary32 = p[P_BINARY32] != 0
    if start == 0:
        # 1. the batch (drawn by the caller); 2. spike counts with frozen weights
        counters[BATCHES_SEEN] += 1
        counters[SAMPLES_SEEN] += n
        counters[C_SAMPLES] += n
        per_part = spike_counts_blocked(receptors, weights, build_masks(planes), p[P_NEURONS],
                                        p[P_PARTS], p[P_THRESHOLD])
        for i in range(n):
            top = np.iinfo(np.int64).min
            for j in range(n_columns):
                c = 0
                for part in range(per_part.shape[1]):
                    c += per_part[j, part, i]
                counts[i, j] = c
                if c > top:
                    top = c
            at_top = 0
            for j in range(n_columns):
                if counts[i, j] == top:
                    at_top += 1
            if at_top > 1:
                counters[C_NO_DECISION] += 1
            elif counts[i, labels[i]] == top:
                counters[C_CORRECT] += 1
        # 3. the quantilizers observe, in batch order: err, then each false excess_j
        for i in range(n):
            err, total = _margins(counts[i], labels[i])
            _observe(q_units, q_float, 0, p[P_POS_UP], p[P_POS_DOWN], p[P_POS_DEN], binary32,
                     err)
            for j in range(n_columns):
                if j != labels[i]:
                    excess = counts[i, j] - (total - counts[i, j]) // (n_columns - 1)
                    _observe(q_units, q_float, 1, p[P_NEG_UP], p[P_NEG_DOWN], p[P_NEG_DEN],
                             binary32, excess)
    # 4. learn, in batch order, with the quantilizers as they now stand
    active = np.empty(planes.shape[2], dtype=np.int64)
    first = np.empty(planes.shape[2], dtype=np.int64)
    nested = False
    for i in range(start, n):
        label = labels[i]
        err, total = _margins(counts[i], label)
        n_active = -1                      # computed on the sample's first learning step
        forced = p[P_FORCED] != 0 and counters[BATCHES_SEEN] > counters[POSITIVE_LEARNS]
        if forced or _reached(q_units, q_float, 0, p[P_POS_DEN], binary32, err):
            n_active = active_pixels(pixels[i], active)
            nested = receptor_first_cycles(planes[i], first)
            _learn(receptors, weights, planes[i], first, nested, active, n_active, label, True,
                   p, counters, st)
        capped = p[P_CAP] != 0 and (
            counters[NEGATIVE_LEARNS] > (3 * counters[POSITIVE_LEARNS]) // 2)
        if capped:
            continue                       # also skips the evaluation check (his program)
        for j in range(n_columns):
            if j == label:
                continue
            excess = counts[i, j] - (total - counts[i, j]) // (n_columns - 1)
            if _reached(q_units, q_float, 1, p[P_NEG_DEN], binary32, excess):
                if n_active < 0:
                    n_active = active_pixels(pixels[i], active)
                    nested = receptor_first_cycles(planes[i], first)
                _learn(receptors, weights, planes[i], first, nested, active, n_active, j,
                       False, p, counters, st)
        if eval_every_positive > 0:
            pos = counters[POSITIVE_LEARNS]
            if pos % eval_every_positive == 0 and pos != counters[EVALUATED_AT]:
                counters[EVALUATED_AT] = pos
                return i + 1
    return n


@njit(cache=True)
def draw_batch_redraw(st, kind, n_train, size):
    """D𝜋's batch: `size` draws of rnd(n_train), a draw already in the batch drawn again."""
    size = min(size, n_train)
    out = np.empty(size, dtype=np.int64)
    seen = np.zeros(n_train, dtype=np.bool_)
    for i in range(size):
        v = below(st, kind, n_train)
        while seen[v]:
            v = below(st, kind, n_train)
        seen[v] = True
        out[i] = v
    return out
