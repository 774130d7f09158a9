"""Limits the engine can honour: every config `Config` accepts, however extreme, counts
spikes exactly as the literal reference does; and what lies outside is refused in one line."""

import numpy as np
import pytest
import reference
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from strategies import random_pixels, random_state

from snnpipe.engine import Config, ConfigError, Network
from snnpipe.engine.config import MAX_LEVELS, MAX_THRESHOLD
from snnpipe.engine.encoding import planes_from_pixels


@st.composite
def extreme_configs(draw, min_levels=1, max_levels=MAX_LEVELS, big=True):
    """Small networks with anything the limits allow: up to 64 levels, thresholds up to
    2**62 / (2 * slots)."""
    n = draw(st.integers(min_levels, max_levels))
    levels = tuple(sorted(draw(st.lists(st.integers(1, 255), min_size=n, max_size=n,
                                        unique=True)), reverse=True))
    slots = draw(st.integers(1, 5))
    top = MAX_THRESHOLD // (2 * slots) if big else 2**33
    threshold = draw(st.one_of(st.integers(1, 1000), st.integers(1000, top),
                               st.just(top)))
    return Config(columns=draw(st.integers(2, 3)), neurons=draw(st.integers(1, 4)),
                  slots=slots, receptors=draw(st.integers(2, 16)), levels=levels,
                  spike_threshold=threshold, learn_low=0, learn_high=threshold + 1,
                  prune_below=0, new_weight_divisor=1, reinforce_positive=0,
                  reinforce_negative=0, decay_amount=0)


def _agree(cfg: Config, seed: int) -> None:
    rec, w = random_state(cfg, seed, free_fraction=0.2)
    planes = planes_from_pixels(random_pixels(cfg, 40, seed), cfg.levels)
    want = reference.spike_counts(cfg, rec, w, planes)
    net = Network.from_arrays(cfg, rec, w)
    assert np.array_equal(net.spike_counts(planes), want)
    assert np.array_equal(net.spike_counts(planes, method="events"), want)


def _bound_overflows(cfg: Config) -> bool:
    """Whether forward._can_spike's int64 product (sum of positive weights * (2**L - 1))
    can wrap for this config: slots * spike_threshold * 2**L >= 2**63."""
    return cfg.slots * cfg.spike_threshold * 2 ** len(cfg.levels) >= 2**63


@settings(max_examples=25)
@given(extreme_configs(max_levels=61, big=True), st.integers(0, 2**32 - 1))
def test_forward_pass_equals_reference(cfg, seed):
    assume(not _bound_overflows(cfg))
    _agree(cfg, seed)


@settings(max_examples=8)
@given(extreme_configs(max_levels=61, big=True), st.integers(0, 2**32 - 1))
def test_forward_pass_equals_reference_where_the_can_spike_bound_wraps(cfg, seed):
    """Below 62 levels too: large thresholds times 2**L wrap the same int64 product."""
    assume(_bound_overflows(cfg))
    _agree(cfg, seed)


@settings(max_examples=8)
@given(extreme_configs(min_levels=62), st.integers(0, 2**32 - 1))
def test_forward_pass_equals_reference_at_62_to_64_levels(cfg, seed):
    _agree(cfg, seed)


@pytest.mark.parametrize("change, words", [
    ({"levels": tuple(range(200, 135, -1))}, "at most 64"),
    ({"spike_threshold": 2**63 - 1}, "2**62"),
    ({"reinforce_positive": 2_000_000}, "must not exceed spike_threshold"),
    ({"decay_amount": 2_000_000}, "must not exceed spike_threshold"),
    ({"learn_high": 2**63}, "<= 2**62"),
    ({"positive_denominator": 2**31}, "<= 2,147,483,647"),
    ({"new_weight_divisor": 2_000_000, "prune_below": 0}, "born free"),
])
def test_outside_the_limits_is_refused_naming_the_field(change, words):
    with pytest.raises(ConfigError, match=words.replace("*", r"\*")):
        Config(**change)


def test_numpy_scalars_are_integers():
    cfg = Config(neurons=np.int64(79), prime_negative_cap=np.bool_(False))
    assert type(cfg.neurons) is int and cfg.neurons == 79 and cfg.prime_negative_cap is False
