"""Quantilizer: a running estimate of a high quantile, moved by fixed steps, kept exactly.

`q` is stored as an integer number of 1/denominator units, so every comparison and every
step is integer arithmetic and runs reproduce bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kernels import observe_stream


@dataclass
class Quantilizer:
    up: int            # step up, in 1/denominator units
    down: int          # step down, in 1/denominator units
    denominator: int
    units: int = 0     # q * denominator

    @property
    def value(self) -> float:
        return self.units / self.denominator

    def observe(self, x: int) -> None:
        """x == q: nothing; x > q: q += up; x < q: q -= down."""
        scaled = int(x) * self.denominator
        if scaled > self.units:
            self.units += self.up
        elif scaled < self.units:
            self.units -= self.down

    def reached_by(self, x: int) -> bool:
        """x >= q, exactly."""
        return int(x) * self.denominator >= self.units

    def observe_all(self, xs: np.ndarray) -> None:
        """`observe` each of `xs` in order (compiled loop: a batch has ~2,000 of them)."""
        self.units = int(observe_stream(self.units, self.up, self.down, self.denominator,
                                        np.asarray(xs, dtype=np.int64)))

    def reached_by_all(self, xs: np.ndarray) -> np.ndarray:
        """Element-wise `reached_by`."""
        return np.asarray(xs, dtype=np.int64) * self.denominator >= self.units
