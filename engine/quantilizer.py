"""Quantilizer: a running estimate of a high quantile, moved by fixed steps.

Two arithmetics (docs/model.md, rules E7 and F1):
- `exact` (default): `q` is an integer number of 1/denominator units, so every step and every
  comparison is integer arithmetic and runs reproduce bit for bit;
- `binary32`: D𝜋's program: `q` is a float32; up-steps add the float32 quotient up/denominator
  in float32, down-steps subtract down/denominator in float64 and round back to float32.
The compiled batch (`snnpipe.engine.batch`) uses the `*_kernel` functions below; this class
holds the state between batches and for checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

ARITHMETICS = ("exact", "binary32")


@njit(cache=True, inline="always")
def observe_exact(units, up, down, denominator, x):
    """x == q: nothing; x > q: q += up; x < q: q -= down (q = units / denominator)."""
    scaled = x * denominator
    if scaled > units:
        return units + up
    if scaled < units:
        return units - down
    return units


@njit(cache=True, inline="always")
def observe_binary32(q, up, down, denominator, x):
    """D𝜋's float quantilizer: x converted to float32; if x != q, x >= q steps up by
    float32(up) / float32(denominator) in float32, else down by down / denominator in
    float64, rounded back to float32."""
    xf = np.float32(x)
    if xf != q:
        if xf >= q:
            return np.float32(q + np.float32(np.float32(up) / np.float32(denominator)))
        return np.float32(np.float64(q) - np.float64(down) / np.float64(denominator))
    return q


@njit(cache=True)
def observe_binary32_stream(q, up, down, denominator, stream):
    """Feed a stream of integers to a binary32 quantilizer; returns the new float32 q."""
    q = np.float32(q)
    for i in range(stream.shape[0]):
        q = observe_binary32(q, up, down, denominator, stream[i])
    return q


@njit(cache=True)
def observe_stream(units, up, down, denominator, stream):
    """Feed a stream of integer observations to an exact quantilizer; returns its units."""
    for i in range(stream.shape[0]):
        scaled = stream[i] * denominator
        if scaled > units:
            units += up
        elif scaled < units:
            units -= down
    return units


@dataclass
class Quantilizer:
    up: int            # step up, in 1/denominator units
    down: int          # step down, in 1/denominator units
    denominator: int
    units: int = 0     # exact: q * denominator
    arithmetic: str = "exact"
    q32: float = 0.0   # binary32: q (a float32 value, held exactly in a Python float)

    @property
    def value(self) -> float:
        return self.q32 if self.arithmetic == "binary32" else self.units / self.denominator

    def observe(self, x: int) -> None:
        if self.arithmetic == "binary32":
            self.q32 = float(observe_binary32(np.float32(self.q32), self.up, self.down,
                                              self.denominator, int(x)))
        else:
            self.units = int(observe_exact(self.units, self.up, self.down, self.denominator,
                                           int(x)))

    def reached_by(self, x: int) -> bool:
        """x >= q, in the quantilizer's arithmetic."""
        if self.arithmetic == "binary32":
            return bool(np.float32(int(x)) >= np.float32(self.q32))
        return int(x) * self.denominator >= self.units

    def observe_all(self, xs: np.ndarray) -> None:
        """`observe` each of `xs` in order (compiled loop: a batch has ~2,000 of them)."""
        xs = np.asarray(xs, dtype=np.int64)
        if self.arithmetic == "binary32":
            self.q32 = float(observe_binary32_stream(np.float32(self.q32), self.up, self.down,
                                                     self.denominator, xs))
        else:
            self.units = int(observe_stream(self.units, self.up, self.down, self.denominator,
                                            xs))

    def reached_by_all(self, xs: np.ndarray) -> np.ndarray:
        """Element-wise `reached_by`."""
        if self.arithmetic == "binary32":
            return np.asarray(xs, dtype=np.int64).astype(np.float32) >= np.float32(self.q32)
        return np.asarray(xs, dtype=np.int64) * self.denominator >= self.units
