"""Reading a user's file without trusting its size: `stat` first, then bounded chunks.

A 10 GB (sparse) file where a 30 MB CIFAR-10 batch belongs, or a gzip member that inflates
to gigabytes, is refused in one line before it is read, instead of ending in a MemoryError
(or in holding 10 GB). Every reader of a user's file goes through here.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import BinaryIO

from snnpipe.pipeline.errors import PipelineError

CHUNK = 1 << 20


class TooLarge(PipelineError):
    """A file (or what it decompresses to) is larger than the reader accepts."""

    size: int = 0
    limit: int = 0


def too_large(label: str, size: int, limit: int, why: str) -> TooLarge:
    exc = TooLarge(f"{label}: {size:,} bytes, more than {limit:,} {why}")
    exc.size, exc.limit = size, limit
    return exc


def checked_size(path: Path, limit: int, why: str, label: str | None = None) -> int:
    """The file's size from `stat`, refused when above `limit` (nothing is read)."""
    size = os.stat(path).st_size
    if size > limit:
        raise too_large(label or str(path), size, limit, why)
    return size


def read_stream(f: BinaryIO, size: int, limit: int, why: str, label: str) -> bytearray:
    """Up to `size` bytes of an open stream, in chunks, never more than `limit`; a stream
    that holds more than `size` (a file that grew) is refused rather than read on."""
    if size > limit:
        raise too_large(label, size, limit, why)
    buf = bytearray(size)
    view, n = memoryview(buf), 0
    while n < size:
        got = f.readinto(view[n:n + CHUNK])
        if not got:
            break
        n += got
    if n == size and f.read(1):
        raise TooLarge(f"{label}: it grew while it was read; read it again when it is "
                       "complete")
    del view
    del buf[n:]
    return buf


def read_bounded(path: Path, limit: int, why: str, label: str | None = None) -> bytearray:
    """The whole file, checked by `stat` against `limit` before a byte is read."""
    size = checked_size(path, limit, why, label)
    with open(path, "rb") as f:
        return read_stream(f, size, limit, why, label or str(path))


def gunzip_bounded(label: str, data: bytes | bytearray, limit: int, why: str) -> bytes:
    """Decompress gzip data, refusing output beyond `limit` (a decompression bomb) and a
    stream that ends early (a truncated download)."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error as exc:
        raise PipelineError(f"{label}: corrupt gzip data ({exc}); delete it and fetch "
                            "again") from None
    if len(out) > limit:
        raise TooLarge(f"{label}: decompresses to more than {limit:,} bytes {why}")
    if not d.eof:
        raise PipelineError(f"{label}: the gzip data is truncated (it ends before its "
                            "end-of-stream marker); delete it and fetch again")
    return out
