"""The preprocessed dataset store: one zarr v3 group per dataset, `train` and `test` inside.

Layout (per split): `planes` (samples, levels, 784) bool, `labels` (samples,) uint8,
`pixels` (samples, 784) uint8. Group attributes: format, levels, dataset, source checksums,
snnpipe version, creation time, `integrity` (the CRC-32C of every stored chunk, verified
before a split is read, so a missing or damaged chunk is refused instead of reading as
zeros), and `complete: true`, written last.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import BloscCodec, BloscShuffle

from . import integrity
from .errors import StoreError
from .ownership import DATASET_FORMAT, describe, replaceable

FORMAT = DATASET_FORMAT
SPLITS = ("train", "test")
ARRAYS = ("planes", "pixels", "labels")
CHUNK_SAMPLES = 10_000


def planes_compressor() -> BloscCodec:
    """Bool planes are bytes of 0/1: bit-shuffling packs them ~8x before zstd."""
    return BloscCodec(cname="zstd", clevel=3, shuffle=BloscShuffle.bitshuffle)


def bytes_compressor() -> BloscCodec:
    return BloscCodec(cname="zstd", clevel=3, shuffle=BloscShuffle.shuffle)


def create_layout(path: Path, sizes: dict[str, int], n_levels: int, receptors: int) -> dict:
    """Create the empty arrays of a new store at `path`; returns {"train/planes": array, ...}."""
    root = zarr.open_group(str(path), mode="w", zarr_format=3)
    arrays = {}
    for split, n in sizes.items():
        g = root.create_group(split)
        chunk = min(CHUNK_SAMPLES, max(n, 1))
        arrays[f"{split}/planes"] = g.create_array(
            "planes", shape=(n, n_levels, receptors), chunks=(chunk, n_levels, receptors),
            dtype="bool", compressors=planes_compressor())
        arrays[f"{split}/pixels"] = g.create_array(
            "pixels", shape=(n, receptors), chunks=(chunk, receptors), dtype="uint8",
            compressors=bytes_compressor())
        arrays[f"{split}/labels"] = g.create_array(
            "labels", shape=(n,), chunks=(max(n, 1),), dtype="uint8",
            compressors=bytes_compressor())
    return arrays


def finalize(path: Path, attrs: dict) -> None:
    """Write the attributes (checksums of every array's chunks included), `complete` last:
    a store without it is never trusted."""
    root = zarr.open_group(str(path), mode="r+")
    names = [f"{split}/{a}" for split in SPLITS if (Path(path) / split).is_dir()
             for a in ARRAYS]
    root.update_attributes({**attrs, "format": FORMAT,
                       integrity.ATTR: integrity.digest_arrays(path, names)})
    root.attrs["complete"] = True


def read_attrs(path: Path) -> dict | None:
    """The attributes of a complete store at `path`, or None when there is none."""
    if not Path(path).exists():
        return None
    try:
        attrs = dict(zarr.open_group(str(path), mode="r").attrs)
    except Exception:
        return None
    return attrs if attrs.get("complete") and attrs.get("format") == FORMAT else None


def verify(path: Path, attrs: dict, splits: tuple[str, ...] = SPLITS,
           fix: str = "rebuild it with `snnpipe preprocess --force`") -> bool:
    """Check the store's arrays against its checksums (a store without them, from an older
    snnpipe, only for completeness: returns False). One StoreError naming what is wrong."""
    names = [f"{split}/{a}" for split in splits for a in ARRAYS]
    return integrity.verify_arrays(path, attrs.get(integrity.ATTR), names,
                                   f"data set store {path}", fix)


@dataclass
class Split:
    planes: np.ndarray
    pixels: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def head(self, n: int | None) -> Split:
        if n is None or n >= len(self):
            return self
        return Split(self.planes[:n], self.pixels[:n], self.labels[:n])

    def split_off(self, n: int) -> tuple[Split, Split]:
        """(all but the last n, the last n): a validation split held out of training."""
        k = len(self) - n
        return (Split(self.planes[:k], self.pixels[:k], self.labels[:k]),
                Split(self.planes[k:], self.pixels[k:], self.labels[k:]))


@dataclass
class Dataset:
    path: Path
    attrs: dict
    hint: str = "snnpipe preprocess --force"

    @property
    def name(self) -> str:
        return self.attrs["dataset"]

    @property
    def levels(self) -> tuple[int, ...]:
        return tuple(self.attrs["levels"])

    @property
    def checksums(self) -> dict:
        return dict(self.attrs.get("checksums", {}))

    def load(self, split: str, limit: int | None = None) -> Split:
        """Read a split into memory (MNIST: ~190 MB of planes for train)."""
        if split not in SPLITS:
            raise StoreError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        if limit is not None and limit < 1:
            raise StoreError(f"a limit of {limit} images: must be >= 1 (or none for all)")
        fix = f"rebuild it with `{self.hint}`"
        verify(self.path, self.attrs, (split,), fix)
        try:
            g = zarr.open_group(str(self.path), mode="r")[split]
            n = g["labels"].shape[0] if limit is None else min(limit, g["labels"].shape[0])
            out = Split(g["planes"][:n], g["pixels"][:n], g["labels"][:n])
        except Exception as exc:         # a legacy store's garbage chunk, a wrong codec
            raise StoreError(f"data set store {self.path}: {split} is unreadable "
                             f"({type(exc).__name__}); {fix}") from None
        if not (out.planes.ndim == 3 and out.pixels.ndim == 2 and out.labels.ndim == 1
                and len(out.planes) == len(out.pixels) == len(out.labels)):
            raise StoreError(f"data set store {self.path}: the {split} arrays disagree in "
                             f"shape; {fix}")
        if out.planes.shape[1] != len(self.levels):
            raise StoreError(f"{self.path}: planes do not match the store's levels; "
                             "rebuild it with `snnpipe preprocess --force`")
        return out


def open_dataset(path: Path, hint: str = "make preprocess") -> Dataset:
    """Open a complete dataset store or fail with one line saying how to make it."""
    path = Path(path)
    if not path.exists():
        raise StoreError(f"no preprocessed dataset at {path}; run `{hint}` first")
    attrs = read_attrs(path)
    if attrs is None and replaceable(path, FORMAT):
        raise StoreError(f"{path} is an incomplete or damaged snnpipe data set store; "
                         f"rebuild it with `{hint}` (add --force to replace it)")
    if attrs is None:           # never suggest a command that would delete someone's folder
        raise StoreError(f"{path} is not a data set store: it holds {describe(path)}; use a "
                         "store that `snnpipe preprocess` wrote (DATA_DIR/<dataset>.zarr, or "
                         "its --output); this one is left as it is")
    return Dataset(path, attrs, hint)
