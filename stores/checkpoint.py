"""Checkpoints: one zarr v3 group holding a trainer's full state. Never pickle.

Arrays: `receptors`, `weights` (columns, neurons, slots) in the smallest sufficient integer
types, `epoch_order` (the current epoch's permutation, for mid-epoch resume). Attributes:
format, config, trainer state (counters, quantilizers, RNG state), epoch, metrics, dataset,
levels, checksums, snnpipe version. Written to a temporary path, then renamed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import numpy as np
import zarr

from engine import Config, ConfigError

from .atomic import atomic_directory
from .errors import StoreError

FORMAT = "snnpipe-checkpoint"
FORMAT_VERSION = 1


def smallest_int_dtype(lo: int, hi: int) -> np.dtype:
    for dt in (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return np.dtype(dt)
    return np.dtype(np.int64)


@dataclass
class Checkpoint:
    path: Path
    cfg: Config
    arrays: dict[str, np.ndarray]
    state: dict
    epoch: int
    metrics: dict
    dataset: str
    levels: tuple[int, ...]
    checksums: dict
    attrs: dict


def save(path: Path, cfg: Config, arrays: dict[str, np.ndarray], state: dict, epoch: int,
         metrics: dict, dataset: str, checksums: dict, extra: dict | None = None) -> Path:
    """Write a checkpoint atomically (replacing any previous one at `path`). `extra`:
    more JSON attributes (an estimator's `classes`)."""
    path = Path(path)
    with atomic_directory(path, replace=True) as tmp:
        root = zarr.open_group(str(tmp), mode="w", zarr_format=3)
        rec = arrays["receptors"]
        w = arrays["weights"]
        order = arrays.get("epoch_order", np.zeros(0, np.int64))
        for name, arr, dt in (
            ("receptors", rec, smallest_int_dtype(0, max(cfg.receptors - 1, 0))),
            ("weights", w, smallest_int_dtype(-cfg.spike_threshold, cfg.spike_threshold)),
            ("epoch_order", order, smallest_int_dtype(0, max(int(order.max(initial=0)), 0))),
        ):
            a = root.create_array(name, shape=arr.shape, dtype=dt,
                                  chunks=arr.shape if arr.size else (1,) * arr.ndim)
            if arr.size:
                a[...] = arr.astype(dt)
        root.attrs.update({
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "config": cfg.to_dict(), "state": state, "epoch": int(epoch),
            "metrics": metrics, "dataset": dataset, "levels": list(cfg.levels),
            "checksums": checksums, "snnpipe_version": version("snnpipe"),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            **(extra or {}),
        })
    return path


def load(path: Path) -> Checkpoint:
    """Read and validate a checkpoint; any problem is one StoreError line."""
    path = Path(path)
    if not path.exists():
        raise StoreError(f"no checkpoint at {path}")
    try:
        root = zarr.open_group(str(path), mode="r")
        attrs = dict(root.attrs)
    except Exception as exc:
        raise StoreError(f"{path} is not a readable zarr checkpoint ({type(exc).__name__})"
                         ) from None
    if attrs.get("format") != FORMAT:
        raise StoreError(f"{path} is not an snnpipe checkpoint (format "
                         f"{attrs.get('format')!r}); point at a RUN_DIR/checkpoints/*.zarr")
    if attrs.get("format_version") != FORMAT_VERSION:
        raise StoreError(f"{path} has checkpoint format version {attrs.get('format_version')}; "
                         f"this snnpipe reads version {FORMAT_VERSION}")
    try:
        cfg = Config.from_dict(attrs["config"])
    except (ConfigError, KeyError, TypeError) as exc:
        raise StoreError(f"{path}: invalid config in checkpoint ({exc})") from None
    shape = (cfg.columns, cfg.neurons, cfg.slots)
    arrays = {}
    try:
        for name in ("receptors", "weights", "epoch_order"):
            a = root[name]
            arrays[name] = a[...] if a.size else np.zeros(a.shape, a.dtype)
    except Exception as exc:
        raise StoreError(f"{path}: checkpoint is corrupt or incomplete "
                         f"({type(exc).__name__}: {exc})".splitlines()[0]) from None
    for name in ("receptors", "weights"):
        a = arrays[name]
        if a.shape != shape or not np.issubdtype(a.dtype, np.integer):
            raise StoreError(f"{path}: {name} has shape {a.shape} / dtype {a.dtype}, "
                             f"expected integer {shape} for its config")
    live = arrays["weights"] != 0
    if live.any() and (arrays["receptors"][live].max() >= cfg.receptors
                       or arrays["receptors"][live].min() < 0
                       or np.abs(arrays["weights"].astype(np.int64)).max()
                       >= cfg.spike_threshold):
        raise StoreError(f"{path}: receptor or weight values out of range for its config")
    order = arrays["epoch_order"]
    if order.ndim != 1 or (order.size and not np.array_equal(np.sort(order),
                                                             np.arange(order.size))):
        raise StoreError(f"{path}: epoch_order is not a permutation of 0..n-1; the checkpoint "
                         "is corrupt (resume from another one, e.g. an epoch-NNNN.zarr)")
    if tuple(attrs.get("levels", ())) != cfg.levels:
        raise StoreError(f"{path}: levels attribute disagrees with its config")
    arrays["receptors"] = arrays["receptors"].astype(np.int32)
    arrays["weights"] = arrays["weights"].astype(cfg.weight_dtype)
    arrays["epoch_order"] = arrays["epoch_order"].astype(np.int64)
    return Checkpoint(path, cfg, arrays, attrs.get("state", {}), int(attrs.get("epoch", 0)),
                      attrs.get("metrics", {}), attrs.get("dataset", ""), cfg.levels,
                      attrs.get("checksums", {}), attrs)


def save_estimator(path: Path, estimator, dataset: str = "",
                   checksums: dict | None = None) -> Path:
    """A fitted `engine.estimator.SONNClassifier` as a checkpoint (`snnpipe eval` and
    `snnpipe predict` read it; `dataset` names the store it belongs to, if any)."""
    trainer = estimator.trainer_
    classes = estimator.classes_.tolist()
    if not all(isinstance(c, int | str) and not isinstance(c, bool) for c in classes):
        raise StoreError("only integer or string class labels can be saved in a checkpoint")
    return save(path, trainer.cfg, trainer.state_arrays(), trainer.state_dict(),
                trainer.state.epoch, {}, dataset, checksums or {}, {"classes": classes})


def load_estimator(path: Path):
    """Any checkpoint (from `train`, `reproduce` or `save_estimator`) as a fitted
    SONNClassifier; a checkpoint without class labels gets 0..columns-1."""
    from engine.estimator import SONNClassifier
    from engine.trainer import Trainer
    cp = load(path)
    try:
        trainer = Trainer.from_state(cp.cfg, cp.arrays, cp.state)
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"{path}: trainer state in checkpoint is invalid ({exc})") from None
    classes = cp.attrs.get("classes", list(range(cp.cfg.columns)))
    return SONNClassifier.from_trainer(trainer, classes)
