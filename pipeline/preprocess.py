"""The preprocessing stage: raw images -> intensity planes in a zarr v3 store, with Dask.

One Dask graph maps every chunk of images to its planes (`pixel >= level`, brightest
first) and stores planes, pixels and labels of both splits in one compute, straight into
a temporary store that is renamed into place only when complete.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import dask
import dask.array as da
import numpy as np

from engine import Config, ConfigError
from engine.encoding import planes_from_pixels
from stores import dataset as dataset_store
from stores.atomic import atomic_directory, remove_stale_temporaries

from .errors import PipelineError
from .fetch import fetch

DEFAULT_LEVELS = Config().levels


def validate_levels(levels: Sequence[int]) -> tuple[int, ...]:
    try:
        return Config(levels=tuple(levels)).levels
    except ConfigError as exc:
        raise PipelineError(str(exc)) from None


def default_store(data_dir: Path, dataset: str) -> Path:
    return Path(data_dir) / f"{dataset}.zarr"


@contextlib.contextmanager
def scheduler(address: str | None = None, workers: int | None = None) -> Iterator[str]:
    """Local threads by default; an existing cluster (`address`) or a new local one."""
    if address or workers:
        from distributed import Client, LocalCluster
        if address:
            with Client(address, timeout="10s") as client:
                yield f"dask.distributed cluster at {address}"
                client.close()
        else:
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster):
                yield f"local dask.distributed cluster ({workers} workers)"
    else:
        with dask.config.set(scheduler="threads"):
            yield "dask threaded scheduler"


def _planes_block(block: np.ndarray, levels: tuple[int, ...]) -> np.ndarray:
    return planes_from_pixels(block, levels)


def build_graph(images: np.ndarray, levels: tuple[int, ...]) -> da.Array:
    """Lazy (n, L, R) bool planes over chunks of images."""
    x = da.from_array(images, chunks=(dataset_store.CHUNK_SAMPLES, images.shape[1]))
    return x.map_blocks(_planes_block, levels, dtype=bool, new_axis=1,
                        chunks=(x.chunks[0], (len(levels),), x.chunks[1]))


@dataclass
class PreprocessResult:
    path: Path
    up_to_date: bool
    source: str
    seconds: float
    scheduler: str
    sizes: dict[str, int]


def preprocess(dataset: str = "mnist", data_dir: Path = Path("data"),
               output: Path | None = None, levels: Sequence[int] = DEFAULT_LEVELS,
               force: bool = False, source: Path | None = None,
               scheduler_address: str | None = None, workers: int | None = None,
               fail_after_write=None) -> PreprocessResult:
    """Fetch (if needed) and write the store; a no-op when an identical one exists."""
    levels = validate_levels(levels)
    out = Path(output) if output is not None else default_store(data_dir, dataset)
    remove_stale_temporaries(out)
    raw = fetch(dataset, data_dir, source)
    existing = dataset_store.read_attrs(out)
    if (existing and not force and existing.get("dataset") == dataset
            and tuple(existing.get("levels", ())) == levels
            and existing.get("checksums") == raw.checksums):
        return PreprocessResult(out, True, raw.source, 0.0, "", {})
    if out.exists() and existing is None and not force:
        raise PipelineError(f"{out} exists but is not a complete snnpipe store; "
                            "pass --force to replace it")
    start = time.perf_counter()
    splits = {"train": (raw.train_images, raw.train_labels),
              "test": (raw.test_images, raw.test_labels)}
    with scheduler(scheduler_address, workers) as sched, \
            atomic_directory(out, replace=True) as tmp:
        arrays = dataset_store.create_layout(
            tmp, {k: len(v[1]) for k, v in splits.items()}, len(levels), raw.train_images.shape[1])
        sources, targets = [], []
        for split, (images, labels) in splits.items():
            sources += [build_graph(images, levels),
                        da.from_array(images, chunks=(dataset_store.CHUNK_SAMPLES, -1)),
                        da.from_array(labels, chunks=-1)]
            targets += [arrays[f"{split}/planes"], arrays[f"{split}/pixels"],
                        arrays[f"{split}/labels"]]
        da.store(sources, targets, lock=False)       # one graph, one compute
        if fail_after_write is not None:
            fail_after_write()                        # tests inject a crash here
        dataset_store.finalize(tmp, {
            "dataset": dataset, "levels": list(levels), "checksums": raw.checksums,
            "source": raw.source, "snnpipe_version": version("snnpipe"),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        })
    return PreprocessResult(out, False, raw.source, time.perf_counter() - start, sched,
                            {k: len(v[1]) for k, v in splits.items()})
