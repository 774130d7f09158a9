"""Would a column-gain correction at decision time help? Measured after the fact on a
trained checkpoint (docs/variants.md, "Measured and not adopted"): the vote as D𝜋 takes
it (raw spike counts) against counts divided by each column's mean, z-scores, and counts
minus each column's mean on other classes' images. The column statistics come from the
first 20,000 training images; scores on validation (the last 10,000 training images, held
out when the checkpoint was trained with --validation 10000) and test.

    python benchmarks/vote_normalisation.py docs/fashion/best/best.zarr \
        --store data/fashion-mnist-levels-224-192-160-128-96-64-32-1.zarr
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from snnpipe.engine.network import Network  # noqa: E402
from snnpipe.engine.trainer import decided_correct  # noqa: E402
from snnpipe.pipeline.results.evaluate import spike_counts  # noqa: E402
from snnpipe.stores.checkpoint import load  # noqa: E402
from snnpipe.stores.dataset import open_dataset  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--store", type=Path, required=True)
    args = ap.parse_args()
    cp = load(args.checkpoint)
    net = Network.from_arrays(cp.cfg, cp.arrays["receptors"], cp.arrays["weights"])
    ds = open_dataset(args.store)
    train, test = ds.load("train"), ds.load("test")
    fit = train.head(20_000)
    val = train.split_off(10_000)[1]
    (fit_c, _), (val_c, _), (test_c, _) = (spike_counts(net, s) for s in (fit, val, test))
    fit_y, val_y, test_y = fit.labels, val.labels, test.labels
    mean, sd = fit_c.mean(0), fit_c.std(0)
    other = np.array([fit_c[fit_y != j, j].mean() for j in range(cp.cfg.columns)])
    rules = {"raw counts (D𝜋)": lambda c: c, "counts / column mean": lambda c: c / mean,
             "z-score per column": lambda c: (c - mean) / sd,
             "counts - mean on other classes": lambda c: c - other}
    print(f"{'vote':34s} {'validation %':>13s} {'test %':>8s}")
    for name, rule in rules.items():
        v, t = (100 * decided_correct(rule(c), y.astype(np.int64))[0].mean()
                for c, y in ((val_c, val_y), (test_c, test_y)))
        print(f"{name:34s} {v:13.2f} {t:8.2f}")


if __name__ == "__main__":
    main()
