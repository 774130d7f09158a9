"""Strict parser for the IDX files MNIST and Fashion-MNIST ship in."""

from __future__ import annotations

from pathlib import Path

import dask
import dask.array as da
import numpy as np

from snnpipe.pipeline.datasets.bounded import gunzip_bounded
from snnpipe.pipeline.errors import PipelineError
from snnpipe.stores import dataset as dataset_store

IMAGES_MAGIC = 0x00000803   # unsigned byte, 3 dimensions
LABELS_MAGIC = 0x00000801   # unsigned byte, 1 dimension


MAX_IDX_BYTES = 1 << 30    # 1.36 M images of 28 x 28; MNIST's largest file is 47 MB


def decompress(name: str, data: bytes | bytearray, limit: int = MAX_IDX_BYTES) -> bytes:
    """Raw bytes of an IDX file that may be gzip-compressed (by content, not by name),
    never inflated beyond `limit` (a gzip bomb is refused, not decompressed)."""
    if data[:2] == b"\x1f\x8b":
        return gunzip_bounded(name, data, limit, "(the most an IDX file may hold here)")
    return data


def parse_images(name: str, data: bytes) -> np.ndarray:
    """(n, rows * cols) uint8 from an idx3-ubyte file, checking magic and length."""
    if len(data) < 16:
        raise PipelineError(f"{name}: truncated IDX header ({len(data)} bytes, need 16)")
    magic, n, rows, cols = (int(x) for x in np.frombuffer(data[:16], ">u4"))
    if magic != IMAGES_MAGIC:
        raise PipelineError(f"{name}: wrong magic number 0x{magic:08x}, expected "
                            f"0x{IMAGES_MAGIC:08x} (not an IDX image file)")
    expected = 16 + n * rows * cols
    if len(data) != expected:
        raise PipelineError(f"{name}: file is {len(data)} bytes but its header "
                            f"({n} x {rows} x {cols}) needs {expected}")
    return np.frombuffer(data, np.uint8, offset=16).reshape(n, rows * cols)


def parse_labels(name: str, data: bytes) -> np.ndarray:
    """(n,) uint8 from an idx1-ubyte file, checking magic and length."""
    if len(data) < 8:
        raise PipelineError(f"{name}: truncated IDX header ({len(data)} bytes, need 8)")
    magic, n = (int(x) for x in np.frombuffer(data[:8], ">u4"))
    if magic != LABELS_MAGIC:
        raise PipelineError(f"{name}: wrong magic number 0x{magic:08x}, expected "
                            f"0x{LABELS_MAGIC:08x} (not an IDX label file)")
    if len(data) != 8 + n:
        raise PipelineError(f"{name}: file is {len(data)} bytes but its header "
                            f"({n} labels) needs {8 + n}")
    labels = np.frombuffer(data, np.uint8, offset=8)
    if labels.size and labels.max() > 9:
        raise PipelineError(f"{name}: label {labels.max()} out of range 0..9")
    return labels


def parse_split(images_name: str, images: bytes, labels_name: str, labels: bytes
                ) -> tuple[np.ndarray, np.ndarray]:
    x = parse_images(images_name, images)
    y = parse_labels(labels_name, labels)
    if x.shape[0] != y.shape[0]:
        raise PipelineError(f"{images_name} holds {x.shape[0]} images but {labels_name} "
                            f"holds {y.shape[0]} labels; the pair does not match")
    return x, y


def _read_rows(path: str, offset: int, start: int, stop: int, width: int) -> np.ndarray:
    """Rows [start, stop) of an IDX body: each Dask task reads only its own chunk."""
    with open(path, "rb") as f:
        f.seek(offset + start * width)
        data = f.read((stop - start) * width)
    return np.frombuffer(data, np.uint8).reshape(stop - start, width)


def idx_array(path: Path, offset: int, n: int, width: int) -> da.Array:
    """A lazy dask array over an IDX file on disk, chunked by samples (no data in the graph)."""
    step = dataset_store.CHUNK_SAMPLES
    parts = []
    for start in range(0, n, step):
        stop = min(start + step, n)
        block = dask.delayed(_read_rows, pure=True)(str(path), offset, start, stop, width)
        parts.append(da.from_delayed(block, shape=(stop - start, width), dtype=np.uint8))
    x = da.concatenate(parts, axis=0)
    return x if width > 1 else x[:, 0]
