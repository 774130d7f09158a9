"""What a data set name means: the raw data behind it, as lazy Dask arrays per split.

Three kinds, one shape of answer, so the preprocess graph is the same for every source:
- `mnist`, `fashion-mnist`: the IDX files of the raw cache (snnpipe.pipeline.datasets.fetch);
- `digits`: scikit-learn's bundled 8 x 8 digits, written once to DATA_DIR/raw/digits.zarr;
- any other name: a data set `snnpipe import` wrote to DATA_DIR/raw/NAME.zarr.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dask.array as da

from snnpipe.pipeline.datasets.fetch import DATASETS as IDX_DATASETS
from snnpipe.pipeline.datasets.fetch import fetch
from snnpipe.pipeline.datasets.idx import idx_array
from snnpipe.pipeline.datasets.importer import to_raw
from snnpipe.pipeline.datasets.names import BUILTIN, NAME_RE
from snnpipe.pipeline.datasets.readers import read_digits
from snnpipe.pipeline.errors import PipelineError
from snnpipe.stores import rawstore
from snnpipe.stores.errors import StoreError

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]
# How each built-in data set was made, for `predict` (imports record their own).
BUILTIN_INFO = {
    "mnist": {"image_shape": [28, 28], "color": "gray", "prepare": "centre",
              "class_names": [str(i) for i in range(10)]},
    "fashion-mnist": {"image_shape": [28, 28], "color": "gray", "prepare": "centre",
                      "class_names": FASHION_CLASSES},
    "digits": {"image_shape": [8, 8], "color": "gray", "prepare": "centre",
               "class_names": [str(i) for i in range(10)]},
}


def data_info(attrs: dict) -> dict:
    """The part of a store's attributes that says what its images are."""
    keys = ("image_shape", "color", "prepare", "class_names")
    return {k: attrs[k] for k in keys if k in attrs}


def ensure_digits(data_dir: Path) -> tuple[Path, dict, str]:
    """Write DATA_DIR/raw/digits.zarr from scikit-learn if it is missing or differs."""
    path = rawstore.raw_path(data_dir, "digits")
    raw = to_raw(read_digits(), "gray", BUILTIN_INFO["digits"]["prepare"])
    existing = rawstore.read_attrs(path)
    if existing and existing.get("digest") == rawstore.digest(raw):
        try:
            if rawstore.verify(path, existing, "rewriting it"):
                return path, existing, f"cache {path}"
        except StoreError:
            pass                               # damaged on disk: written again below
    attrs = rawstore.write(path, "digits", raw, replace=True, keep_identical=True)
    return path, attrs, "scikit-learn's bundled digits (no download)"


@dataclass
class RawSource:
    """Lazy (n, receptors) uint8 images and (n,) uint8 labels per split, and their record."""

    splits: dict[str, tuple[da.Array, da.Array]]
    checksums: dict[str, str]
    source: str
    receptors: int
    info: dict


def _from_raw_store(name: str, path: Path, attrs: dict, origin: str) -> RawSource:
    source = attrs.get("source_path", "PATH")
    fix = ("write it again with `snnpipe fetch --dataset digits`" if name == "digits" else
           f"import it again with `snnpipe import {name} {source} --force"
           + ("" if path.parent.parent == Path("data") else f" --data-dir {path.parent.parent}")
           + "`")
    try:
        rawstore.verify(path, attrs, fix)
    except StoreError as exc:
        raise PipelineError(str(exc)) from None
    splits = {}
    for split in rawstore.SPLITS:
        x = da.from_zarr(str(path), component=f"{split}/pixels")
        y = da.from_zarr(str(path), component=f"{split}/labels")
        splits[split] = (x, y)
    return RawSource(splits, {f"{name}.raw": attrs["digest"]}, origin,
                     int(attrs["receptors"]), data_info(attrs))


def raw_source(dataset: str, data_dir: Path, source: Path | None) -> RawSource:
    """The raw data of `dataset`, fetching or writing it first if needed."""
    if dataset in IDX_DATASETS:
        raw = fetch(dataset, data_dir, source)
        files = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                           raw.train_labels),
                 "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
                          raw.test_labels)}
        width = raw.train_images.shape[1]
        splits = {split: (idx_array(raw.folder / img, 16, len(lab), width),
                          idx_array(raw.folder / lbl, 8, len(lab), 1))
                  for split, (img, lbl, lab) in files.items()}
        return RawSource(splits, raw.checksums, raw.source, width, dict(BUILTIN_INFO[dataset]))
    if source is not None:
        raise PipelineError(f"--source is for the IDX data sets ({', '.join(IDX_DATASETS)}); "
                            f"{dataset} is read from {rawstore.raw_path(data_dir, dataset)}")
    if dataset == "digits":
        path, attrs, origin = ensure_digits(data_dir)
        return _from_raw_store(dataset, path, attrs, origin)
    if not NAME_RE.fullmatch(dataset) or ".." in dataset:
        raise PipelineError(f"unknown dataset {dataset!r}; choose one of "
                            f"{', '.join(BUILTIN)} or a name given to `snnpipe import`")
    path = rawstore.raw_path(data_dir, dataset)
    if not path.exists():
        raise PipelineError(f"unknown dataset {dataset!r}: nothing imported under that name "
                            f"in {data_dir} (built in: {', '.join(BUILTIN)}); import it with "
                            f"`snnpipe import {dataset} PATH`")
    try:
        attrs = rawstore.open_raw(path, dataset)
    except StoreError as exc:
        raise PipelineError(str(exc)) from None
    return _from_raw_store(dataset, path, attrs, f"import {path}")



def fetch_line(dataset: str, data_dir: Path, source: Path | None) -> str:
    """`snnpipe fetch`: get the raw data of `dataset` and say in one line what was done."""
    if dataset == "digits":
        if source is not None:
            raise PipelineError("--source is for the IDX data sets; digits comes with "
                                "scikit-learn")
        path, attrs, origin = ensure_digits(data_dir)
        import zarr
        g = zarr.open_group(str(path), mode="r")
        return (f"digits: {g['train/labels'].shape[0]} train + {g['test/labels'].shape[0]} "
                f"test images (8 x 8), from {origin}, in {path}")
    if dataset in IDX_DATASETS:
        raw = fetch(dataset, data_dir, source)
        return (f"{dataset}: {len(raw.train_labels)} train + {len(raw.test_labels)} test "
                f"images, checksums verified, from {raw.source}")
    path = rawstore.raw_path(data_dir, dataset)
    if rawstore.read_attrs(path) is None:
        raise PipelineError(f"unknown dataset {dataset!r}; choose one of {', '.join(BUILTIN)}"
                            f", or import yours with `snnpipe import {dataset} PATH`")
    return f"{dataset}: imported data set in {path}; nothing to fetch"
