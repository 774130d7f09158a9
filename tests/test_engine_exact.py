"""The fast engine against the literal reference implementation of docs/model.md."""

import numba
import numpy as np
import pytest
import reference as ref
import stepwise
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import configs, random_pixels, random_state

from snnpipe.engine import Config, Network, forward, learning
from snnpipe.engine.encoding import planes_from_pixels
from snnpipe.engine.trainer import Trainer


def _check_spike_counts(cfg, seed, n):
    rec, w = random_state(cfg, seed)
    planes = planes_from_pixels(random_pixels(cfg, n, seed + 1), cfg.levels)
    net = Network.from_arrays(cfg, rec, w)
    expected = ref.spike_counts(cfg, rec, w, planes)
    assert np.array_equal(net.spike_counts(planes), expected)
    assert np.array_equal(net.spike_counts(planes, method="events"), expected)


@given(st.integers(1, 450), st.integers(1, 8), st.integers(1, 6).map(lambda k: 8 * k)
       | st.integers(1, 50), st.integers(0, 2**32), st.floats(0.0, 1.0))
@example(7, 4, 16, 0, 1.0)            # one short group only
@example(200, 4, 48, 1, 0.5)          # one full block of 25 groups
@example(201, 4, 48, 2, 1.0)          # two blocks of 104, the last one padded
@example(450, 3, 48, 3, 1.0)          # blocks of 152, 152, 146: a tail of 2, 6 padded
@example(333, 4, 784, 4, 0.3)         # MNIST's receptors; blocks of 168 and 165
@example(64, 4, 784, 5, 0.0)          # nothing on
def test_masks_are_the_planes_transposed(n, n_levels, n_rec, seed, density):
    """build_masks (8 x 8 byte transposes in 64-bit words, byte by byte for the rest) puts
    -planes[i, c, r] at [block, r, c, sample in block] and zero in the padding: any sample
    count (full 8-sample groups and tails, one block or several), receptor counts with and
    without a multiple of 8, any density."""
    planes = np.random.default_rng(seed).random((n, n_levels, n_rec)) < density
    sb = int(forward.block_size(n))
    blocks = -(-n // sb)
    expected = np.zeros((blocks * sb, n_rec, n_levels), dtype=np.int8)
    expected[:n] = -planes.transpose(0, 2, 1).astype(np.int8)
    expected = expected.reshape(blocks, sb, n_rec, n_levels).transpose(0, 2, 3, 1)
    assert np.array_equal(forward.build_masks(planes), expected)


@given(configs(big=True, max_slots=19), st.integers(0, 2**32), st.integers(1, 70))
def test_spike_counts_equal_reference(cfg, seed, n):
    """Both forward paths (sample-blocked and event-driven) against the literal spec; up to
    19 slots, so the blocked kernel's 8-, 4-, 2- and 1-slot passes all run."""
    _check_spike_counts(cfg, seed, n)


@given(configs(big=True, max_slots=19, n_levels=4, neurons=6), st.integers(0, 2**32),
       st.integers(20, 70))
def test_spike_counts_with_four_planes_equal_reference(cfg, seed, n):
    """The SONN's 4 planes take the kernel's fused rules 2-3 (potential kept in a register
    across the cycles): against the literal spec on every cycle's reset and halving."""
    _check_spike_counts(cfg, seed, n)


def test_a_read_only_network_scores_the_same_on_the_kernel_already_compiled():
    """A network memory-mapped read-only (joblib, as scikit-learn's checks load it) is
    copied for the forward pass: the same counts, and no compiled kernel that takes a
    read-only array (numba types one apart; its compile costs about 10 s)."""
    from sklearn.utils._testing import create_memmap_backed_data
    cfg = Config(columns=2, neurons=3, slots=5, receptors=24, levels=(200, 150, 100, 50),
                 spike_threshold=1_000_000)
    rec, w = random_state(cfg, seed=4)
    planes = planes_from_pixels(random_pixels(cfg, 30, seed=5), cfg.levels)
    mapped = create_memmap_backed_data(Network.from_arrays(cfg, rec, w))
    assert not mapped.connectivity.data.flags.writeable
    assert not mapped.connectivity.indices.flags.writeable
    assert np.array_equal(mapped.spike_counts(planes), ref.spike_counts(cfg, rec, w, planes))
    assert not [sig for sig in forward.spike_counts_blocked.signatures
                if any(isinstance(t, numba.types.Array) and not t.mutable for t in sig)]


@pytest.mark.parametrize("levels", [(200, 150, 100, 50), (180, 90, 30)])
@pytest.mark.parametrize("threshold", [1_000_000, 2**33])
def test_spike_counts_every_slot_count_and_several_blocks(levels, threshold):
    """Every live-slot count 1..19 (each mix of the 8-, 4-, 2- and 1-slot passes), all
    slots live, 4 planes (fused rules 2-3) and 3, int32 and int64 weights, and 450 samples
    (three blocks of 150), against the literal spec."""
    spiking = 0
    for slots in range(1, 20):
        cfg = Config(columns=2, neurons=3, slots=slots, receptors=24, levels=levels,
                     spike_threshold=threshold)
        rec, w = random_state(cfg, seed=slots, free_fraction=0.0)
        planes = planes_from_pixels(random_pixels(cfg, 450, seed=slots + 100), cfg.levels)
        expected = ref.spike_counts(cfg, rec, w, planes)
        got = Network.from_arrays(cfg, rec, w).spike_counts(planes)
        assert np.array_equal(got, expected), f"{slots} slots"
        spiking += 0 < expected.sum() < 450 * cfg.columns * cfg.neurons * len(levels)
    assert spiking >= 15                      # most slot counts both spike and stay silent


@given(configs(big=True), st.integers(0, 2**32), st.data(), st.booleans())
def test_reinforce_equal_reference(cfg, seed, data, nested):
    """Every reinforcement kernel training uses against the literal spec: the nested-planes
    one (intensity planes), on one core and on all, and the plain per-cycle one (any
    planes)."""
    rec, w = random_state(cfg, seed)
    if nested:
        planes = planes_from_pixels(random_pixels(cfg, 1, seed + 1), cfg.levels)[0]
    else:
        planes = np.random.default_rng(seed).random((len(cfg.levels), cfg.receptors)) < 0.4
    column = data.draw(st.integers(0, cfg.columns - 1))
    amount = data.draw(st.sampled_from([cfg.reinforce_positive, cfg.reinforce_negative]))
    net = Network.from_arrays(cfg, rec, w)
    expected = w.copy()
    pruned_ref = ref.reinforce(cfg, rec, expected, planes, column, amount)
    before = net.weights.copy()
    assert stepwise.reinforce(net, planes, column, amount) == pruned_ref
    assert np.array_equal(net.weights, expected)
    args = (amount, cfg.spike_threshold, cfg.learn_low, cfg.learn_high, cfg.prune_below)
    weights = before.copy()
    assert learning.reinforce_column(net.receptors[column], weights[column], planes,
                                     *args) == pruned_ref
    assert np.array_equal(weights, expected)
    first = np.empty(cfg.receptors, np.int64)
    if learning.receptor_first_cycles(planes, first):
        weights = before.copy()
        assert learning.reinforce_column_nested(net.receptors[column], weights[column], first,
                                                len(cfg.levels), *args) == pruned_ref
        assert np.array_equal(weights, expected)
        weights = before.copy()
        assert learning.reinforce_column_nested_parallel(
            net.receptors[column], weights[column], first, len(cfg.levels), *args,
            2) == pruned_ref
        assert np.array_equal(weights, expected)
    else:
        assert not nested


@given(configs(big=True), st.integers(0, 2**32))
def test_decay_equal_reference(cfg, seed):
    rec, w = random_state(cfg, seed)
    net = Network.from_arrays(cfg, rec, w)
    expected = w.copy()
    assert stepwise.decay(net) == ref.decay(cfg, expected)
    assert np.array_equal(net.weights, expected)


@given(configs(grow_count=0), st.integers(0, 2**32), st.integers(1, 3))
def test_training_batches_equal_reference_without_growth(cfg, seed, n_batches):
    rec, w = random_state(cfg, seed, free_fraction=0.2)
    n = cfg.batch_size
    pixels = random_pixels(cfg, n * n_batches, seed + 1)
    planes = planes_from_pixels(pixels, cfg.levels)
    labels = np.random.default_rng(seed).integers(0, cfg.columns, size=n * n_batches)
    trainer = Trainer(cfg, Network.from_arrays(cfg, rec, w), seed=seed)
    reference = ref.RefTrainer(cfg, rec, w)
    for b in range(n_batches):
        sl = slice(b * n, (b + 1) * n)
        reference.train_batch(planes[sl], labels[sl])
        trainer.train_batch(planes[sl], pixels[sl], labels[sl])
        assert np.array_equal(trainer.net.weights, reference.weights)
        assert trainer.state.positive_learns == reference.positive_learns
        assert trainer.state.negative_learns == reference.negative_learns
        assert trainer.positive.value == float(reference.pos.q)
        assert trainer.negative.value == float(reference.neg.q)


def test_negative_accumulator_floors_and_64_bit_sums():
    cfg = Config(columns=2, neurons=1, slots=10, receptors=2, levels=(200, 100),
                 spike_threshold=2**34, learn_low=0, learn_high=2**36,
                 new_weight_divisor=2, prune_below=0)
    assert cfg.weight_dtype == "int64"
    rec = np.zeros((2, 1, 10), np.int32)
    w = np.full((2, 1, 10), 2**34 - 1, np.int64)   # sum 10 * (2**34 - 1) overflows int32
    pixels = np.array([[255, 0]], np.uint8)
    planes = planes_from_pixels(pixels, cfg.levels)
    counts = Network.from_arrays(cfg, rec, w).spike_counts(planes)
    assert np.array_equal(counts, ref.spike_counts(cfg, rec, w, planes))
    assert counts[0, 0] == 2


def test_negative_halving_rounds_toward_minus_infinity():
    # Receptor 0 is on in both planes, receptor 1 only in the second. Cycle 0: t = -3,
    # halved to -2 by floor (truncation would give -1). Cycle 1: t = -2 - 3 + 1005 = 1000,
    # which does not pass T = 1000; truncation would reach 1001 and spike.
    cfg = Config(columns=2, neurons=1, slots=3, receptors=2, levels=(2, 1),
                 spike_threshold=1000, learn_low=10, learn_high=2000,
                 new_weight_divisor=10, prune_below=0)
    rec = np.array([[[0, 1, 1]], [[0, 0, 0]]], np.int32)
    w = np.array([[[-3, 600, 405]], [[0, 0, 0]]], np.int64)
    planes = planes_from_pixels(np.array([[2, 1]], np.uint8), cfg.levels)
    assert Network.from_arrays(cfg, rec, w).spike_counts(planes)[0, 0] == 0
    w[0, 0, 2] = 406  # one more unit: now it spikes
    assert Network.from_arrays(cfg, rec, w).spike_counts(planes)[0, 0] == 1


def test_tie_at_top_is_a_miss():
    from snnpipe.engine.trainer import decided_correct
    counts = np.array([[5, 5, 1], [6, 5, 1], [1, 1, 1], [0, 2, 2]])
    labels = np.array([0, 0, 2, 1])
    correct, no_decision = decided_correct(counts, labels)
    assert correct.tolist() == [False, True, False, False]
    assert no_decision.tolist() == [True, False, True, True]
