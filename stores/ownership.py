"""What a folder holds, so that a replace (`--force`) only ever touches what the command
itself writes.

`preprocess --force` replaces a data set store, `import --force` an imported data set,
`ensemble --force` an earlier ensemble; a run folder, the raw data folder or anyone's files
at that path are refused, in one line that says what the folder holds (`describe`). The
checks read the root `zarr.json` as plain JSON (zarr v3 keeps the attributes there), so
they cost a file read, not a zarr open.
"""

from __future__ import annotations

import json
from pathlib import Path

DATASET_FORMAT = "snnpipe-dataset/1"
RAW_FORMAT = "snnpipe-raw/1"
CHECKPOINT_FORMAT = "snnpipe-checkpoint"

# the arrays each kind of store holds in its `train` and `test` groups
_SPLIT_ARRAYS = {DATASET_FORMAT: {"planes", "pixels", "labels"},
                 RAW_FORMAT: {"pixels", "labels"}}


def root_attributes(path: Path) -> dict | None:
    """The attributes of the zarr group at `path`, or None if it has no readable zarr.json."""
    try:
        meta = json.loads((Path(path) / "zarr.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict):
        return None
    attrs = meta.get("attributes", {})
    return attrs if isinstance(attrs, dict) else {}


def _entries(path: Path) -> list[Path]:
    try:
        return sorted(Path(path).iterdir())
    except OSError:
        return []


def is_empty_folder(path: Path) -> bool:
    path = Path(path)
    return path.is_dir() and not _entries(path)


def _store_shaped(path: Path, fmt: str) -> bool:
    """The layout of a store of this format, whatever its root attributes say (a store
    whose zarr.json was lost or damaged is still one): only `zarr.json`, `train/`, `test/`,
    and in each split group only its zarr.json and the format's arrays (zarr groups, so a
    folder of images laid out as train/ and test/ is not mistaken for one)."""
    entries = _entries(path)
    names = {p.name for p in entries}
    splits = [p for p in entries if p.name in ("train", "test")]
    if not splits or not names <= {"zarr.json", "train", "test"}:
        return False
    for split in splits:
        inner = {p.name for p in _entries(split)}
        if not split.is_dir() or "zarr.json" not in inner \
                or not inner <= {"zarr.json", *_SPLIT_ARRAYS[fmt]}:
            return False
    return True


def replaceable(path: Path, fmt: str) -> bool:
    """May a command that writes stores of format `fmt` (DATASET_FORMAT or RAW_FORMAT)
    replace what is at `path`? Yes for nothing, an empty folder, or a store of that format
    (complete, incomplete or with damaged attributes); no for anything else."""
    path = Path(path)
    if not path.exists():
        return True
    if not path.is_dir():
        return False
    if is_empty_folder(path):
        return True
    attrs = root_attributes(path)
    if attrs is not None and "format" in attrs:
        return attrs["format"] == fmt
    return _store_shaped(path, fmt)


def describe(path: Path) -> str:
    """What `path` holds, in a few words ("a train run folder (run.json, metrics.jsonl,
    checkpoints/)", "3 entries: digits.zarr/, mine.zarr/, mnist/"), for a refusal."""
    path = Path(path)
    if not path.exists():
        return "nothing"
    if not path.is_dir():
        return f"a file of {path.stat().st_size:,} bytes"
    entries = _entries(path)
    if not entries:
        return "an empty folder"
    listed = ", ".join(p.name + ("/" if p.is_dir() else "") for p in entries[:4])
    listed += ", …" if len(entries) > 4 else ""
    attrs = root_attributes(path)
    fmt = attrs.get("format") if attrs else None
    if fmt == DATASET_FORMAT:
        return (f"a data set store of {attrs.get('dataset', 'an unknown data set')}"
                + ("" if attrs.get("complete") else " (incomplete)"))
    if fmt == RAW_FORMAT:
        return f"the imported data set {attrs.get('dataset', path.stem)!r}"
    if fmt == CHECKPOINT_FORMAT:
        return "an ensemble checkpoint" if "ensemble" in attrs else \
            "a checkpoint, not an ensemble"
    if attrs is not None or (path / "zarr.json").exists():
        return "a zarr store that snnpipe did not write"
    if (path / "run.json").is_file():
        try:
            info = json.loads((path / "run.json").read_text())
            kind = info.get("kind", "train") if isinstance(info, dict) else "train"
        except (OSError, ValueError):
            kind = "train"
        return f"a {kind if kind in ('train', 'reproduce') else 'train'} run folder ({listed})"
    if (path / "checkpoints").is_dir():
        return f"a run folder ({listed})"
    if (path / "spec.json").is_file() or (path / "sweep.jsonl").is_file():
        return f"a sweep folder ({listed})"
    return f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}: {listed}"


def enclosing_store(path: Path) -> Path | None:
    """The outermost zarr store (a data set store, an import, a checkpoint) that `path`
    would be written inside, if any: a store's folder holds only its own arrays."""
    found = None
    for folder in Path(path).resolve().parents:
        if (folder / "zarr.json").is_file():
            found = folder
    return found
