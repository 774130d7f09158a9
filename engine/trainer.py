"""Online training: the spec's batch procedure, priming rules, epochs, and exact state.

Read top to bottom: `Trainer.train_batch` is rule E8 of docs/model.md ("One training
batch"), run as one compiled call (`snnpipe.engine.batch.train_batch`); `next_batch` is rule E9 (or
F3). All randomness comes from one generator owned by the trainer (PCG64, rule E11, or
glibc's rand() in D𝜋's faithful mode, rule F2), held as a state array that the kernel
advances; it, the counters, the quantilizers and the network round-trip
through plain arrays and a JSON-able dict (`state_dict` / `from_state`), so a run can
resume bit-identically.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from . import batch, forward
from .config import CHOICES, Config
from .generators import (
    GEN_GLIBC,
    GEN_PCG64,
    glibc_state,
    pcg64_load_state,
    pcg64_state_array,
)
from .network import Network
from .quantilizer import Quantilizer

SAMPLINGS = CHOICES["sampling"]


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
    evaluated_at_positive: int = 0   # positive_learns at the last mid-batch evaluation point
    counters: Counters = field(default_factory=Counters)


_COUNTER_FIELDS = (  # TrainerState / Counters fields in `snnpipe.engine.batch` counter order
    ("batches_seen", None), ("positive_learns", None), ("negative_learns", None),
    ("samples_seen", None), ("evaluated_at_positive", None), (None, "samples"),
    (None, "online_correct"), (None, "online_no_decision"), (None, "positive_steps"),
    (None, "negative_steps"), (None, "grown"), (None, "pruned_reinforce"),
    (None, "pruned_decay"))


class Trainer:
    """Owns the network, the quantilizers, the counters and the random generator.

    `eval_every_positive` > 0 with an `on_eval()` callback stops mid-batch at D𝜋's
    evaluation points (every that many positive steps, docs/model.md, rule F5).
    """

    def __init__(self, cfg: Config, network: Network | None = None, seed: int = 0,
                 sampling: str | None = None) -> None:
        if sampling is not None and sampling != cfg.sampling:
            if sampling not in SAMPLINGS:
                raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
            cfg = cfg.replace(sampling=sampling)
        self.cfg = cfg
        self.net = network if network is not None else Network.new(cfg)
        self.sampling = cfg.sampling
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self._gen_kind = GEN_GLIBC if cfg.generator == "glibc" else GEN_PCG64
        self.rng_state = (glibc_state(seed) if cfg.generator == "glibc"
                          else pcg64_state_array(self.rng))
        self.positive = Quantilizer(cfg.positive_up, cfg.positive_down, cfg.positive_denominator,
                                    arithmetic=cfg.quantilizer)
        self.negative = Quantilizer(cfg.negative_up, cfg.negative_down, cfg.negative_denominator,
                                    arithmetic=cfg.quantilizer)
        self.state = TrainerState()
        self._order: np.ndarray = np.zeros(0, np.int64)   # current epoch's batches
        self.eval_every_positive = 0
        self.on_eval: Callable[[], None] | None = None

    # ------------------------------------------------------------------- one batch
    def train_batch(self, planes: np.ndarray, pixels: np.ndarray, labels: np.ndarray) -> None:
        """One training batch: planes (B, L, R) bool, pixels (B, R) uint8, labels (B,)."""
        cfg, net = self.cfg, self.net
        labels = np.ascontiguousarray(labels, dtype=np.int64)
        planes = np.ascontiguousarray(planes, dtype=np.bool_)
        pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
        n = labels.shape[0]
        parts = max(1, 2 * forward.threads() // cfg.columns + 1)
        params = batch.pack_params(cfg, parts)
        receptors = net.connectivity.indices.reshape(-1, cfg.slots)
        weights = net.connectivity.data.reshape(-1, cfg.slots)
        counts = np.zeros((n, cfg.columns), np.int64)
        counters = self._counter_array()
        q_units = np.array([self.positive.units, self.negative.units], np.int64)
        q_float = np.array([self.positive.q32, self.negative.q32], np.float32)
        start = 0
        while True:
            start = batch.train_batch(receptors, weights, planes, pixels, labels,
                                      counts, start, q_units, q_float, counters,
                                      self.rng_state, params, self.eval_every_positive)
            self._load_counters(counters)
            self.positive.units, self.negative.units = int(q_units[0]), int(q_units[1])
            self.positive.q32, self.negative.q32 = float(q_float[0]), float(q_float[1])
            if start >= n:
                return
            if self.on_eval is not None:
                self.on_eval()

    def _counter_array(self) -> np.ndarray:
        st, c = self.state, self.state.counters
        return np.array([getattr(st, a) if a else getattr(c, b) for a, b in _COUNTER_FIELDS],
                        dtype=np.int64)

    def _load_counters(self, arr: np.ndarray) -> None:
        st, c = self.state, self.state.counters
        for v, (a, b) in zip(arr.tolist(), _COUNTER_FIELDS, strict=True):
            setattr(st, a, v) if a else setattr(c, b, v)

    def numpy_draw(self, draw: Callable[[np.random.Generator], np.ndarray]) -> np.ndarray:
        """Run a numpy draw on the trainer's PCG64 stream (kept in `rng_state`)."""
        pcg64_load_state(self.rng, self.rng_state)
        out = draw(self.rng)
        self.rng_state[:] = pcg64_state_array(self.rng)
        return out

    # ---------------------------------------------------------------------- epochs
    def batches_per_epoch(self, n_train: int) -> int:
        return -(-n_train // self.cfg.batch_size)

    def next_batch(self, n_train: int) -> np.ndarray:
        """Indices of the current epoch's next batch.

        `permutation`: one fresh permutation per epoch, cut into consecutive batches.
        `independent`: every batch drawn on its own (distinct within the batch).
        `redraw`: D𝜋's program: B draws of rnd(n), a repeat drawn again, in draw order.
        """
        st, bs = self.state, self.cfg.batch_size
        if self.sampling == "redraw":
            return batch.draw_batch_redraw(self.rng_state, self._gen_kind, n_train, bs)
        if self.sampling == "independent":
            return self.numpy_draw(lambda r: r.choice(n_train, size=min(bs, n_train),
                                                      replace=False))
        if st.cursor > 0 and self._order.shape[0] != n_train:
            raise ValueError(f"this epoch's order covers {self._order.shape[0]} samples but the "
                             f"training split has {n_train}; resume on the same data")
        if st.cursor == 0:
            self._order = self.numpy_draw(lambda r: r.permutation(n_train))
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

    # ------------------------------------------------------------- state snapshots
    def state_dict(self) -> dict:
        """JSON-able: counters, quantilizers, generator state (big ints as strings)."""
        st = asdict(self.state)
        out = {
            "trainer": st,
            "sampling": self.sampling,
            "positive_units": self.positive.units,
            "negative_units": self.negative.units,
        }
        if self.cfg.quantilizer == "binary32":
            out["positive_q32"] = self.positive.q32
            out["negative_q32"] = self.negative.q32
        if self.cfg.generator == "glibc":
            out["rng"] = {"bit_generator": "glibc",
                          "words": [int(v) for v in self.rng_state[:34]],
                          "index": int(self.rng_state[34])}
            return out
        pcg64_load_state(self.rng, self.rng_state)
        rng_state = self.rng.bit_generator.state
        out["rng"] = {
            "bit_generator": rng_state["bit_generator"],
            "state": str(rng_state["state"]["state"]),
            "inc": str(rng_state["state"]["inc"]),
            "has_uint32": int(rng_state["has_uint32"]),
            "uinteger": int(rng_state["uinteger"]),
        }
        return out

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The network and the current epoch's order as plain arrays."""
        return {"receptors": self.net.receptors.copy(), "weights": self.net.weights.copy(),
                "epoch_order": self._order.copy()}

    @classmethod
    def from_state(cls, cfg: Config, arrays: dict[str, np.ndarray], state: dict) -> Trainer:
        """Rebuild a trainer exactly as `state_dict` / `state_arrays` captured it."""
        net = Network.from_arrays(cfg, arrays["receptors"], arrays["weights"])
        tr = cls(cfg, net, seed=0, sampling=state.get("sampling"))
        t = dict(state["trainer"])
        t["counters"] = Counters(**t["counters"])
        tr.state = TrainerState(**t)
        for name, value in [*vars(tr.state).items(), *vars(tr.state.counters).items()]:
            if name != "counters" and (isinstance(value, bool) or not isinstance(value, int)
                                       or value < 0):
                raise ValueError(f"trainer counter {name} must be an integer >= 0, "
                                 f"got {value!r}")
        tr.positive.units = int(state["positive_units"])
        tr.negative.units = int(state["negative_units"])
        if tr.cfg.quantilizer == "binary32":
            tr.positive.q32 = float(np.float32(state["positive_q32"]))
            tr.negative.q32 = float(np.float32(state["negative_q32"]))
        r = state["rng"]
        want = "glibc" if tr.cfg.generator == "glibc" else "PCG64"
        if r["bit_generator"] != want:
            raise ValueError(f"checkpoint holds a {r['bit_generator']!r} generator state; "
                             f"its config needs {want!r}")
        if want == "glibc":
            words = [int(v) for v in r["words"]]
            if len(words) != 34 or any(not 0 <= v < 2**32 for v in words):
                raise ValueError("glibc generator state must be 34 words in 0..2**32-1")
            tr.rng_state = np.array([*words, int(r["index"])], dtype=np.uint64)
        else:
            tr.rng.bit_generator.state = {
                "bit_generator": "PCG64",
                "state": {"state": int(r["state"]), "inc": int(r["inc"])},
                "has_uint32": int(r["has_uint32"]), "uinteger": int(r["uinteger"]),
            }
            tr.rng_state = pcg64_state_array(tr.rng)
        order = np.asarray(arrays.get("epoch_order", np.zeros(0)))
        if order.ndim != 1 or (order.size and not np.array_equal(
                np.sort(order), np.arange(order.size))):
            raise ValueError("epoch_order must be a permutation of 0..n-1")
        tr._order = order.astype(np.int64)
        return tr
