"""The SONN's state, and its forward pass on that state.

State: for every (column, neuron, slot) a receptor index and an integer weight; weight 0
means the slot is free. It is held as a scipy CSR matrix (one row per neuron, K stored
entries per row, explicit zeros for free slots, duplicates allowed because two slots may
share a receptor). The kernels work on the CSR's own `indices`/`data` buffers, so there is
one copy of the state and scipy sees every update.

Learning changes this state in `snnpipe.engine.batch.train_batch`, which runs the rules of
engine/learning.py (reinforcement, decay) and engine/growth.py once per step, compiled; the
same steps one at a time, in Python, are the tests' reference (tests/stepwise.py).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from . import forward
from .config import Config
from .encoding import sample_masks


class Network:
    """One layer of `columns * neurons` integrate-and-fire neurons with K slots each."""

    def __init__(self, cfg: Config, receptors: np.ndarray, weights: np.ndarray) -> None:
        self.cfg = cfg
        rows = cfg.columns * cfg.neurons
        indptr = np.arange(0, rows * cfg.slots + 1, cfg.slots, dtype=np.int64)
        self.connectivity = sp.csr_array(
            (weights.reshape(-1), receptors.reshape(-1), indptr),
            shape=(rows, cfg.receptors), copy=False)
        # scipy may re-type the buffers; the kernels must write into the CSR's own arrays.
        self.connectivity.indices = np.ascontiguousarray(
            self.connectivity.indices, dtype=np.int32)
        self.connectivity.data = np.ascontiguousarray(
            self.connectivity.data, dtype=cfg.weight_dtype)

    # ----------------------------------------------------------------- construction
    @classmethod
    def new(cls, cfg: Config) -> Network:
        """An empty network: every slot free."""
        shape = (cfg.columns, cfg.neurons, cfg.slots)
        return cls(cfg, np.zeros(shape, np.int32), np.zeros(shape, cfg.weight_dtype))

    @classmethod
    def from_arrays(cls, cfg: Config, receptors: np.ndarray, weights: np.ndarray) -> Network:
        """A network from (columns, neurons, slots) integer arrays, validated and copied."""
        shape = (cfg.columns, cfg.neurons, cfg.slots)
        receptors = np.asarray(receptors)
        weights = np.asarray(weights)
        for name, arr in (("receptors", receptors), ("weights", weights)):
            if arr.shape != shape:
                raise ValueError(f"{name} has shape {arr.shape}, expected {shape}")
            if not np.issubdtype(arr.dtype, np.integer):
                raise ValueError(f"{name} must be an integer array, got {arr.dtype}")
        live = weights != 0
        if live.any():
            r = receptors[live]
            if r.min() < 0 or r.max() >= cfg.receptors:
                raise ValueError(f"receptors must lie in 0..{cfg.receptors - 1}")
            if np.abs(weights[live]).max() >= cfg.spike_threshold:
                raise ValueError(f"weights must satisfy |w| < spike_threshold "
                                 f"({cfg.spike_threshold})")
        # A free slot's receptor is meaningless; keep it (exact round trips) unless invalid.
        valid = (receptors >= 0) & (receptors < cfg.receptors)
        receptors = np.where(valid, receptors, 0).astype(np.int32)
        return cls(cfg, receptors, weights.astype(cfg.weight_dtype, copy=True))

    # ----------------------------------------------------------------------- views
    @property
    def receptors(self) -> np.ndarray:
        """(columns, neurons, slots) receptor of every slot (a view of the CSR indices)."""
        c = self.cfg
        return self.connectivity.indices.reshape(c.columns, c.neurons, c.slots)

    @property
    def weights(self) -> np.ndarray:
        """(columns, neurons, slots) weight of every slot; 0 = free (a view of the CSR data)."""
        c = self.cfg
        return self.connectivity.data.reshape(c.columns, c.neurons, c.slots)

    def by_receptor(self) -> sp.csc_array:
        """Receptor-major view (column r = every slot reading receptor r), duplicates summed."""
        m = self.connectivity.copy()
        m.sum_duplicates()
        m.eliminate_zeros()
        return m.tocsc()

    def receptive_fields(self) -> np.ndarray:
        """(columns, receptors) int64: the sum of each column's weights on each receptor."""
        c = self.cfg
        per_neuron = self.connectivity.astype(np.int64)
        col_of_row = sp.csr_array(
            (np.ones(c.columns * c.neurons, np.int64),
             np.repeat(np.arange(c.columns), c.neurons), np.arange(c.columns * c.neurons + 1)),
            shape=(c.columns * c.neurons, c.columns))
        return (col_of_row.T @ per_neuron).toarray()

    def live_connections(self) -> tuple[np.ndarray, np.ndarray]:
        """Per column, the number of positive and of negative connections."""
        w = self.weights
        return (w > 0).sum(axis=(1, 2)), (w < 0).sum(axis=(1, 2))

    # ------------------------------------------------------------------ operations
    def spike_counts(self, planes: np.ndarray, method: str = "blocked") -> np.ndarray:
        """(batch, levels, receptors) bool -> (batch, columns) int64 spike counts.

        `blocked` (default, fastest here): blocks of up to 200 samples, vectorised over samples.
        `events`: per sample, each switch-on of a receptor is one event through the
        receptor-major (CSC) matrix. Both are exact; see benchmarks for their speeds.
        """
        planes = self._check_planes(planes, batch=True)
        n = planes.shape[0]
        if n == 0:
            return np.zeros((0, self.cfg.columns), np.int64)
        if method == "events":
            return self.spike_counts_events(planes)
        if method != "blocked":
            raise ValueError(f"method must be 'blocked' or 'events', got {method!r}")
        return self.spike_counts_masks(sample_masks(planes), n)

    def spike_counts_events(self, planes: np.ndarray) -> np.ndarray:
        """The event-driven forward pass (see `forward.spike_counts_events`)."""
        c = self.cfg
        n_levels = len(c.levels)
        csc = self.connectivity.tocsc()              # keeps duplicate slots apart
        live = csc.data != 0
        # drop free slots column by column, keeping the CSC structure
        counts_per_receptor = np.diff(csc.indptr)
        owner = np.repeat(np.arange(c.receptors), counts_per_receptor)
        keep_owner = owner[live]
        indptr = np.zeros(c.receptors + 1, np.int64)
        np.cumsum(np.bincount(keep_owner, minlength=c.receptors), out=indptr[1:])
        neurons = csc.indices[live].astype(np.int64)
        weights = csc.data[live]
        # first plane each receptor is on in (planes are nested), n_levels if never
        on = planes.any(axis=1)
        switch_on = np.where(on, planes.argmax(axis=1), n_levels).astype(np.int8)
        return forward.spike_counts_events(indptr, neurons, weights, switch_on, n_levels,
                                           c.neurons, c.columns, c.spike_threshold,
                                           max(1, min(forward.threads() * 4, len(planes))))

    def spike_counts_masks(self, masks: np.ndarray, n: int) -> np.ndarray:
        """Spike counts from pre-built `encoding.sample_masks` (lets callers reuse them)."""
        c = self.cfg
        parts = max(1, 2 * forward.threads() // c.columns + 1)
        w, r = self.connectivity.data, self.connectivity.indices
        if not (w.flags.writeable and r.flags.writeable):
            # numba compiles a kernel per array type, and read-only is another type (a network
            # memory-mapped by joblib, as scikit-learn's checks do): a copy reuses the one kernel
            w, r = w.copy(), r.copy()
        per_part = forward.spike_counts_blocked(
            r.reshape(-1, c.slots), w.reshape(-1, c.slots), masks, c.neurons, parts,
            c.spike_threshold)
        return per_part.sum(axis=1, dtype=np.int64).T[:n].copy()

    def copy(self) -> Network:
        return Network(self.cfg, self.receptors.copy(), self.weights.copy())

    # --------------------------------------------------------------------- checks
    def _check_planes(self, planes: np.ndarray, batch: bool) -> np.ndarray:
        c = self.cfg
        planes = np.asarray(planes)
        want = (len(c.levels), c.receptors)
        got = planes.shape[1:] if batch else planes.shape
        if planes.ndim != (3 if batch else 2) or got != want:
            expect = "(batch, " + ", ".join(map(str, want)) + ")" if batch else str(want)
            raise ValueError(f"planes have shape {planes.shape}, expected {expect}")
        if planes.dtype != np.bool_:
            raise ValueError(f"planes must be bool, got {planes.dtype}")
        return planes
