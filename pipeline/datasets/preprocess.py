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
from pathlib import Path

import dask
import dask.array as da
import numpy as np

from snnpipe._version import version
from snnpipe.engine import Config, ConfigError
from snnpipe.engine.encoding import planes_from_pixels
from snnpipe.pipeline.datasets.sources import raw_source
from snnpipe.pipeline.errors import PipelineError
from snnpipe.stores import dataset as dataset_store
from snnpipe.stores.atomic import atomic_directory, recover
from snnpipe.stores.errors import StoreError
from snnpipe.stores.locks import exclusive
from snnpipe.stores.ownership import describe, enclosing_store, is_empty_folder, replaceable

DEFAULT_LEVELS = Config().levels


def validate_levels(levels: Sequence[int]) -> tuple[int, ...]:
    try:
        return Config(levels=tuple(levels)).levels
    except ConfigError as exc:
        raise PipelineError(str(exc)) from None


def default_store(data_dir: Path, dataset: str) -> Path:
    return Path(data_dir) / f"{dataset}.zarr"


def check_scheduler_address(address: str) -> str:
    """`tcp://host:port` (or `host:port`, `tls://...`): refused in one line before anything
    starts, instead of a traceback from deep inside distributed."""
    from urllib.parse import urlsplit
    text = address.strip()
    parts = urlsplit(text if "://" in text else f"tcp://{text}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("tcp", "tls", "ws", "wss") or not parts.hostname or not port:
        raise PipelineError(f"--scheduler {address!r}: expected a scheduler address with a "
                            "port, like tcp://127.0.0.1:8786")
    return text if "://" in text else f"tcp://{text}"


def connect(address: str, timeout: str = "10s"):
    """A dask.distributed Client of the scheduler at `address`, or one line naming it."""
    from distributed import Client
    address = check_scheduler_address(address)
    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise PipelineError(f"cannot reach the dask scheduler at {address} "
                            f"({type(exc).__name__}); start it (`dask scheduler`) or fix "
                            "--scheduler") from None


def levels_store(data_dir: Path, dataset: str, levels: Sequence[int]) -> Path:
    """Where a store with these levels lives: DATA_DIR/<dataset>.zarr for the default levels,
    DATA_DIR/<dataset>-levels-224-192-....zarr for any others (as sweeps name them)."""
    levels = tuple(levels)
    if levels == tuple(DEFAULT_LEVELS):
        return default_store(data_dir, dataset)
    return Path(data_dir) / f"{dataset}-levels-{'-'.join(map(str, levels))}.zarr"


@contextlib.contextmanager
def scheduler(address: str | None = None, workers: int | None = None) -> Iterator[str]:
    """Local threads by default; an existing cluster (`address`) or a new local one."""
    if address or workers:
        from distributed import Client, LocalCluster
        if address:
            with connect(address) as client:
                yield f"dask.distributed cluster at {address}"
                client.close()
        else:
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=":0") as cluster, Client(cluster):
                yield f"local dask.distributed cluster ({workers} workers)"
    else:
        with dask.config.set(scheduler="threads"):
            yield "dask threaded scheduler"


def _planes_block(block: np.ndarray, levels: tuple[int, ...]) -> np.ndarray:
    return planes_from_pixels(block, levels)


def build_graph(images: np.ndarray | da.Array, levels: tuple[int, ...]) -> da.Array:
    """Lazy (n, L, R) bool planes over chunks of images."""
    x = images if isinstance(images, da.Array) else da.from_array(
        images, chunks=(dataset_store.CHUNK_SAMPLES, images.shape[1]))
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
    rebuilt_because: str = ""      # why an existing store with the same inputs was rebuilt


def preprocess(dataset: str = "mnist", data_dir: Path = Path("data"),
               output: Path | None = None, levels: Sequence[int] = DEFAULT_LEVELS,
               force: bool = False, source: Path | None = None,
               scheduler_address: str | None = None, workers: int | None = None,
               fail_after_write=None) -> PreprocessResult:
    """Fetch (if needed) and write the store; a no-op when an identical one exists. The
    output is locked while it is built; a replace a kill interrupted is finished first."""
    levels = validate_levels(levels)
    if scheduler_address:
        check_scheduler_address(scheduler_address)
    if workers is not None and workers < 1:
        raise PipelineError(f"--workers {workers}: must be >= 1")
    out = Path(output) if output is not None else default_store(data_dir, dataset)
    if out.exists() and not out.is_dir():
        raise PipelineError(f"--output {out} is a file; pass a folder path for the store")
    check_output(out)
    with exclusive(out):
        recover(out)
        return _preprocess_locked(dataset, data_dir, out, levels, force, source,
                                  scheduler_address, workers, fail_after_write)


def check_output(out: Path) -> None:
    """preprocess writes (and with --force replaces) only a data set store: a run folder,
    the raw data folder, an import or anyone's files at OUT are refused, whatever --force
    says, in one line naming what is there; so is a path inside another store."""
    inside = enclosing_store(out)
    if inside is not None:
        raise PipelineError(f"--output {out} is inside {inside}, which holds "
                            f"{describe(inside)}; a store's folder holds only its own arrays: "
                            "choose another --output")
    if not replaceable(out, dataset_store.FORMAT):
        raise PipelineError(f"--output {out} holds {describe(out)}, not a data set store; "
                            "preprocess writes, and with --force replaces, only a store it "
                            "wrote: choose another --output")


def _preprocess_locked(dataset, data_dir, out, levels, force, source, scheduler_address,
                       workers, fail_after_write) -> PreprocessResult:
    raw = raw_source(dataset, data_dir, source)
    existing = dataset_store.read_attrs(out)
    because = ""
    if (existing and not force and existing.get("dataset") == dataset
            and tuple(existing.get("levels", ())) == levels
            and existing.get("checksums") == raw.checksums):
        try:      # up to date only if every chunk is there and matches its checksum
            if dataset_store.verify(out, existing, fix="rebuilding it"):
                return PreprocessResult(out, True, raw.source, 0.0, "", {})
            because = (f"{out} has no checksums (written by an older snnpipe); rebuilding it "
                       "with them")
        except StoreError as exc:
            because = str(exc)
    check_output(out)                  # again under the lock: what is there now
    if out.exists() and existing is None and not force and not is_empty_folder(out):
        raise PipelineError(f"{out} is an incomplete or damaged snnpipe data set store; "
                            "pass --force to replace it")
    start = time.perf_counter()
    splits = raw.splits
    with scheduler(scheduler_address, workers) as sched, \
            atomic_directory(out, replace=True) as tmp:
        arrays = dataset_store.create_layout(
            tmp, {k: len(v[1]) for k, v in splits.items()}, len(levels), raw.receptors)
        sources, targets = [], []
        for split, (images, labels) in splits.items():
            sources += [build_graph(images, levels), images, labels.rechunk(-1)]
            targets += [arrays[f"{split}/planes"], arrays[f"{split}/pixels"],
                        arrays[f"{split}/labels"]]
        da.store(sources, targets, lock=False)       # one graph, one compute
        if fail_after_write is not None:
            fail_after_write()                        # tests inject a crash here
        dataset_store.finalize(tmp, {
            "dataset": dataset, "levels": list(levels), "checksums": raw.checksums,
            "source": raw.source, "snnpipe_version": version,
            "created": datetime.now(UTC).isoformat(timespec="seconds"), "data": raw.info,
        })
    return PreprocessResult(out, False, raw.source, time.perf_counter() - start, sched,
                            {k: len(v[1]) for k, v in splits.items()}, because)
