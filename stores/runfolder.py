"""A run folder as a whole: its `run.json` by kind (train, reproduce), whether a folder holds
a run, the newest run of a kind, the options a resumed run keeps, and the lock its writer
holds (with the clean-up of a folder it created and never began).

Every problem is one StoreError line naming the folder and the fix.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
from collections.abc import Iterator
from pathlib import Path

from . import atomic, runs
from .errors import StoreError

RUN_JSON = "run.json"

# The options (as `snnpipe` spells them) that a run fixes when it begins, in the order a
# refusal names them: `--resume` goes on with the run's own, so giving one is refused.
KEPT_ON_RESUME: dict[str, tuple[str, ...]] = {
    "train": ("--set", "--config", "--preset", "--sampling", "--seed", "--run-dir", "--dataset",
              "--limit-train", "--limit-test", "--eval-every", "--validation",
              "--checkpoint-every", "--snapshots"),
    "reproduce": ("--set", "--config", "--preset", "--sampling", "--seed", "--run-dir",
                  "--dataset", "--validation", "--eval-every-samples", "--eval-every-positive",
                  "--checkpoint-every-samples"),
}

# What to do with a corrupt run.json, per kind.
_CORRUPT_FIX = {"train": "start a new run with another --run-dir",
                "reproduce": "start a new run"}


def kind_of(info) -> str:
    """"train" or "reproduce": run.json says so (train runs from before kinds: none)."""
    return info.get("kind", "train") if isinstance(info, dict) else "train"


def kept_on_resume(kind: str, given: list[str]) -> list[str]:
    """Of the options `given`, those a resumed run of this kind keeps (so refuses), in the
    declared order."""
    return [flag for flag in KEPT_ON_RESUME[kind] if flag in given]


def read_info(run_dir: Path, kind: str) -> dict:
    """run.json of a run folder of this kind, checked: it exists, it is JSON with options,
    and the run is of `kind` (else the line names the command that continues it)."""
    run_dir = Path(run_dir)
    path = run_dir / RUN_JSON
    if not path.is_file():
        raise StoreError(f"{run_dir} is not an snnpipe run folder (no run.json)")
    corrupt = f"{path} is corrupt; {_CORRUPT_FIX[kind]}"
    try:
        info = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise StoreError(corrupt) from None
    if kind == "train":                  # a train run cannot go on without its data set
        try:
            info["options"]["dataset"]
        except (KeyError, TypeError):
            raise StoreError(corrupt) from None
    elif not isinstance(info, dict) or not isinstance(info.get("options"), dict):
        raise StoreError(corrupt)
    if kind_of(info) != kind:
        raise StoreError(f"{run_dir} is a {kind_of(info)} run; continue it with "
                         f"`snnpipe {kind_of(info)} --resume {run_dir}`")
    if kind == "train":
        check_options(run_dir, info, kind)
    return info


# run.json options a train run cannot go on without, and the types they must have
_TRAIN_TYPES = {"dataset": (str,), "seed": (int,), "sampling": (str,),
                "limit_train": (int, type(None)), "limit_test": (int, type(None)),
                "eval_every": (int,), "checkpoint_every": (int,), "snapshots": (int,)}
_REPRODUCE_NUMBERS = ("target", "max_samples", "hours")


def check_options(run_dir: Path, info: dict, kind: str) -> None:
    """The saved options a resumed run reads have the types it needs (a hand-edited or
    damaged file is refused, not half-used)."""
    path = Path(run_dir) / RUN_JSON
    saved = info["options"]
    if kind == "train":
        for name, types in _TRAIN_TYPES.items():
            value = saved.get(name)
            if name in saved and (isinstance(value, bool) or not isinstance(value, types)):
                raise StoreError(f"{path}: option {name} is {value!r}, of the wrong type; the "
                                 f"file is corrupt, {_CORRUPT_FIX[kind]}")
        return
    for name in _REPRODUCE_NUMBERS:
        value = saved.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or not math.isfinite(value)):
            raise StoreError(f"{path}: option {name} is {value!r}; the file is corrupt, "
                             f"{_CORRUPT_FIX[kind]}")


def write_info(run_dir: Path, info: dict) -> None:
    """Replace run.json whole."""
    runs.write_text_atomic(Path(run_dir) / RUN_JSON, json.dumps(info, indent=2) + "\n")


def update_options(run_dir: Path, changes: dict) -> None:
    """Options given on resume that override the run's own, from now on."""
    saved = json.loads((Path(run_dir) / RUN_JSON).read_text())
    saved["options"].update(changes)
    write_info(run_dir, saved)


def latest_run(runs_root: Path, kind: str) -> Path | None:
    """The newest run folder of this kind under `runs_root` (None: there is none)."""
    def kind_here(p: Path) -> str | None:
        try:
            info = json.loads((p / RUN_JSON).read_text())
        except (OSError, ValueError):
            return None
        return kind_of(info) if isinstance(info, dict) else None
    found = sorted((p for p in Path(runs_root).glob("*") if (p / RUN_JSON).is_file()
                    and kind_here(p) == kind), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def began(run_dir: Path) -> bool:
    """A run has begun once its run.json is written (then `--resume` continues it)."""
    return (Path(run_dir) / RUN_JSON).exists()


def is_run_folder(folder: Path) -> bool:
    """A folder snnpipe made for a run: it has run.json or checkpoints/."""
    return began(folder) or runs.checkpoints_dir(folder).is_dir()


def holds_run(run_dir: Path, kind: str) -> bool:
    """Whether a new run of this kind must refuse the folder. A train run: once it has a
    checkpoint (hidden complete copies included) or a metrics row; one killed before that is
    empty and may be trained into again. A reproduce run: anything but the lock."""
    run_dir = Path(run_dir)
    if kind != "train":
        return run_dir.is_dir() and any(p.name != ".lock" for p in run_dir.iterdir())
    folder = runs.checkpoints_dir(run_dir)
    if runs.epoch_checkpoints(run_dir) or (run_dir / "metrics.jsonl").exists():
        return True
    return any((folder / n).exists() or atomic.complete_copies(folder / n, "new")
               or atomic.complete_copies(folder / n, "old") for n in ("last.zarr", "best.zarr"))


@contextlib.contextmanager
def locked(folder: Path, begun: str = RUN_JSON) -> Iterator[Path]:
    """Hold the folder's lock for the block. If the block fails (a refusal, Ctrl-C) in a
    folder this call created, before the file `begun` marks the run as begun, the folder is
    removed: a refused command leaves nothing behind."""
    folder = Path(folder)
    created = not folder.exists()
    try:
        with runs.run_lock(folder):
            yield folder
    except BaseException:
        if created and not (folder / begun).exists():
            shutil.rmtree(folder, ignore_errors=True)      # refused before it began
        raise
