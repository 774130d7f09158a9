"""Content checksums and completeness of the zarr arrays snnpipe writes.

zarr returns the fill value for a chunk file that is absent, so a deleted chunk reads as
zeros and nothing notices; a chunk overwritten with garbage fails deep inside a codec. So
every array of a checkpoint and of a dataset store is recorded, when written, as the
CRC-32C of each stored chunk file (the encoded bytes: cheap, since they are compressed;
a checksum against damage, not a signature against tampering), and checked before it is
read: a chunk missing, extra or altered is one StoreError naming the array and the chunk.
CRC-32C (Castagnoli) runs in hardware through google-crc32c, ~6x faster than zlib's CRC-32,
which keeps verifying a large checkpoint at a few percent of loading it; records written
with zlib's CRC-32 (`crc32`, before this) or SHA-256 (the first builds) are read as well.
Stores written before checksums existed ("legacy") are checked for completeness only: every
chunk the array's shape and chunking call for must be present.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import zlib
from collections.abc import Iterable
from itertools import product
from pathlib import Path

import google_crc32c

from .errors import StoreError

ATTR = "integrity"
_DIGESTS = {"crc32c": lambda data: f"{google_crc32c.value(data):08x}",
            "crc32": lambda data: f"{zlib.crc32(data):08x}",
            "sha256": lambda data: hashlib.sha256(data).hexdigest()}
# what new records use: CRC-32C where google-crc32c has its compiled (hardware) build; its
# pure-Python fallback is far slower than zlib, so without it records stay zlib's CRC-32
ALGORITHM = "crc32c" if google_crc32c.implementation == "c" else "crc32"


def _chunk_files(array_dir: Path) -> dict[str, Path]:
    """Every stored chunk file of one array, by its key relative to the array folder (one
    os.scandir per folder: the same files as `rglob("*")`, directory symlinks not followed,
    at a fraction of its cost)."""
    found: dict[str, Path] = {}
    stack = [(str(array_dir), "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append((entry.path, prefix + entry.name + "/"))
                    elif entry.is_file() and entry.name != "zarr.json":
                        found[prefix + entry.name] = Path(entry.path)
        except OSError:         # absent or unreadable: its chunks are reported missing
            continue
    return dict(sorted(found.items()))


def digest_arrays(root: Path, names: Iterable[str]) -> dict:
    """The checksum record of the named arrays of the zarr group at `root` (written into
    the group's attributes by the writer, before the store is renamed into place)."""
    root = Path(root)
    arrays = {}
    for name in names:
        files = _chunk_files(root / name)
        arrays[name] = {k: _DIGESTS[ALGORITHM](p.read_bytes()) for k, p in files.items()}
    return {"algorithm": ALGORITHM, "arrays": arrays}


def _metadata(root: Path, name: str, label: str, fix: str) -> dict:
    """An array's zarr.json; a missing or unreadable one is refused with the same fix as
    a damaged chunk (a whole array gone is damage too)."""
    meta = root / name / "zarr.json"
    try:
        data = json.loads(meta.read_text())
    except FileNotFoundError:
        raise StoreError(f"{label}: array {name} is missing; {fix}") from None
    except (OSError, ValueError):
        raise StoreError(f"{label}: metadata of array {name} is unreadable; {fix}") from None
    if not isinstance(data, dict) or data.get("node_type") != "array":
        raise StoreError(f"{label}: {name} is not a zarr array; {fix}")
    return data


def expected_chunks(meta: dict) -> list[str]:
    """The chunk keys a zarr v3 array of this shape and chunking has when every chunk is
    stored (default chunk key encoding)."""
    try:
        shape = [int(s) for s in meta["shape"]]
        chunks = [int(c) for c in meta["chunk_grid"]["configuration"]["chunk_shape"]]
        sep = meta.get("chunk_key_encoding", {}).get("configuration", {}).get("separator", "/")
    except (KeyError, TypeError, ValueError):
        return []
    if not shape or math.prod(shape) == 0 or any(c <= 0 for c in chunks):
        return [] if shape else ["c"]
    grid = [range(math.ceil(s / c)) for s, c in zip(shape, chunks, strict=False)]
    return ["c/" + sep.join(map(str, idx)) if sep == "/" else "c" + sep + sep.join(
        map(str, idx)) for idx in product(*grid)]


def verify_arrays(root: Path, record: dict | None, names: Iterable[str], label: str,
                  fix: str) -> bool:
    """Check the named arrays against `record` (from `digest_arrays`); with no record (a
    legacy store), check only that every chunk is present. Returns True when checksums were
    verified, False for a legacy store that is complete. Anything wrong: one StoreError
    naming `label`, the array, and `fix`."""
    root = Path(root)
    legacy = record is None
    if not legacy and (not isinstance(record, dict) or record.get("algorithm") not in _DIGESTS
                       or not isinstance(record.get("arrays"), dict)):
        raise StoreError(f"{label}: its checksum record is unreadable; {fix}")
    for name in names:
        meta = _metadata(root, name, f"{label}", fix)
        files = _chunk_files(root / name)
        if legacy:
            missing = [k for k in expected_chunks(meta) if k not in files]
            if missing:
                raise StoreError(f"{label}: chunk {missing[0]} of array {name} is missing "
                                 f"(it would read as zeros); {fix}")
            continue
        want = record["arrays"].get(name)
        if not isinstance(want, dict):
            raise StoreError(f"{label}: no checksum for array {name}; {fix}")
        for key in sorted(set(want) | set(files)):
            if key not in files:
                raise StoreError(f"{label}: chunk {key} of array {name} is missing "
                                 f"(it would read as zeros); {fix}")
            if key not in want:
                raise StoreError(f"{label}: array {name} holds a chunk {key} it was not "
                                 f"written with; {fix}")
            if _DIGESTS[record["algorithm"]](files[key].read_bytes()) != want[key]:
                raise StoreError(f"{label}: chunk {key} of array {name} fails its checksum "
                                 f"(damaged on disk); {fix}")
    return not legacy
