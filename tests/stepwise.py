"""The step-by-step trainer: snnpipe's original Python batch loop, kept as the reference that
the compiled batch (`snnpipe.engine.batch.train_batch`) must match bit for bit (exact mode).

Every learning step goes through Python: numpy's `Generator.choice`/`integers` for growth,
one kernel call per reinforcement, counters in Python. Slow and obviously the spec: rule E8
of docs/model.md, with growth (E5), priming (E10) and numpy's draws (E11).
"""

from __future__ import annotations

import numpy as np

from snnpipe.engine import learning
from snnpipe.engine.encoding import sample_masks
from snnpipe.engine.generators import pcg64_load_state, pcg64_state_array
from snnpipe.engine.network import Network
from snnpipe.engine.trainer import Trainer, decided_correct, margins


class StepwiseTrainer(Trainer):
    def train_batch(self, planes, pixels, labels):
        assert self.cfg.generator == "pcg64" and self.cfg.quantilizer == "exact"
        pcg64_load_state(self.rng, self.rng_state)
        self._train_batch(planes, pixels, labels)
        self.rng_state[:] = pcg64_state_array(self.rng)

    def _train_batch(self, planes, pixels, labels):
        cfg, st, net = self.cfg, self.state, self.net
        labels = labels.astype(np.int64)
        n = labels.shape[0]
        # E8 step 1: a batch of distinct samples
        st.batches_seen += 1
        # E8 step 2: spike counts with frozen weights
        counts = net.spike_counts_masks(sample_masks(planes), n)
        correct, no_decision = decided_correct(counts, labels)
        # E8 step 3: quantilizers observe, in batch order (err, then each false column ascending)
        err, excess = margins(counts, labels)
        false_mask = np.ones_like(excess, dtype=bool)
        false_mask[np.arange(n), labels] = False
        self.positive.observe_all(err)
        self.negative.observe_all(excess[false_mask])     # row-major: sample, then column
        # E8 step 4: learn, in batch order, with the quantilizers as they now stand
        pos_due = self.positive.reached_by_all(err)
        neg_due = self.negative.reached_by_all(excess) & false_mask
        for i in range(n):
            forced = cfg.prime_forced_positive and st.batches_seen > st.positive_learns
            if pos_due[i] or forced:
                self._learn(planes[i], pixels[i], int(labels[i]), positive=True)
            capped = cfg.prime_negative_cap and (
                st.negative_learns > (3 * st.positive_learns) // 2)
            if not capped and neg_due[i].any():
                for j in np.flatnonzero(neg_due[i]):
                    self._learn(planes[i], pixels[i], int(j), positive=False)
        c = st.counters
        c.samples += n
        c.online_correct += int(correct.sum())
        c.online_no_decision += int(no_decision.sum())
        st.samples_seen += n

    def _learn(self, planes, pixels, column, positive):
        cfg, st, c = self.cfg, self.state, self.state.counters
        w0 = cfg.initial_weight if positive else -cfg.initial_weight
        amount = self._scheduled(cfg.reinforce_positive if positive else cfg.reinforce_negative)
        decay_amount = self._scheduled(cfg.decay_amount)
        active = np.flatnonzero(pixels > 0)
        c.grown += grow(self.net, self.rng, active, column, cfg.grow_count, w0)
        c.pruned_reinforce += reinforce(self.net, planes, column, amount)
        if positive:
            st.positive_learns += 1
            c.positive_steps += 1
            if cfg.decay_amount > 0 and st.positive_learns % cfg.decay_every == 0:
                c.pruned_decay += decay(self.net, decay_amount)
        else:
            st.negative_learns += 1
            c.negative_steps += 1

    def _scheduled(self, amount):
        """docs/variants.md, "Learning-rate schedule": amount * a / (a + P - start)."""
        a, age = self.cfg.anneal_steps, self.state.positive_learns - self.cfg.anneal_start
        if a == 0 or amount == 0 or age <= 0:
            return amount
        size = max(1, abs(amount) * a // (a + age))
        return size if amount > 0 else -size


# ------------------------------------------------------------------ one step at a time
def reinforce(net: Network, planes: np.ndarray, column: int, amount: int) -> int:
    """Rule E4 for one sample and one column, in place, through the kernel training uses
    for these planes (nested intensity planes or any); returns the slots pruned."""
    c = net.cfg
    args = (amount, c.spike_threshold, c.learn_low, c.learn_high, c.prune_below)
    first = np.empty(c.receptors, np.int64)
    if learning.receptor_first_cycles(planes, first):
        return int(learning.reinforce_column_nested(net.receptors[column], net.weights[column],
                                                    first, len(c.levels), *args))
    return int(learning.reinforce_column(net.receptors[column], net.weights[column], planes,
                                         *args))


def grow(net: Network, rng: np.random.Generator, active: np.ndarray, column: int,
         count: int, weight: int) -> int:
    """Rule E5 with numpy's draws: min(count, free) distinct random free slots of `column`,
    each to a random active receptor, with `weight`. Returns the number grown."""
    if active.size == 0 or count <= 0:
        return 0
    col_w = net.weights[column].reshape(-1)
    free = np.flatnonzero(col_w == 0)
    if free.size == 0:
        return 0
    m = min(count, free.size)
    chosen = rng.choice(free, size=m, replace=False)
    receptors = active[rng.integers(0, active.size, size=m)]
    net.receptors[column].reshape(-1)[chosen] = receptors
    col_w[chosen] = weight
    return m


def decay(net: Network, amount: int | None = None) -> int:
    """Rule E6: every weight toward zero by `amount` (the configuration's by default), then
    prune; returns the slots pruned."""
    c = net.cfg
    return int(learning.decay_and_prune(net.connectivity.data,
                                        c.decay_amount if amount is None else amount,
                                        c.prune_below))
