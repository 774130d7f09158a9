"""Online training: the spec's batch procedure, priming rules, epochs, and exact state.

Read top to bottom: `Trainer.train_batch` is "One training batch" of shared/SONN.md.
All randomness comes from one PCG64 `numpy.random.Generator` owned by the trainer; its
state, the counters, the quantilizers and the network round-trip through plain arrays and
a JSON-able dict (`state_dict` / `from_state`), so a run can resume bit-identically.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from .config import Config
from .encoding import sample_masks
from .network import Network
from .quantilizer import Quantilizer

SAMPLINGS = ("permutation", "independent")


def margins(counts: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per sample: err = max_false - count[true], and excess_j for every column j.

    excess_j = count[j] - floor((total - count[j]) / (columns - 1)); entries for the true
    column are meaningless and must be ignored by the caller.
    """
    n, columns = counts.shape
    rows = np.arange(n)
    true = counts[rows, labels]
    false = counts.copy()
    false[rows, labels] = np.iinfo(np.int64).min
    err = false.max(axis=1) - true
    total = counts.sum(axis=1, keepdims=True)
    excess = counts - (total - counts) // (columns - 1)
    return err, excess


def decided_correct(counts: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(correct, no_decision): correct iff the true column strictly beats every other;
    no decision iff two or more columns tie at the top."""
    top = counts.max(axis=1, keepdims=True)
    at_top = (counts == top).sum(axis=1)
    winner = counts.argmax(axis=1)
    no_decision = at_top > 1
    return (winner == labels) & ~no_decision, no_decision


@dataclass
class Counters:
    """What a user watches per epoch (reset with `reset_epoch`)."""

    samples: int = 0
    online_correct: int = 0
    online_no_decision: int = 0
    positive_steps: int = 0
    negative_steps: int = 0
    grown: int = 0
    pruned_reinforce: int = 0
    pruned_decay: int = 0


@dataclass
class TrainerState:
    """Everything besides the network needed to continue a run exactly."""

    batches_seen: int = 0
    positive_learns: int = 0
    negative_learns: int = 0
    samples_seen: int = 0
    epoch: int = 0              # completed epochs
    cursor: int = 0             # batches of the current epoch already trained
    counters: Counters = field(default_factory=Counters)


class Trainer:
    """Owns the network, the quantilizers, the counters and the random generator."""

    def __init__(self, cfg: Config, network: Network | None = None, seed: int = 0,
                 sampling: str = "permutation") -> None:
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
        self.cfg = cfg
        self.net = network if network is not None else Network.new(cfg)
        self.sampling = sampling
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.positive = Quantilizer(cfg.positive_up, cfg.positive_down, cfg.positive_denominator)
        self.negative = Quantilizer(cfg.negative_up, cfg.negative_down, cfg.negative_denominator)
        self.state = TrainerState()
        self._order: np.ndarray = np.zeros(0, np.int64)   # current epoch's batches

    # ------------------------------------------------------------------- one batch
    def train_batch(self, planes: np.ndarray, pixels: np.ndarray, labels: np.ndarray) -> None:
        """One training batch: planes (B, L, R) bool, pixels (B, R) uint8, labels (B,)."""
        cfg, st, net = self.cfg, self.state, self.net
        labels = labels.astype(np.int64)
        n = labels.shape[0]
        # 1. a batch of distinct samples
        st.batches_seen += 1
        # 2. spike counts with frozen weights
        counts = net.spike_counts_masks(sample_masks(planes), n)
        correct, no_decision = decided_correct(counts, labels)
        # 3. quantilizers observe, in batch order (err, then each false column ascending)
        err, excess = margins(counts, labels)
        false_mask = np.ones_like(excess, dtype=bool)
        false_mask[np.arange(n), labels] = False
        self.positive.observe_all(err)
        self.negative.observe_all(excess[false_mask])     # row-major: sample, then column
        # 4. learn, in batch order, with the quantilizers as they now stand
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

    def _learn(self, planes: np.ndarray, pixels: np.ndarray, column: int, positive: bool) -> None:
        """Grow then reinforce one column; positive steps also drive decay."""
        cfg, st, c = self.cfg, self.state, self.state.counters
        w0 = cfg.initial_weight if positive else -cfg.initial_weight
        amount = cfg.reinforce_positive if positive else cfg.reinforce_negative
        active = np.flatnonzero(pixels > 0)
        c.grown += self.net.grow(self.rng, active, column, cfg.grow_count, w0)
        c.pruned_reinforce += self.net.reinforce(planes, column, amount)
        if positive:
            st.positive_learns += 1
            c.positive_steps += 1
            if cfg.decay_amount > 0 and st.positive_learns % cfg.decay_every == 0:
                c.pruned_decay += self.net.decay()
        else:
            st.negative_learns += 1
            c.negative_steps += 1

    # ---------------------------------------------------------------------- epochs
    def batches_per_epoch(self, n_train: int) -> int:
        return -(-n_train // self.cfg.batch_size)

    def next_batch(self, n_train: int) -> np.ndarray:
        """Indices of the current epoch's next batch.

        `permutation`: one fresh permutation per epoch, cut into consecutive batches.
        `independent`: every batch drawn on its own (distinct within the batch), as D𝜋 did.
        """
        st, bs = self.state, self.cfg.batch_size
        if self.sampling == "independent":
            return self.rng.choice(n_train, size=min(bs, n_train), replace=False)
        if st.cursor == 0 or self._order.shape[0] != n_train:
            self._order = self.rng.permutation(n_train)
        return self._order[st.cursor * bs:(st.cursor + 1) * bs]

    def _advance(self, n_train: int) -> None:
        self.state.cursor += 1
        if self.state.cursor >= self.batches_per_epoch(n_train):
            self.state.cursor = 0
            self.state.epoch += 1

    def train_epoch(self, planes: np.ndarray, pixels: np.ndarray, labels: np.ndarray,
                    on_batch: Callable[[int], bool | None] | None = None) -> bool:
        """Train the rest of the current epoch (resumes mid-epoch from the cursor).

        `on_batch(samples)` runs after each batch; returning False stops early, leaving the
        epoch resumable. Returns True when the epoch completed.
        """
        n_train = labels.shape[0]
        epoch = self.state.epoch
        while self.state.epoch == epoch:
            idx = self.next_batch(n_train)
            self.train_batch(planes[idx], pixels[idx], labels[idx])
            self._advance(n_train)
            if on_batch is not None and on_batch(len(idx)) is False:
                return self.state.epoch != epoch
        return True

    def reset_counters(self) -> Counters:
        """Return this epoch's counters and start fresh ones."""
        old, self.state.counters = self.state.counters, Counters()
        return old

    # ------------------------------------------------------------------ snapshots
    def state_dict(self) -> dict:
        """JSON-able: counters, quantilizers, RNG state (big ints as strings), sampling."""
        st = asdict(self.state)
        rng_state = self.rng.bit_generator.state
        return {
            "trainer": st,
            "sampling": self.sampling,
            "positive_units": self.positive.units,
            "negative_units": self.negative.units,
            "rng": {
                "bit_generator": rng_state["bit_generator"],
                "state": str(rng_state["state"]["state"]),
                "inc": str(rng_state["state"]["inc"]),
                "has_uint32": int(rng_state["has_uint32"]),
                "uinteger": int(rng_state["uinteger"]),
            },
        }

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The network and the current epoch's order as plain arrays."""
        return {"receptors": self.net.receptors.copy(), "weights": self.net.weights.copy(),
                "epoch_order": self._order.copy()}

    @classmethod
    def from_state(cls, cfg: Config, arrays: dict[str, np.ndarray], state: dict) -> Trainer:
        """Rebuild a trainer exactly as `state_dict` / `state_arrays` captured it."""
        net = Network.from_arrays(cfg, arrays["receptors"], arrays["weights"])
        tr = cls(cfg, net, seed=0, sampling=state["sampling"])
        t = dict(state["trainer"])
        t["counters"] = Counters(**t["counters"])
        tr.state = TrainerState(**t)
        tr.positive.units = int(state["positive_units"])
        tr.negative.units = int(state["negative_units"])
        r = state["rng"]
        if r["bit_generator"] != "PCG64":
            raise ValueError(f"unsupported random generator {r['bit_generator']!r}")
        tr.rng.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": int(r["state"]), "inc": int(r["inc"])},
            "has_uint32": int(r["has_uint32"]), "uinteger": int(r["uinteger"]),
        }
        tr._order = np.asarray(arrays.get("epoch_order", np.zeros(0)), dtype=np.int64)
        return tr
