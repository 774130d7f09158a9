"""Growth, quantilizers, priming, determinism and exact state round-trips."""

import json

import numpy as np
import pytest
import stepwise
from hypothesis import given
from hypothesis import strategies as st
from strategies import configs, random_pixels, random_state

from snnpipe.engine import Config, ConfigError, Network
from snnpipe.engine.encoding import planes_from_pixels
from snnpipe.engine.quantilizer import Quantilizer
from snnpipe.engine.trainer import Trainer


@given(configs(), st.integers(0, 2**32), st.integers(0, 40), st.data())
def test_growth_properties(cfg, seed, count, data):
    rec, w = random_state(cfg, seed, free_fraction=data.draw(st.sampled_from([0.0, 0.3, 1.0])))
    net = Network.from_arrays(cfg, rec, w)
    column = data.draw(st.integers(0, cfg.columns - 1))
    pixels = random_pixels(cfg, 1, seed, density=data.draw(st.sampled_from([0.0, 0.3, 1.0])))[0]
    active = np.flatnonzero(pixels > 0)
    before_w, before_r = net.weights.copy(), net.receptors.copy()
    free_before = int((before_w[column] == 0).sum())
    grown = stepwise.grow(net, np.random.default_rng(seed), active, column, count, -7)
    changed = net.weights != before_w
    # only the chosen column, only free slots, exactly min(count, free) of them
    expected = 0 if active.size == 0 else min(count, free_before)
    assert grown == expected == int(changed.sum())
    assert not changed[np.arange(cfg.columns) != column].any()
    assert (before_w[changed] == 0).all()
    assert (net.weights[changed] == -7).all()
    assert np.isin(net.receptors[changed], active).all()
    unchanged = ~changed
    assert np.array_equal(net.receptors[unchanged & (before_w != 0)],
                          before_r[unchanged & (before_w != 0)])


def test_growth_picks_uniformly_among_free_slots_and_receptors():
    cfg = Config(columns=2, neurons=4, slots=5, receptors=6)
    rng = np.random.default_rng(0)
    slot_hits = np.zeros(20)
    receptor_hits = np.zeros(6)
    for _ in range(2000):
        net = Network.new(cfg)
        stepwise.grow(net, rng, np.array([1, 4]), 1, 3, 5)
        slot_hits += (net.weights[1].reshape(-1) != 0)
        receptor_hits += np.bincount(net.receptors[1][net.weights[1] != 0], minlength=6)
    assert slot_hits.sum() == 6000
    assert slot_hits.min() > 0.7 * 300 and slot_hits.max() < 1.3 * 300
    assert receptor_hits[[0, 2, 3, 5]].sum() == 0
    assert abs(receptor_hits[1] - receptor_hits[4]) < 0.1 * 3000


def test_quantilizer_exact_trajectory():
    q = Quantilizer(up=19, down=1, denominator=100)
    trajectory = []
    for x in [0, 1, 1, 0, -5, 0, 3]:
        q.observe(x)
        trajectory.append(q.units)
    # 0 == 0: stay; 1 > 0: +19; 1 > .19: +19; 0 < .38: -1; -5: -1; 0 < .36: -1; 3: +19
    assert trajectory == [0, 19, 38, 37, 36, 35, 54]
    assert q.reached_by(1) and not q.reached_by(0)


@pytest.mark.parametrize("up,down,den", [(19, 1, 100), (150, 1, 900)])
def test_quantilizer_settles_at_its_fraction(up, down, den):
    rng = np.random.default_rng(1)
    stream = rng.integers(-200, 200, size=400_000)
    q = Quantilizer(up, down, den)
    for x in stream[:200_000]:
        q.observe(int(x))
    seen = [int(x) * den >= q.units for x in stream[200_000:]]
    for x in stream[200_000:]:
        q.observe(int(x))
    assert abs(np.mean(seen) - down / (up + down)) < 0.35 * down / (up + down) + 0.003


def _toy_data(cfg, n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, cfg.columns, size=n)
    # each class lights its own band of receptors, plus noise
    pixels = (rng.random((n, cfg.receptors)) < 0.1).astype(np.uint8) * 100
    band = cfg.receptors // cfg.columns
    for i, y in enumerate(labels):
        pixels[i, y * band:(y + 1) * band] = rng.integers(1, 256, size=band)
    return pixels, planes_from_pixels(pixels, cfg.levels), labels


def _train(cfg, seed, epochs=2, n=300, data_seed=0, sampling="permutation"):
    pixels, planes, labels = _toy_data(cfg, n, data_seed)
    tr = Trainer(cfg, seed=seed, sampling=sampling)
    for _ in range(epochs):
        tr.train_epoch(planes, pixels, labels)
    return tr


SMALL = Config(columns=4, neurons=12, slots=10, receptors=40, batch_size=20,
               spike_threshold=100_000, learn_low=30_000, learn_high=120_000,
               prune_below=9_700, reinforce_positive=500, reinforce_negative=-500,
               grow_count=5, decay_amount=2, decay_every=10)


