"""D𝜋's program, to the last bit: its generator, its float quantilizer, its growth walk,
and the compiled batch against the step-by-step trainer (docs/model.md, rules F1-F6)."""

import ctypes
import json

import numpy as np
import pytest
import reference
from hypothesis import given
from hypothesis import strategies as st
from stepwise import StepwiseTrainer
from strategies import configs, random_pixels

from snnpipe.engine import Config
from snnpipe.engine import generators as gen
from snnpipe.engine.growth import grow_dpi_walk
from snnpipe.engine.quantilizer import observe_binary32_stream
from snnpipe.engine.trainer import Trainer

LIBC = ctypes.CDLL("libc.so.6")


@pytest.mark.parametrize("seed", [1000, 0, 1, 42, 2**31 - 1])
def test_glibc_generator_matches_the_c_library(seed):
    LIBC.srand(seed)
    want = np.fromiter((LIBC.rand() for _ in range(1_000_000)), dtype=np.int64)
    got = np.empty(1_000_000, dtype=np.int64)
    gen.glibc_fill(gen.glibc_state(seed), got)
    assert np.array_equal(want, got)


@given(seed=st.integers(0, 2**32 - 1), pop=st.integers(1, 30_000),
       size_frac=st.floats(0, 1), n=st.integers(1, 70_000))
def test_pcg64_draws_match_numpy(seed, pop, size_frac, n):
    """choice(replace=False) — Floyd's and the tail shuffle — and integers, draw for draw,
    including numpy's buffered 32-bit half."""
    size = int(size_frac * pop)
    ref = np.random.Generator(np.random.PCG64(seed))
    ref.integers(0, 3)                       # leave a buffered half behind, sometimes
    st_ = gen.pcg64_state_array(ref)
    want_choice = ref.choice(np.arange(pop), size=size, replace=False)
    want_ints = ref.integers(0, n, size=5)
    got_choice = np.zeros(max(size, 1), np.int64)
    gen.choose_distinct(st_, gen.GEN_PCG64, pop, size, got_choice)
    got_ints = [gen.below(st_, gen.GEN_PCG64, n) for _ in range(5)]
    assert list(want_choice) == list(got_choice[:size])
    assert list(want_ints) == got_ints
    assert np.array_equal(st_, gen.pcg64_state_array(ref))


@given(ups=st.sampled_from([(19, 100), (150, 900), (1, 3), (7, 10)]),
       xs=st.lists(st.integers(-20, 60), min_size=1, max_size=400))
def test_binary32_quantilizer_matches_numpy_float_arithmetic(ups, xs):
    up, den = ups
    q = np.float32(0)
    for x in xs:
        q = reference.binary32_observe(q, up, 1, den, x)
    got = observe_binary32_stream(np.float32(0), up, 1, den, np.array(xs, np.int64))
    assert np.float32(got).tobytes() == q.tobytes()


def test_binary32_quantilizer_never_lands_on_zero_again_as_sonn_md_says():
    """The whole difference between the modes: after one error of 1 and then silence
    (err = 0), the exact q comes back to 0 and stays (x == q: nothing), while the float q
    never equals 0 again and keeps stepping."""
    from snnpipe.engine.quantilizer import Quantilizer
    exact = Quantilizer(19, 1, 100)
    exact.observe_all(np.array([1] + [0] * 60))
    assert exact.units == 0
    for k in range(1, 60):
        q = observe_binary32_stream(np.float32(0), 19, 1, 100, np.array([1] + [0] * k))
        assert q != 0


@given(seed=st.integers(1, 2**31 - 1), neurons=st.integers(1, 12), slots=st.integers(1, 6),
       occupancy=st.floats(0, 1), count=st.integers(1, 25), n_active=st.integers(1, 30),
       data=st.integers(0, 2**32 - 1))
def test_dpi_walk_matches_the_literal_reference(seed, neurons, slots, occupancy, count,
                                                 n_active, data):
    rng = np.random.default_rng(data)
    weights = np.where(rng.random((neurons, slots)) < occupancy, 5, 0).astype(np.int64)
    receptors = rng.integers(0, 784, size=(neurons, slots)).astype(np.int32)
    active = np.sort(rng.choice(784, size=n_active, replace=False)).astype(np.int64)
    w_ref, r_ref = weights.copy(), receptors.copy()
    LIBC.srand(seed)
    placed = reference.dpi_grow(w_ref, r_ref, active, count, -7, LIBC.rand)
    st_ = gen.glibc_state(seed)
    grown = grow_dpi_walk(receptors, weights, active, n_active, count, -7, st_, gen.GEN_GLIBC)
    assert grown == len(placed)
    assert np.array_equal(weights, w_ref) and np.array_equal(receptors, r_ref)
    assert gen.glibc_rand(st_) == LIBC.rand()          # same number of draws consumed


