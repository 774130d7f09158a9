"""Pre-imported by the test fork server (tests/forkserver.py): every module a command may
load, and every engine kernel run once, so that a forked `snnpipe` child starts with nothing
left to import or to load from numba's cache.

The simplest complete list of "what a command loads" is what the commands load: so this
runs each stage once, in this process, on scikit-learn's small digits in a temporary
folder (nothing is written anywhere else), plus each engine variant on random images.
"""

import os
import tempfile
import threading
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import distributed  # noqa: E402,F401  (sweeps start a LocalCluster)
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from snnpipe.engine import Config  # noqa: E402
from snnpipe.engine.encoding import planes_from_pixels  # noqa: E402
from snnpipe.engine.trainer import Trainer  # noqa: E402
from snnpipe.pipeline.cli import app  # noqa: E402


def _run_kernels() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (400, 784), dtype=np.uint8)
    labels = (np.arange(400) % 10).astype(np.uint8)
    program = {"quantilizer": "binary32", "generator": "glibc", "growth": "dpi-walk",
               "sampling": "redraw"}
    for extra in ({}, program, {"levels": (224, 192, 160, 128, 96, 64, 32, 1)},
                  {"anneal_steps": 10}, {"sampling": "independent"}):
        cfg = Config(neurons=4, **extra)
        planes = planes_from_pixels(pixels, cfg.levels)
        trainer = Trainer(cfg, seed=0)
        trainer.train_epoch(planes, pixels, labels)
        trainer.net.spike_counts(planes[:50])


def _run_stages() -> None:
    runner = CliRunner()
    with tempfile.TemporaryDirectory(prefix="snnpipe-warm-") as tmp:
        t = Path(tmp)
        data = ["--data-dir", str(t / "data")]
        rng = np.random.default_rng(0)
        np.savez(t / "a.npz", x_train=rng.integers(0, 256, (300, 4, 4), dtype=np.uint8),
                 y_train=np.arange(300) % 3, x_test=rng.integers(0, 256, (90, 4, 4),
                                                                 dtype=np.uint8),
                 y_test=np.arange(90) % 3)
        Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(t / "d.png")
        run = t / "run"
        last = run / "checkpoints" / "last.zarr"
        for args in (["preprocess", "--dataset", "digits", *data],
                     ["train", "--dataset", "digits", "--epochs", "1", "--set", "neurons=4",
                      "--set", "snapshots=1", "--run-dir", str(run), *data],
                     ["eval", str(run), *data],
                     ["plot", str(run), "--output", str(t / "plots")],
                     ["import", "mine", str(t / "a.npz"), *data],
                     ["ensemble", str(t / "e.zarr"), str(last), str(last)],
                     ["predict", str(last), str(t / "d.png"), *data],
                     ["reproduce", "--dataset", "digits", "--set", "neurons=4",
                      "--max-samples", "400", "--run-dir", str(t / "rp"), *data],
                     ["config", "show"], ["--help"]):
            runner.invoke(app, args, env={"WANDB_MODE": "disabled"})


def _stop_threads() -> None:
    """A fork copies only the calling thread: a pool whose workers stay behind in this
    process would hang every child that uses it. (zarr and fsspec reset theirs after a
    fork by themselves; numba's workqueue layer restarts its own.)"""
    import dask.threaded
    if dask.threaded.default_pool is not None:
        dask.threaded.default_pool.shutdown(wait=True)
        dask.threaded.default_pool = None
    dask.threaded.pools.clear()
    import zarr.core.sync as zarr_sync
    zarr_loop = zarr_sync.loop[0]
    zarr_threads = {*zarr_sync.iothread, *getattr(getattr(zarr_loop, "_default_executor", None),
                                                    "_threads", ())}
    alive = [t.name for t in threading.enumerate()
             if t is not threading.main_thread() and t not in zarr_threads]
    if alive:
        raise RuntimeError(f"threads left running before the fork server forks: {alive}")


_run_kernels()
_run_stages()
_stop_threads()
READY = True
