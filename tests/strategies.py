"""Hypothesis strategies: small random configs, network states and planes."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from snnpipe.engine import Config


@st.composite
def levels(draw, max_levels=5, min_levels=1):
    vals = draw(st.lists(st.integers(1, 255), min_size=min_levels, max_size=max_levels,
                         unique=True))
    return tuple(sorted(vals, reverse=True))


@st.composite
def configs(draw, big=False, variants=False, max_slots=6, n_levels=None, **fixed):
    """Random small configs; `variants=True` also switches on the variants beyond D𝜋
    (docs/variants.md), for tests whose reference implements them (tests/stepwise.py).
    `max_slots` above 8 reaches every pass of the forward kernel (8, 4, 2 and 1 slots);
    `n_levels` fixes the number of planes (4 is the SONN's, which has its own fused loop)."""
    threshold = draw(st.sampled_from([1_000, 50_000, 1_000_000] + ([2**33] if big else [])))
    low = draw(st.integers(0, threshold))
    high = draw(st.integers(low + 1, 3 * threshold))
    divisor = draw(st.integers(2, 12))
    kw = dict(
        columns=draw(st.integers(2, 4)),
        neurons=draw(st.integers(1, 6)),
        slots=draw(st.integers(1, max_slots)),
        receptors=draw(st.integers(2, 24)),
        levels=draw(levels() if n_levels is None else levels(n_levels, n_levels)),
        spike_threshold=threshold,
        learn_low=low,
        learn_high=high,
        new_weight_divisor=divisor,
        prune_below=draw(st.integers(0, threshold // divisor)),
        reinforce_positive=draw(st.integers(0, threshold // 4)),
        reinforce_negative=-draw(st.integers(0, threshold // 4)),
        decay_amount=draw(st.integers(0, threshold // 20)),
        decay_every=draw(st.integers(1, 4)),
        batch_size=draw(st.integers(1, 12)),
        prime_forced_positive=draw(st.booleans()),
        prime_negative_cap=draw(st.booleans()),
        positive_up=draw(st.integers(1, 30)),
        positive_down=draw(st.integers(1, 5)),
        negative_up=draw(st.integers(1, 200)),
        negative_down=draw(st.integers(1, 5)),
    )
    if variants:
        kw["anneal_steps"] = draw(st.sampled_from([0, 0, 1, 3, 50]))
        kw["anneal_start"] = draw(st.sampled_from([0, 2, 10]))
    kw.update(fixed)
    return Config(**kw)


def random_state(cfg: Config, seed: int, free_fraction: float = 0.3):
    """Receptors and weights with |w| < threshold, some slots free, magnitudes that spike."""
    rng = np.random.default_rng(seed)
    shape = (cfg.columns, cfg.neurons, cfg.slots)
    receptors = rng.integers(0, cfg.receptors, size=shape).astype(np.int32)
    scale = max(2, cfg.spike_threshold // max(1, cfg.slots // 2))
    weights = rng.integers(-scale // 2, scale, size=shape)
    weights = np.clip(weights, -(cfg.spike_threshold - 1), cfg.spike_threshold - 1)
    weights[rng.random(shape) < free_fraction] = 0
    return receptors, weights.astype(np.int64)


def random_pixels(cfg: Config, n: int, seed: int, density: float = 0.5):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(n, cfg.receptors)).astype(np.uint8)
    pixels[rng.random(pixels.shape) > density] = 0
    return pixels
