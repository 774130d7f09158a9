"""Checkpoints: one zarr v3 group holding a trainer's full state. Never pickle.

Arrays: `receptors`, `weights` (columns, neurons, slots) in the smallest sufficient integer
types, `epoch_order` (the current epoch's permutation, for mid-epoch resume). Attributes:
format, config, trainer state (counters, quantilizers, RNG state), epoch, metrics, dataset,
levels, checksums (of the data set's source files), snnpipe version, and `integrity`: the
CRC-32C of every stored chunk of every array (format version 2), verified on load so a
missing or damaged chunk is refused instead of reading as zeros. Version 1 checkpoints (no
`integrity`) still load, checked for completeness only. Written to a temporary path, then
renamed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import zarr

from snnpipe._version import version
from snnpipe.engine import Config, ConfigError

from . import integrity
from .atomic import atomic_directory
from .errors import StoreError
from .ownership import CHECKPOINT_FORMAT

FORMAT = CHECKPOINT_FORMAT
FORMAT_VERSION = 2
READS = (1, 2)          # 1: before per-chunk checksums (loaded, checked for completeness)
ARRAYS = ("receptors", "weights", "epoch_order")


def smallest_int_dtype(lo: int, hi: int) -> np.dtype:
    for dt in (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return np.dtype(dt)
    return np.dtype(np.int64)


# Keys that checkpoints written before they moved to the training run's options still hold
# in their config (docs/integrity.md, "Fields that moved"): not the model's, so dropped here.
MOVED_TO_RUN = ("snapshots",)


def model_fields(config: dict) -> dict:
    """A stored config without the keys that moved to the run's options."""
    if not isinstance(config, dict):
        return config
    return {k: v for k, v in config.items() if k not in MOVED_TO_RUN}


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
    verified: bool = True     # False: a version-1 checkpoint (no checksums; complete)


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
        root.update_attributes({
            integrity.ATTR: integrity.digest_arrays(tmp, ARRAYS),
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "config": cfg.to_dict(), "state": state, "epoch": int(epoch),
            "metrics": metrics, "dataset": dataset, "levels": list(cfg.levels),
            "checksums": checksums, "snnpipe_version": version,
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
    version_ = attrs.get("format_version")
    if version_ not in READS or isinstance(version_, bool):
        raise StoreError(f"{path} has checkpoint format version {version_!r}; "
                         f"this snnpipe reads versions {', '.join(map(str, READS))}")
    _check_attribute_types(path, attrs)
    try:
        cfg = Config.from_dict(model_fields(attrs["config"]))
    except (ConfigError, KeyError, TypeError) as exc:
        raise StoreError(f"{path}: invalid config in checkpoint ({exc})") from None
    fix = "use another checkpoint (e.g. an epoch-NNNN.zarr of its run)"
    verified = integrity.verify_arrays(
        path, attrs.get(integrity.ATTR) if version_ >= 2 else None, ARRAYS, str(path), fix)
    shape = (cfg.columns, cfg.neurons, cfg.slots)
    arrays = {}
    try:
        for name in ARRAYS:
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
    w = arrays["weights"]
    if live.any() and (int(arrays["receptors"][live].max()) >= cfg.receptors
                       or int(arrays["receptors"][live].min()) < 0
                       or int(w.max()) >= cfg.spike_threshold       # Python ints: no
                       or -int(w.min()) >= cfg.spike_threshold):    # abs(int64 min) wrap
        raise StoreError(f"{path}: receptor or weight values out of range for its config")
    order = arrays["epoch_order"]
    if order.ndim != 1 or (order.size and not np.array_equal(np.sort(order),
                                                             np.arange(order.size))):
        raise StoreError(f"{path}: epoch_order is not a permutation of 0..n-1; the checkpoint "
                         "is corrupt (resume from another one, e.g. an epoch-NNNN.zarr)")
    if tuple(attrs.get("levels", ())) != cfg.levels:
        raise StoreError(f"{path}: levels attribute disagrees with its config")
    classes = attrs.get("classes")
    if classes is not None and len(classes) != cfg.columns:
        raise StoreError(f"{path}: {len(classes)} class labels for {cfg.columns} columns; "
                         "the checkpoint is corrupt (save the estimator again)")
    arrays["receptors"] = arrays["receptors"].astype(np.int32)
    arrays["weights"] = arrays["weights"].astype(cfg.weight_dtype)
    arrays["epoch_order"] = arrays["epoch_order"].astype(np.int64)
    return Checkpoint(path, cfg, arrays, attrs.get("state", {}), attrs.get("epoch", 0),
                      attrs.get("metrics", {}), attrs.get("dataset", ""), cfg.levels,
                      attrs.get("checksums", {}), attrs, verified)


_ATTR_TYPES: dict[str, tuple[type, str]] = {
    "config": (dict, "a table"), "state": (dict, "a table"), "metrics": (dict, "a table"),
    "dataset": (str, "a string"), "levels": (list, "a list"), "checksums": (dict, "a table"),
    "run": (dict, "a table"), "classes": (list, "a list"), "holdout": (dict, "a table"),
}


def _check_attribute_types(path: Path, attrs: dict) -> None:
    """Edited or damaged attributes are one StoreError line, never a traceback later."""
    epoch = attrs.get("epoch", 0)
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise StoreError(f"{path}: attribute epoch is {epoch!r}, not a count of epochs; the "
                         "checkpoint is corrupt (use another one)")
    for name, (kind, what) in _ATTR_TYPES.items():
        if name in attrs and not isinstance(attrs[name], kind):
            raise StoreError(f"{path}: attribute {name} is {type(attrs[name]).__name__}, not "
                             f"{what}; the checkpoint is corrupt (use another one)")
    classes = attrs.get("classes")
    if classes is not None and not all(isinstance(c, int | str) and not isinstance(c, bool)
                                       for c in classes):
        raise StoreError(f"{path}: attribute classes holds values that are not integers or "
                         "strings; the checkpoint is corrupt (save the estimator again)")


def save_estimator(path: Path, estimator, dataset: str = "",
                   checksums: dict | None = None) -> Path:
    """A fitted `snnpipe.engine.estimator.SONNClassifier` as a checkpoint (`snnpipe eval` and
    `snnpipe predict` read it; `dataset` names the store it belongs to, if any)."""
    if not hasattr(estimator, "trainer_"):
        from sklearn.exceptions import NotFittedError
        raise NotFittedError("this SONNClassifier is not fitted yet; call fit before "
                             "save_estimator")
    trainer = estimator.trainer_
    classes = estimator.classes_.tolist()
    if not all(isinstance(c, int | str) and not isinstance(c, bool) for c in classes):
        raise StoreError("only integer or string class labels can be saved in a checkpoint")
    return save(path, trainer.cfg, trainer.state_arrays(), trainer.state_dict(),
                trainer.state.epoch, {}, dataset, checksums or {}, {"classes": classes})


def load_estimator(path: Path):
    """Any checkpoint (from `train`, `reproduce` or `save_estimator`) as a fitted
    SONNClassifier; a checkpoint without class labels gets 0..columns-1."""
    from snnpipe.engine.estimator import SONNClassifier
    from snnpipe.engine.trainer import Trainer
    cp = load(path)
    try:
        trainer = Trainer.from_state(cp.cfg, cp.arrays, cp.state)
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"{path}: trainer state in checkpoint is invalid ({exc})") from None
    classes = cp.attrs.get("classes", list(range(cp.cfg.columns)))
    return SONNClassifier.from_trainer(trainer, classes)
