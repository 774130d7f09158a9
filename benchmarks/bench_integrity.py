"""Cost of the integrity checks: verifying every chunk's checksum as a share of
loading the data set store and a dpi-98.9-sized checkpoint.

    python benchmarks/bench_integrity.py [--repeats 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from snnpipe.engine import Config  # noqa: E402
from snnpipe.pipeline.datasets.preprocess import preprocess  # noqa: E402
from snnpipe.stores import checkpoint as ckpt  # noqa: E402
from snnpipe.stores import dataset as dataset_store  # noqa: E402
from snnpipe.stores import integrity  # noqa: E402


def _median(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    store = preprocess("mnist", ROOT / "data").path
    ds = dataset_store.open_dataset(store)
    load = _median(lambda: (ds.load("train"), ds.load("test")), args.repeats)
    verify = _median(lambda: dataset_store.verify(store, ds.attrs), args.repeats)
    real = ROOT / "docs/reproduce-98.9/checkpoints/last.zarr"   # a trained dpi-98.9 network
    if real.exists():
        cp = ckpt.load(real)
        cfg, arrays = cp.cfg, cp.arrays
    else:                                                        # random, same size
        cfg = Config.preset("dpi-98.9")
        rng = np.random.default_rng(0)
        shape = (cfg.columns, cfg.neurons, cfg.slots)
        arrays = {"receptors": rng.integers(0, cfg.receptors, shape),
                  "weights": rng.integers(-cfg.initial_weight, cfg.initial_weight, shape),
                  "epoch_order": rng.permutation(60_000)}
    with tempfile.TemporaryDirectory() as tmp:
        path = ckpt.save(Path(tmp) / "c.zarr", cfg, arrays, {}, 1, {}, "mnist", {})
        record = ckpt.load(path).attrs[integrity.ATTR]
        cp_load = _median(lambda: ckpt.load(path), args.repeats)
        cp_verify = _median(lambda: integrity.verify_arrays(path, record, ckpt.ARRAYS, "c",
                                                            ""), args.repeats)
    res = {"store_load_s": load, "store_verify_s": verify,
           "store_verify_share": verify / load, "checkpoint_load_s": cp_load,
           "checkpoint_verify_s": cp_verify, "checkpoint_verify_share": cp_verify / cp_load}
    print(json.dumps(res) if args.json else "\n".join(f"{k:26s} {v:.4f}"
                                                      for k, v in res.items()))


if __name__ == "__main__":
    main()
