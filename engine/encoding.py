"""Input encoding: an image becomes one binary plane per intensity level (brightest first)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .forward import build_masks


def planes_from_pixels(pixels: np.ndarray, levels: Sequence[int]) -> np.ndarray:
    """`planes[i, c, r] = pixels[i, r] >= levels[c]`: (n, receptors) uint8 -> (n, L, R) bool."""
    lv = np.asarray(levels, dtype=np.int16).reshape(1, -1, 1)
    return pixels[:, None, :].astype(np.int16) >= lv


def active_receptors(pixels_row: np.ndarray) -> np.ndarray:
    """Receptors eligible for new connections: pixel > 0."""
    return np.flatnonzero(pixels_row > 0)


def sample_masks(planes: np.ndarray) -> np.ndarray:
    """(n, L, R) bool -> (blocks, R, L, block) int8 masks (-1 on, 0 off), zero-padded.

    This is the layout the forward kernel reads: for one receptor, the on/off state over
    every level and every sample of a block is one contiguous run, so integration vectorises.
    """
    return build_masks(np.ascontiguousarray(planes, dtype=np.bool_))
