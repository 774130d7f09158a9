"""The import stage: your own images or arrays -> a registered data set, DATA_DIR/raw/NAME.zarr.

Read and validate everything first (snnpipe.pipeline.datasets.readers), turn colour into receptors
(`--color`), then write the store atomically under its lock (snnpipe.stores.rawstore): a bad input
stops before anything is written, a kill leaves either the old data set or the new one.
From then on `--dataset NAME` works in every stage, exactly as for MNIST.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snnpipe.pipeline.datasets.names import check_name
from snnpipe.pipeline.datasets.readers import (
    Parsed,
    looks_like_cifar,
    read_cifar10,
    read_folder,
    read_npz,
)
from snnpipe.pipeline.errors import PipelineError
from snnpipe.stores import rawstore

FORMATS = ("auto", "cifar10", "folder", "npz")
COLORS = ("gray", "average", "color")


@dataclass
class ImportResult:
    path: Path
    name: str
    format: str
    sizes: dict[str, int]
    receptors: int
    image_shape: list[int]
    class_names: list[str]
    official: bool | str | None
    replaced: bool


def parse_size(text: str | None) -> tuple[int, int] | None:
    """'HxW' -> (h, w)."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not m or not 1 <= int(m.group(1)) <= 1024 or not 1 <= int(m.group(2)) <= 1024:
        raise PipelineError(f"--size {text!r}: give HEIGHTxWIDTH in pixels, e.g. 28x28 "
                            "(each 1..1024)")
    return int(m.group(1)), int(m.group(2))


def detect(path: Path) -> str:
    if path.is_file() and path.suffix.lower() == ".npz":
        return "npz"
    if looks_like_cifar(path):
        return "cifar10"
    if path.is_dir():
        return "folder"
    raise PipelineError(f"{path}: cannot tell its format; pass --format cifar10, folder or "
                        "npz (a folder of class folders, CIFAR-10's binary version, or an "
                        ".npz of x_train, y_train, x_test, y_test)")


def _is_gray(x: np.ndarray) -> bool:
    return x.shape[-1] == 1 or bool((x[..., 0] == x[..., 1]).all()
                                    and (x[..., 0] == x[..., 2]).all())


def colour_to_receptors(x: np.ndarray, color: str) -> np.ndarray:
    """(n, h, w, 3) uint8 -> (n, receptors) uint8. gray: ITU-R 601 luma, (299 R + 587 G +
    114 B + 500) // 1000; average: (R + G + B + 1) // 3 (the mean, rounded half up);
    color: all three planes, channel-major (R plane, G plane, B plane)."""
    n = x.shape[0]
    if color == "color":
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2)).reshape(n, -1)
    c = x.astype(np.uint32)
    if color == "gray":
        v = (299 * c[..., 0] + 587 * c[..., 1] + 114 * c[..., 2] + 500) // 1000
    else:
        v = (c[..., 0] + c[..., 1] + c[..., 2] + 1) // 3
    return v.astype(np.uint8).reshape(n, -1)


def to_raw(parsed: Parsed, color: str, prepare: str = "resize") -> rawstore.RawArrays:
    """Flatten the parsed images into receptors as `color` says; record the image shape."""
    xs = {"train": parsed.train_x, "test": parsed.test_x}
    if parsed.train_x.ndim == 2:                       # flat (n, d) arrays: no image shape
        image_shape, out = [int(parsed.train_x.shape[1])], xs
        color = "gray"
    else:
        h, w = parsed.train_x.shape[1:3]
        gray = _is_gray(parsed.train_x) and _is_gray(parsed.test_x)
        if gray:
            if color == "color":
                raise PipelineError("--color color: these images are grayscale (one channel, "
                                    "or three equal ones); use --color gray")
            out = {k: np.ascontiguousarray(v[..., 0]).reshape(len(v), -1)
                   for k, v in xs.items()}
            image_shape = [int(h), int(w)]
        else:
            out = {k: colour_to_receptors(v, color) for k, v in xs.items()}
            image_shape = [3, int(h), int(w)] if color == "color" else [int(h), int(w)]
    k = len(parsed.class_names)
    if k < 2:
        raise PipelineError(f"{k} class: the SONN needs at least 2 classes to tell apart")
    return rawstore.RawArrays(out["train"], parsed.train_y, out["test"], parsed.test_y,
                              list(parsed.class_names), image_shape, color, prepare,
                              dict(parsed.sources), dict(parsed.info))


def import_dataset(name: str, path: Path, data_dir: Path = Path("data"), fmt: str = "auto",
                   color: str = "gray", test_fraction: float | None = None,
                   seed: int | None = None, size: str | None = None,
                   force: bool = False) -> ImportResult:
    """Read PATH in its format and register it as data set NAME under DATA_DIR."""
    check_name(name)
    if fmt not in FORMATS:
        raise PipelineError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if color not in COLORS:
        raise PipelineError(f"--color {color!r}: choose one of {', '.join(COLORS)}")
    if test_fraction is not None and not 0 < test_fraction < 1:
        raise PipelineError(f"--test-fraction {test_fraction}: must lie strictly between 0 "
                            "and 1, e.g. 0.2")
    if seed is not None and seed < 0:
        raise PipelineError(f"--seed {seed}: must be >= 0")
    hw = parse_size(size)
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path}: no such file or folder")
    target = rawstore.raw_path(data_dir, name)
    rawstore.check_replaceable(target)                          # early, before reading
    if not force and rawstore.read_attrs(target) is not None:
        raise PipelineError(f"a data set named {name!r} already exists ({target}); pass "
                            "--force to replace it, or choose another NAME")
    fmt = detect(path) if fmt == "auto" else fmt
    if fmt != "folder":
        for flag, value in (("--size", size), ("--test-fraction", test_fraction),
                            ("--seed", seed)):
            if value is not None:
                raise PipelineError(f"{flag} applies to --format folder; {fmt} data sets "
                                    "come with their own image size and split")
    if fmt == "cifar10":
        parsed = read_cifar10(path)
    elif fmt == "npz":
        if not path.is_file():
            raise PipelineError(f"{path}: --format npz needs an .npz file")
        parsed = read_npz(path)
    else:
        if not path.is_dir():
            raise PipelineError(f"{path}: --format folder needs a folder of class folders")
        parsed = read_folder(path, hw, test_fraction, 0 if seed is None else seed)
    raw = to_raw(parsed, color)
    raw.info = {**raw.info, "source_path": str(path.resolve())}
    replaced = target.exists()
    attrs = rawstore.write(target, name, raw, replace=force)
    return ImportResult(target, name, fmt, {"train": len(raw.train_labels),
                                            "test": len(raw.test_labels)},
                        attrs["receptors"], raw.image_shape, raw.class_names,
                        raw.info.get("official"), replaced)
