"""Speed of *trained* networks, where long runs spend their hours.

    python benchmarks/bench_trained.py CHECKPOINT [--batches 100] [--repeats 3] [--json]

Resumes a committed trained checkpoint exactly (its trainer, generator and quantilizers)
and measures, on the run's own next batches:
- forward samples/s on the 10,000 test images and on the training batches, and the time to
  build one batch's masks (the byte transpose the forward pass reads);
- training samples/s (`Trainer.train_batch`: forward, quantilizers and learning);
- the learning time per step, split into reinforcement, growth and decay (each kernel timed
  on copies of the network, on the batches' own samples and columns) and the rest (the
  learning decisions, the quantilizers, the calls);
- two bounds for the forward pass: the SIMD bound (one slot-lane addition per live slot of a
  neuron that can spike, per level and padded sample, against cores x int32 lanes x clock)
  and the memory-traffic bound (the bytes that cannot stay in L2, against the measured
  streaming bandwidth).

Medians over repeats. The machine may be shared: compare ratios, and say whether it was idle.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from bench_engine import lane_additions, median_time, simd_peak  # noqa: E402

from snnpipe.engine import forward, growth, learning  # noqa: E402
from snnpipe.engine.forward import block_size  # noqa: E402
from snnpipe.engine.generators import GEN_GLIBC, GEN_PCG64, glibc_state, pcg64_state_array  # noqa: E402
from snnpipe.engine.trainer import Trainer  # noqa: E402
from snnpipe.stores import checkpoint as ckpt  # noqa: E402
from snnpipe.stores.dataset import open_dataset  # noqa: E402


def l2_bytes() -> int:
    """Per-core L2 size from sysfs (512 KiB if unknown)."""
    p = Path("/sys/devices/system/cpu/cpu0/cache/index2/size")
    try:
        text = p.read_text().strip().upper()
        return int(text.rstrip("K")) * 1024 if text.endswith("K") else int(text)
    except (OSError, ValueError):
        return 512 * 1024


def stream_bandwidth() -> float:
    """Bytes/s of one thread summing a 256 MiB array (a DRAM streaming rate)."""
    a = np.ones(64 * 2**20, dtype=np.int32)
    a.sum()
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        a.sum()
        times.append(time.perf_counter() - t0)
    return a.nbytes / min(times)


def learning_split(trainer: Trainer, samples: list[tuple[np.ndarray, np.ndarray, int]]
                   ) -> dict[str, float]:
    """Microseconds per call of reinforcement, growth and decay on copies of the network."""
    cfg = trainer.cfg
    rec0, w0 = trainer.net.receptors, trainer.net.weights
    first = np.empty(cfg.receptors, np.int64)
    active = np.empty(cfg.receptors, np.int64)
    kind = GEN_GLIBC if cfg.generator == "glibc" else GEN_PCG64
    st = (glibc_state(1000) if kind == GEN_GLIBC
          else pcg64_state_array(np.random.Generator(np.random.PCG64(0))))
    grow = growth.grow_dpi_walk if cfg.growth == "dpi-walk" else growth.grow_uniform
    n_levels = len(cfg.levels)
    times: dict[str, list[float]] = {"reinforce": [], "grow": [], "decay": []}
    for planes, pixels, column in samples:
        rec, w = rec0.copy(), w0.copy()
        learning.receptor_first_cycles(planes, first)
        n_active = growth.active_pixels(pixels, active)
        t0 = time.perf_counter()
        if cfg.neurons >= learning.PARALLEL_REINFORCE_NEURONS:
            learning.reinforce_column_nested_parallel(
                rec[column], w[column], first, n_levels, cfg.reinforce_positive,
                cfg.spike_threshold, cfg.learn_low, cfg.learn_high, cfg.prune_below,
                4 * forward.threads())
        else:
            learning.reinforce_column_nested(
                rec[column], w[column], first, n_levels, cfg.reinforce_positive,
                cfg.spike_threshold, cfg.learn_low, cfg.learn_high, cfg.prune_below)
        t1 = time.perf_counter()
        grow(rec[column], w[column], active, n_active, cfg.grow_count, cfg.initial_weight,
             st, kind)
        t2 = time.perf_counter()
        times["reinforce"].append(t1 - t0)
        times["grow"].append(t2 - t1)
    for _ in range(5):
        w = w0.copy()
        t0 = time.perf_counter()
        learning.decay_and_prune(w, cfg.decay_amount, cfg.prune_below)
        times["decay"].append(time.perf_counter() - t0)
    return {k: 1e6 * statistics.median(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--store", default=str(ROOT / "data" / "mnist.zarr"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    ck = ckpt.load(Path(args.checkpoint))
    cfg = ck.cfg
    ds = open_dataset(Path(args.store))
    train, test = ds.load("train"), ds.load("test")
    start = Trainer.from_state(cfg, ck.arrays, ck.state)
    n_train = len(train)
    batches = []
    for _ in range(args.batches):                   # the run's own next batches
        batches.append(start.next_batch(n_train).copy())
        start._advance(n_train)
    start.net.spike_counts(test.planes[:64])         # compile / load the kernels
    warm = Trainer.from_state(cfg, ck.arrays, ck.state)
    warm.train_batch(train.planes[batches[0]], train.pixels[batches[0]],
                     train.labels[batches[0]])

    net = start.net
    forward_test_s = median_time(lambda: net.spike_counts(test.planes), args.repeats)
    forward_batches_s = median_time(
        lambda: [net.spike_counts(train.planes[i]) for i in batches], args.repeats)
    one = np.ascontiguousarray(train.planes[batches[0]], dtype=np.bool_)
    masks_s = median_time(lambda: forward.build_masks(one), 5 * args.repeats)
    train_times, steps = [], []
    for _ in range(args.repeats):
        tr = Trainer.from_state(cfg, ck.arrays, ck.state)
        s0 = (tr.state.positive_learns, tr.state.negative_learns)
        t0 = time.perf_counter()
        for idx in batches:
            tr.train_batch(train.planes[idx], train.pixels[idx], train.labels[idx])
        train_times.append(time.perf_counter() - t0)
        steps.append((tr.state.positive_learns - s0[0], tr.state.negative_learns - s0[1]))
    train_s = statistics.median(train_times)
    positive, negative = steps[0]
    n_samples = sum(len(i) for i in batches)
    learn_s = max(train_s - forward_batches_s, 0.0)
    n_steps = max(positive + negative, 1)

    picks = [(train.planes[i], train.pixels[i], int(train.labels[i]))
             for i in np.concatenate(batches)[:40]]
    split = learning_split(start, picks)
    reinforce_s = split["reinforce"] * 1e-6 * n_steps
    grow_s = split["grow"] * 1e-6 * n_steps
    decay_s = split["decay"] * 1e-6 * (positive // cfg.decay_every)

    # bounds of the forward pass over the training batches
    peak, lanes, ghz = simd_peak()
    adds = sum(lane_additions(net, cfg, len(i)) for i in batches)
    slot_bytes = net.weights.nbytes + net.receptors.nbytes
    live = int((net.weights != 0).sum())
    sb = block_size(cfg.batch_size)
    per_batch_masks = cfg.receptors * len(cfg.levels) * sb * -(-cfg.batch_size // sb)
    # The slots do not fit in L2 on a large network, so they stream from L3/DRAM: once per
    # call (the kernel is neuron-outer), i.e. once per batch. The masks a slot reads (its
    # receptor's run: levels x block bytes) are re-read per slot; the run of the receptors
    # in use stays in L2 (see docs/engine.md).
    traffic = slot_bytes * len(batches)
    bandwidth = stream_bandwidth()
    out = {
        "checkpoint": str(args.checkpoint),
        "neurons": cfg.neurons,
        "samples_seen": int(ck.state.get("trainer", {}).get("samples_seen", 0)),
        "threads": forward.threads(),
        "live_slots": live,
        "forward_test_samples_per_s": len(test) / forward_test_s,
        "forward_train_samples_per_s": n_samples / forward_batches_s,
        "train_samples_per_s": n_samples / train_s,
        "steps_per_batch": n_steps / len(batches),
        "us_per_learning_step": 1e6 * learn_s / n_steps,
        "us_reinforce_per_step": 1e6 * reinforce_s / n_steps,
        "us_grow_per_step": 1e6 * grow_s / n_steps,
        "us_decay_per_step": 1e6 * decay_s / n_steps,
        "us_rest_per_step": 1e6 * max(learn_s - reinforce_s - grow_s - decay_s, 0) / n_steps,
        "forward_share_of_training": forward_batches_s / train_s,
        "us_masks_per_batch": 1e6 * masks_s,
        "lane_additions_per_s": adds / forward_batches_s,
        "simd_peak_lane_additions_per_s": peak,
        "simd_bound_samples_per_s": n_samples * peak / adds,
        "slot_bytes": slot_bytes,
        "batch_mask_bytes": per_batch_masks,
        "mask_bytes_read_per_sample": live * len(cfg.levels),
        "l2_bytes": l2_bytes(),
        "traffic_bytes_per_sample": traffic / n_samples,
        "stream_bandwidth_bytes_per_s": bandwidth,
        "memory_bound_samples_per_s": n_samples * bandwidth / traffic,
        "lanes": lanes,
        "clock_ghz": ghz,
    }
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:34s} {v:,.2f}" if isinstance(v, float) else f"{k:34s} {v}")


if __name__ == "__main__":
    main()