@pytest.mark.parametrize("sampling", ["permutation", "independent"])
def test_same_seed_same_weights_different_seed_different(sampling):
    a = _train(SMALL, seed=3, sampling=sampling)
    b = _train(SMALL, seed=3, sampling=sampling)
    c = _train(SMALL, seed=4, sampling=sampling)
    assert np.array_equal(a.net.weights, b.net.weights)
    assert np.array_equal(a.net.receptors, b.net.receptors)
    assert not np.array_equal(a.net.weights, c.net.weights)


def test_the_network_does_not_depend_on_the_number_of_threads():
    """A run may resume on another machine, or alone on both cores after sharing them: the
    kernels split neurons into chunks by thread count (forward parts, the parallel
    reinforcement of columns of 2,048 neurons or more), and the split must not show."""
    import numba

    from snnpipe.engine.learning import PARALLEL_REINFORCE_NEURONS
    cfg = SMALL.replace(columns=2, neurons=PARALLEL_REINFORCE_NEURONS + 3, grow_count=1000)
    pixels, planes, labels = _toy_data(cfg, 200, 0)
    got = []
    before = numba.get_num_threads()
    try:
        for n in (1, 2):
            numba.set_num_threads(n)
            tr = _train(cfg, seed=5, epochs=2, n=200)
            got.append((tr.net.weights, tr.net.receptors, tr.net.spike_counts(planes),
                        tr.state.positive_learns, tr.state.negative_learns))
    finally:
        numba.set_num_threads(before)
    (w1, r1, c1, *learns1), (w2, r2, c2, *learns2) = got
    assert np.array_equal(w1, w2) and np.array_equal(r1, r2) and np.array_equal(c1, c2)
    assert learns1 == learns2 and min(learns1) > 0 and c1.any()  # both rules ran; it spikes


def test_training_learns_the_toy_task():
    tr = _train(SMALL, seed=0, epochs=4, n=400)
    pixels, planes, labels = _toy_data(SMALL, 400, 99)
    counts = tr.net.spike_counts(planes)
    from snnpipe.engine.trainer import decided_correct
    assert decided_correct(counts, labels)[0].mean() > 0.8


def test_forced_positive_priming_gives_exactly_one_positive_step_per_batch():
    # A positive quantilizer far above any err: only the priming rule can learn.
    pixels, planes, labels = _toy_data(SMALL, 300, 0)
    for forced in (True, False):
        tr = Trainer(SMALL.replace(prime_forced_positive=forced), seed=0)
        tr.positive.units = 10**12
        for b in range(5):
            idx = slice(b * 20, (b + 1) * 20)
            tr.train_batch(planes[idx], pixels[idx], labels[idx])
            assert tr.state.positive_learns == (b + 1 if forced else 0)


def test_negative_cap_priming_limits_negative_steps():
    cfg = SMALL.replace(negative_up=1, negative_down=1000, prime_forced_positive=True)
    capped = _train(cfg, seed=0, epochs=1)
    free = _train(cfg.replace(prime_negative_cap=False), seed=0, epochs=1)
    st = capped.state
    # the cap is checked before each sample: at most one sample's false columns beyond it
    assert st.negative_learns <= (3 * st.positive_learns) // 2 + (cfg.columns - 1)
    assert free.state.negative_learns > st.negative_learns


def test_state_round_trips_through_arrays_and_json_exactly():
    pixels, planes, labels = _toy_data(SMALL, 300, 0)
    straight = Trainer(SMALL, seed=5)
    for _ in range(3):
        straight.train_epoch(planes, pixels, labels)

    first = Trainer(SMALL, seed=5)
    stopped = first.train_epoch(planes, pixels, labels, on_batch=lambda n: False)
    assert stopped is False and first.state.cursor == 1       # stopped mid-epoch
    state = json.loads(json.dumps(first.state_dict()))
    arrays = {k: v.copy() for k, v in first.state_arrays().items()}
    resumed = Trainer.from_state(SMALL, arrays, state)
    while resumed.state.epoch < 3:
        resumed.train_epoch(planes, pixels, labels)
    assert np.array_equal(resumed.net.weights, straight.net.weights)
    assert np.array_equal(resumed.net.receptors, straight.net.receptors)
    assert resumed.state_dict()["rng"] == straight.state_dict()["rng"]
    assert resumed.positive.units == straight.positive.units


def test_config_validation_names_the_field():
    with pytest.raises(ConfigError, match="learn_low"):
        Config(learn_low=2_000_000)
    with pytest.raises(ConfigError, match="levels must be strictly descending"):
        Config(levels=(64, 128))
    with pytest.raises(ConfigError, match="neurons"):
        Config(neurons=0)
    with pytest.raises(ConfigError, match="unknown config key.*bogus"):
        Config.from_dict({"bogus": 1})
    assert Config.from_dict(Config().to_dict()) == Config()
    big = Config.preset("dpi-98.9")
    assert (big.neurons, big.grow_count, big.decay_amount) == (7920, 20, 10)