def _batches(tr, pixels, planes, labels, n_batches):
    for _ in range(n_batches):
        idx = tr.next_batch(len(labels))
        tr.train_batch(planes[idx], pixels[idx], labels[idx])


@given(cfg=configs(variants=True), seed=st.integers(0, 2**32 - 1),
       sampling=st.sampled_from(["permutation", "independent", "redraw"]))
def test_compiled_batch_is_bit_identical_to_the_step_by_step_trainer(cfg, seed, sampling):
    cfg = cfg.replace(sampling=sampling, grow_count=cfg.neurons)
    pixels = random_pixels(cfg, 40, seed % 1000)
    planes = pixels[:, None, :] >= np.array(cfg.levels)[None, :, None]
    labels = np.arange(40) % cfg.columns
    fast, slow = Trainer(cfg, seed=seed), StepwiseTrainer(cfg, seed=seed)
    _batches(fast, pixels, planes, labels, 6)
    _batches(slow, pixels, planes, labels, 6)
    assert np.array_equal(fast.net.weights, slow.net.weights)
    assert np.array_equal(fast.net.receptors, slow.net.receptors)
    assert fast.state_dict() == slow.state_dict()


def test_compiled_batch_matches_on_real_mnist(mnist_store):
    from snnpipe.stores.dataset import open_dataset
    ds = open_dataset(mnist_store)
    tr = ds.load("train", 4000)
    cfg = Config(neurons=120)
    fast, slow = Trainer(cfg, seed=3), StepwiseTrainer(cfg, seed=3)
    for t in (fast, slow):
        for _ in range(2):
            t.train_epoch(tr.planes, tr.pixels, tr.labels)
    assert fast.state.positive_learns > 100 and fast.state.counters.grown > 1000
    assert np.array_equal(fast.net.weights, slow.net.weights)
    assert np.array_equal(fast.net.receptors, slow.net.receptors)
    assert fast.state_dict() == slow.state_dict()


def test_faithful_state_round_trips_and_resumes_bit_identically(mnist_store):
    from snnpipe.stores.dataset import open_dataset
    ds = open_dataset(mnist_store)
    tr = ds.load("train", 3000)
    cfg = Config.preset("dpi-program").replace(neurons=60)
    straight = Trainer(cfg, seed=1000)
    _batches(straight, tr.pixels, tr.planes, tr.labels, 30)
    first = Trainer(cfg, seed=1000)
    _batches(first, tr.pixels, tr.planes, tr.labels, 12)
    state = json.loads(json.dumps(first.state_dict()))     # through JSON, as in a checkpoint
    assert state["rng"]["bit_generator"] == "glibc"
    resumed = Trainer.from_state(cfg, first.state_arrays(), state)
    _batches(resumed, tr.pixels, tr.planes, tr.labels, 18)
    assert np.array_equal(straight.net.weights, resumed.net.weights)
    assert np.array_equal(straight.net.receptors, resumed.net.receptors)
    assert straight.state_dict() == resumed.state_dict()
    assert straight.positive.q32 != round(straight.positive.q32)   # binary32 drift is live


def test_compiled_batch_matches_for_a_large_network(mnist_store):
    """Columns of >= PARALLEL_REINFORCE_NEURONS reinforce on all cores: still bit-identical."""
    from snnpipe.engine.learning import PARALLEL_REINFORCE_NEURONS
    from snnpipe.stores.dataset import open_dataset
    tr = open_dataset(mnist_store).load("train", 1200)
    cfg = Config.preset("dpi-98.9").replace(neurons=PARALLEL_REINFORCE_NEURONS + 52)
    fast, slow = Trainer(cfg, seed=11), StepwiseTrainer(cfg, seed=11)
    for t in (fast, slow):
        t.train_epoch(tr.planes, tr.pixels, tr.labels)
    assert fast.state.positive_learns > 6 and fast.state.counters.pruned_reinforce > 0
    assert np.array_equal(fast.net.weights, slow.net.weights)
    assert np.array_equal(fast.net.receptors, slow.net.receptors)
    assert fast.state_dict() == slow.state_dict()
