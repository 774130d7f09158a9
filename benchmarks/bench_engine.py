"""Engine speed on real MNIST: forward samples/s, training samples/s, peak memory, bounds.

    python benchmarks/bench_engine.py [--preset default|dpi-98.9|dpi-program] [--repeats 5]
                                      [--json]

The network is first trained for one epoch (so weights are realistic), then timed.
Figures are medians over repeats; the machine is shared, so compare ratios, not runs.

Bounds: the blocked forward pass does one "slot-lane addition" per (neuron that can spike,
live slot, level, sample); its rate is compared with the SIMD peak cores x int32 lanes x
clock (lanes: 16 with AVX-512, 8 with AVX2, from /proc/cpuinfo flags; clock: /proc/cpuinfo
"cpu MHz"; one vector add per cycle and core). Learning: (epoch time - the forward pass over
the same 60,000 samples) / learning steps in the epoch.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from snnpipe.engine import Config  # noqa: E402
from snnpipe.engine.forward import block_size, threads  # noqa: E402
from snnpipe.engine.trainer import Trainer  # noqa: E402
from snnpipe.stores.dataset import open_dataset  # noqa: E402


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def simd_peak() -> tuple[float, int, float]:
    """(lane additions per second, lanes, GHz) from /proc/cpuinfo, one add/cycle/core."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    lanes = 16 if "avx512f" in info else 8 if "avx2" in info else 4
    mhz = [float(ln.split(":")[1]) for ln in info.splitlines() if ln.startswith("cpu MHz")]
    ghz = (statistics.median(mhz) / 1000) if mhz else float("nan")
    return threads() * lanes * ghz * 1e9, lanes, ghz


def lane_additions(net, cfg, n_samples: int) -> int:
    """Slot-lane additions of one blocked forward pass over n_samples (see module doc)."""
    w = net.weights.reshape(-1, cfg.slots).astype(np.int64)
    n_levels = len(cfg.levels)
    positive = np.where(w > 0, w, 0).sum(axis=1)
    can_spike = positive * (2**n_levels - 1) > cfg.spike_threshold * 2 ** (n_levels - 1)
    live_slots = (w != 0).sum(axis=1)
    sb = block_size(n_samples)
    padded = -(-n_samples // sb) * sb
    return int(live_slots[can_spike].sum()) * n_levels * padded


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="default")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--train-epochs", type=int, default=3)
    ap.add_argument("--store", default=str(ROOT / "data" / "mnist.zarr"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--compare-faithful", action="store_true",
                    help="also train the same warm network with D𝜋's program rules")
    args = ap.parse_args()

    cfg = Config.preset(args.preset)
    ds = open_dataset(Path(args.store))
    train, test = ds.load("train"), ds.load("test")
    trainer = Trainer(cfg, seed=0)
    trainer.net.spike_counts(test.planes[:64])                    # compile / load kernels
    first = median_time(lambda: trainer.train_epoch(train.planes, train.pixels, train.labels), 1)
    trainer.reset_counters()

    net = trainer.net
    forward_s = median_time(lambda: net.spike_counts(test.planes), args.repeats)
    events_s = median_time(lambda: net.spike_counts(test.planes, method="events"),
                           max(1, args.repeats // 2))
    epoch_times, steps, forward_train = [], [], []
    for _ in range(args.train_epochs):
        forward_train.append(median_time(lambda: trainer.net.spike_counts(train.planes), 1))
        epoch_times.append(median_time(
            lambda: trainer.train_epoch(train.planes, train.pixels, train.labels), 1))
        c = trainer.reset_counters()
        steps.append(c.positive_steps + c.negative_steps)
    epoch_s = statistics.median(epoch_times)
    learn_s = statistics.median(e - f for e, f in zip(epoch_times, forward_train, strict=True))
    faithful_s = None
    if args.compare_faithful:
        # the same network, continued under D𝜋's program rules (binary32 quantilizers, glibc,
        # his walk and batches): a fair speed comparison (from scratch his rules learn far
        # less at first, which would flatter them)
        faithful = Trainer(Config.preset("dpi-program").replace(
            **{k: v for k, v in cfg.to_dict().items()
               if k not in ("quantilizer", "generator", "growth", "sampling")}),
            network=net.copy(), seed=1000)
        faithful.state.batches_seen = faithful.state.positive_learns = trainer.state.batches_seen
        faithful_s = statistics.median(
            median_time(lambda: faithful.train_epoch(train.planes, train.pixels, train.labels), 1)
            for _ in range(args.train_epochs))
    peak, lanes, ghz = simd_peak()
    adds = lane_additions(net, cfg, len(test))

    # worst case: every slot live (a large network is far from full after one epoch)
    full = net.copy()
    rng = np.random.default_rng(1)
    for c in range(cfg.columns):
        imgs = np.flatnonzero(train.labels == c)
        free = np.flatnonzero(full.weights[c].reshape(-1) == 0)
        picks = rng.choice(imgs, size=free.size)
        rec = [rng.choice(np.flatnonzero(train.pixels[i] > 0)) for i in picks]
        full.receptors[c].reshape(-1)[free] = rec
        full.weights[c].reshape(-1)[free] = np.where(rng.random(free.size) < 0.5,
                                                     cfg.initial_weight, -cfg.initial_weight)
    full_s = median_time(lambda: full.spike_counts(test.planes), args.repeats)

    # what bounds the forward pass: input events and their fan-out
    live = net.weights != 0
    fan_out = np.bincount(net.receptors[live], minlength=cfg.receptors)
    switch_on = test.planes.sum(axis=1) > 0                       # receptor on at some level
    events = switch_on.sum(axis=1)
    slot_hits = (switch_on.astype(np.int64) @ fan_out)
    out = {
        "preset": args.preset,
        "threads": threads(),
        "connections": int(live.sum()),
        "first_epoch_s": first,
        "forward_samples_per_s": len(test) / forward_s,
        "forward_full_network_samples_per_s": len(test) / full_s,
        "forward_events_samples_per_s": len(test) / events_s,
        "train_epoch_s": epoch_s,
        "train_samples_per_s": len(train) / epoch_s,
        "faithful_train_samples_per_s": len(train) / faithful_s if faithful_s else None,
        "test_eval_s": forward_s,
        "forward_train_s": statistics.median(forward_train),
        "learning_steps_per_epoch": statistics.median(steps),
        "learning_s_per_epoch": learn_s,
        "us_per_learning_step": 1e6 * learn_s / max(statistics.median(steps), 1),
        "lane_additions_per_s": adds / forward_s,
        "simd_peak_lane_additions_per_s": peak,
        "simd_lanes": lanes,
        "clock_ghz": ghz,
        "events_per_sample": float(events.mean()),
        "mean_fan_out_of_active_receptor": float(slot_hits.sum() / max(events.sum(), 1)),
        "slot_reads_per_sample": float(slot_hits.mean()),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:34s} {v:,.2f}" if isinstance(v, float) else f"{k:34s} {v}")


if __name__ == "__main__":
    main()
