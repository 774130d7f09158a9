"""Preprocessing speed: all 70,000 MNIST images to planes in zarr, raw files cached.

    python benchmarks/bench_preprocess.py [--repeats 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from snnpipe.pipeline.datasets.fetch import fetch  # noqa: E402
from snnpipe.pipeline.datasets.preprocess import preprocess  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    data_dir = ROOT / "data"
    fetch("mnist", data_dir)                       # make sure the raw cache is there
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "mnist.zarr"
        for _ in range(args.repeats):
            start = time.perf_counter()
            preprocess("mnist", data_dir, output=out, force=True)
            times.append(time.perf_counter() - start)
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    res = {"preprocess_median_s": statistics.median(times), "preprocess_min_s": min(times),
           "store_mib": size / 2**20}
    print(json.dumps(res) if args.json else "\n".join(f"{k:24s} {v:.2f}"
                                                        for k, v in res.items()))


if __name__ == "__main__":
    main()
