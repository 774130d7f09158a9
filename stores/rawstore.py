"""An imported data set before preprocessing: one zarr v3 group at DATA_DIR/raw/NAME.zarr.

Layout (per split `train`, `test`): `pixels` (n, receptors) uint8 and `labels` (n,) uint8.
Attributes: format, dataset, image_shape ([h, w] or [3, h, w] channel-major, or [d] for
flat arrays), color, class_names, prepare (how `predict` makes an image look like the data:
"centre" MNIST-style or "resize"), the SHA-256 of every source file, whether the files are
the official release, a SHA-256 `digest` of the content (what the preprocessed store and
checkpoints record as their checksum), `integrity` (the CRC-32C of every stored chunk, as
in snnpipe.stores.integrity, verified before the arrays are read, so a missing or damaged chunk is
refused instead of reading as zeros), and `complete: true`, written last. The store is
written under its lock into a temporary folder that is renamed into place only when whole.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import zarr

from . import integrity
from .atomic import atomic_directory, recover
from .dataset import bytes_compressor
from .errors import StoreError
from .locks import exclusive
from .ownership import RAW_FORMAT, describe, is_empty_folder, replaceable

FORMAT = RAW_FORMAT
SPLITS = ("train", "test")
CHUNK_SAMPLES = 10_000
ARRAYS = tuple(f"{split}/{a}" for split in SPLITS for a in ("pixels", "labels"))


@dataclass
class RawArrays:
    """What a reader produced: pixels (n, receptors) uint8 and labels (n,) uint8 per split,
    plus what the store records about them."""

    train_pixels: np.ndarray
    train_labels: np.ndarray
    test_pixels: np.ndarray
    test_labels: np.ndarray
    class_names: list[str]
    image_shape: list[int]
    color: str = "gray"
    prepare: str = "resize"
    sources: dict[str, str] = field(default_factory=dict)
    info: dict = field(default_factory=dict)      # format, official, split, ...

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return getattr(self, f"{name}_pixels"), getattr(self, f"{name}_labels")


def raw_path(data_dir: Path, name: str) -> Path:
    return Path(data_dir) / "raw" / f"{name}.zarr"


def digest(raw: RawArrays) -> str:
    """SHA-256 over every array and the shape/class metadata: equal digests, equal data."""
    h = hashlib.sha256()
    h.update(json.dumps({"class_names": raw.class_names, "image_shape": raw.image_shape,
                         "color": raw.color}, sort_keys=True).encode())
    for split in SPLITS:
        x, y = raw.split(split)
        h.update(f"{split} {x.shape} {y.shape}".encode())
        h.update(np.ascontiguousarray(x, np.uint8).tobytes())
        h.update(np.ascontiguousarray(y, np.uint8).tobytes())
    return h.hexdigest()


def write(path: Path, name: str, raw: RawArrays, replace: bool,
          keep_identical: bool = False) -> dict:
    """Write the raw store atomically under its lock; refuse to replace unless `replace`.
    With `keep_identical`, a whole store with the same attributes is kept as it is (a
    writer that waited for another one writing the same data). Returns the attributes."""
    path = Path(path)
    with exclusive(path):
        recover(path)
        check_replaceable(path)
        if path.exists() and not is_empty_folder(path) and not replace:
            raise StoreError(f"a data set named {name!r} already exists ({path}); pass "
                             "--force to replace it, or choose another NAME")
        attrs = {"dataset": name, "image_shape": list(raw.image_shape), "color": raw.color,
                 "class_names": list(raw.class_names), "prepare": raw.prepare,
                 "receptors": int(raw.train_pixels.shape[1]), "sources": dict(raw.sources),
                 **raw.info, "digest": digest(raw)}
        existing = read_attrs(path) if keep_identical else None
        if existing and all(existing.get(k) == v for k, v in attrs.items()):
            try:
                if verify(path, existing, ""):
                    return existing
            except StoreError:
                pass                                   # damaged: written again below
        with atomic_directory(path, replace=True) as tmp:
            root = zarr.open_group(str(tmp), mode="w", zarr_format=3)
            for split in SPLITS:
                x, y = raw.split(split)
                g = root.create_group(split)
                chunk = min(CHUNK_SAMPLES, max(len(y), 1))
                g.create_array("pixels", shape=x.shape, chunks=(chunk, x.shape[1]),
                               dtype="uint8", compressors=bytes_compressor())[...] = x
                g.create_array("labels", shape=y.shape, chunks=(max(len(y), 1),),
                               dtype="uint8", compressors=bytes_compressor())[...] = y
            record = integrity.digest_arrays(tmp, ARRAYS)
            root.update_attributes({**attrs, "format": FORMAT, integrity.ATTR: record})
            root.attrs["complete"] = True
    return {**attrs, integrity.ATTR: record}


def check_replaceable(path: Path) -> None:
    """Only an imported data set is replaced at DATA_DIR/raw/NAME.zarr (with --force):
    anything else there is refused in one line saying what it holds."""
    if not replaceable(path, FORMAT):
        raise StoreError(f"{path} holds {describe(path)}, not an imported data set; "
                         "`snnpipe import --force` replaces only a data set it imported: move "
                         "that folder away, or choose another NAME")


def read_attrs(path: Path) -> dict | None:
    """The attributes of a complete raw store, or None when there is none."""
    path = Path(path)
    if not (path / "zarr.json").is_file():
        return None
    try:
        attrs = dict(zarr.open_group(str(path), mode="r").attrs)
    except Exception:
        return None
    return attrs if attrs.get("complete") and attrs.get("format") == FORMAT else None


def open_raw(path: Path, name: str) -> dict:
    """Finish an interrupted replace, then return the attributes of the complete store at
    `path`, or fail in one line saying how to make it."""
    path = Path(path)
    if path.parent.is_dir():
        with exclusive(path):
            recover(path)
    attrs = read_attrs(path)
    if attrs is None:
        hint = ("snnpipe fetch --dataset digits" if name == "digits"
                else f"snnpipe import {name} PATH")
        what = "is not a complete snnpipe data set" if path.exists() else "does not exist"
        raise StoreError(f"data set {name!r}: {path} {what}; create it with `{hint}`")
    return attrs



def verify(path: Path, attrs: dict, fix: str) -> bool:
    """Check the store's arrays against its checksums (one written before they existed only
    for completeness: returns False). One StoreError naming what is wrong and `fix`."""
    return integrity.verify_arrays(Path(path), attrs.get(integrity.ATTR), ARRAYS,
                                   f"data set {attrs.get('dataset', Path(path).stem)!r} "
                                   f"({path})", fix)
