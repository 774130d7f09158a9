"""Pre-imported by the test fork server (tests/forkserver.py): every module a command may load,
and every engine kernel run once on a tiny network, so that a forked `snnpipe` child starts
with nothing left to import or to load from numba's cache."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib.pyplot  # noqa: E402,F401
import numpy as np  # noqa: E402

import pipeline.cli  # noqa: E402,F401
from engine import Config  # noqa: E402
from engine.encoding import planes_from_pixels  # noqa: E402
from engine.trainer import Trainer  # noqa: E402
from pipeline import (  # noqa: E402,F401
    ablation,
    configuration,
    ensemble,
    evaluate,
    fetch,
    importer,
    plots,
    predict,
    preprocess,
    reproduce,
    sources,
    summary,
    sweep,
    tracking,
    train,
)


def _run_kernels() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (400, 784), dtype=np.uint8)
    labels = (np.arange(400) % 10).astype(np.uint8)
    program = {"quantilizer": "binary32", "generator": "glibc", "growth": "dpi-walk",
               "sampling": "redraw"}
    for extra in ({}, program, {"levels": (224, 192, 160, 128, 96, 64, 32, 1)},
                  {"anneal_steps": 10}):
        cfg = Config(neurons=4, **extra)
        planes = planes_from_pixels(pixels, cfg.levels)
        trainer = Trainer(cfg, seed=0)
        trainer.train_epoch(planes, pixels, labels)
        trainer.net.spike_counts(planes[:50])


_run_kernels()
READY = True
