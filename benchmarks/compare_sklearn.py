"""SONNClassifier next to scikit-learn's LogisticRegression and RandomForestClassifier on the
same split (MNIST or Fashion-MNIST: 60,000 train / 10,000 test images, intensities 0..255):
test accuracy and fit time. A tie at the top counts as a miss for the SONN (its `score`).

    python benchmarks/compare_sklearn.py [--sonn-samples 1800000]
    python benchmarks/compare_sklearn.py --store data/fashion-mnist.zarr --models logreg,forest
    python benchmarks/compare_sklearn.py --dataset digits --models logreg,forest

`--dataset NAME` reads DATA_DIR/NAME.zarr (the store `snnpipe preprocess --dataset NAME`
writes): the same split the SONN is trained and tested on.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler  # noqa: E402

from snnpipe.engine.estimator import SONNClassifier  # noqa: E402
from snnpipe.stores.dataset import open_dataset  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sonn-samples", type=int, default=1_800_000)
    ap.add_argument("--store", default=None, help="a store path (default data/mnist.zarr)")
    ap.add_argument("--dataset", default=None,
                    help="read data/NAME.zarr (e.g. digits, or a NAME you imported)")
    ap.add_argument("--data-dir", default=str(ROOT / "data"))
    ap.add_argument("--models", default="sonn,logreg,forest",
                    help="comma-separated subset of sonn, logreg, forest")
    args = ap.parse_args()
    chosen = args.models.split(",")
    if set(chosen) - {"sonn", "logreg", "forest"}:
        ap.error(f"--models {args.models}: choose from sonn, logreg, forest")
    if args.store and args.dataset:
        ap.error("give --store or --dataset, not both")
    store = args.store or Path(args.data_dir) / f"{args.dataset or 'mnist'}.zarr"
    ds = open_dataset(Path(store), hint=f"snnpipe preprocess --dataset {args.dataset or 'mnist'}")
    train, test = ds.load("train"), ds.load("test")
    models = {
        "sonn": (f"SONNClassifier (default config, {args.sonn_samples:,} samples, seed 0)",
                 SONNClassifier(max_samples=args.sonn_samples, random_state=0)),
        "logreg": ("LogisticRegression (pixels / 255, max_iter=200)",
                   make_pipeline(MinMaxScaler(), LogisticRegression(max_iter=200))),
        "forest": ("RandomForestClassifier (100 trees, 2 jobs, seed 0)",
                   RandomForestClassifier(n_estimators=100, n_jobs=2, random_state=0)),
    }
    print("| model | test accuracy | fit time (s) |")
    print("|---|---:|---:|")
    for name, model in (models[key] for key in chosen):
        start = time.perf_counter()
        model.fit(train.pixels, train.labels)
        seconds = time.perf_counter() - start
        acc = model.score(test.pixels, test.labels)
        print(f"| {name} | {100 * acc:.2f} % | {seconds:,.1f} |", flush=True)


if __name__ == "__main__":
    main()
