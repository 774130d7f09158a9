"""Run folders: `config.toml`, `metrics.jsonl`, `checkpoints/`, `run.json`, `wandb/`."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path

from . import faults
from .errors import StoreError
from .locks import exclusive

CHECKPOINT_RE = re.compile(r"^epoch-(\d+)\.zarr$")


def new_run_dir(root: Path, dataset: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(root) / f"{dataset}-{stamp}"
    n = 1
    while path.exists():
        n += 1
        path = Path(root) / f"{dataset}-{stamp}-{n}"
    return path


def checkpoints_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def epoch_checkpoint(run_dir: Path, epoch: int) -> Path:
    return checkpoints_dir(run_dir) / f"epoch-{epoch:04d}.zarr"


def checkpoint_epoch(path: Path) -> int | None:
    """N for an epoch-NNNN.zarr checkpoint, else None."""
    m = CHECKPOINT_RE.match(Path(path).name)
    return int(m.group(1)) if m else None


def epoch_checkpoints(run_dir: Path) -> list[Path]:
    """The run's per-epoch checkpoints in epoch order."""
    folder = checkpoints_dir(run_dir)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := CHECKPOINT_RE.match(p.name))]
    return [p for _, p in sorted(found)]


def to_toml(data: dict, comments: dict[str, str] | None = None) -> str:
    """A flat dict of ints, bools, strings and int lists as TOML (optional end-of-line
    comments per key)."""
    lines = []
    for key, value in data.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int):
            text = str(value)
        elif isinstance(value, str):
            text = json.dumps(value)
        elif isinstance(value, list | tuple):
            text = "[" + ", ".join(str(int(v)) for v in value) + "]"
        else:
            raise TypeError(f"cannot write {key}={value!r} as TOML")
        note = (comments or {}).get(key)
        lines.append(f"{key} = {text}" + (f"   # {note}" if note else ""))
    return "\n".join(lines) + "\n"


def run_lock(run_dir: Path):
    """The exclusive lock a process holds while it writes a run folder (`RUN/.lock`)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    return exclusive(run_dir, run_dir / ".lock")


def write_text_atomic(path: Path, text: str) -> None:
    """Replace a small file whole: written and synced beside it, then renamed over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    faults.write_point(f"{path.name}: temporary written")
    os.replace(tmp, path)
    faults.write_point(f"{path.name}: in place")


def append_jsonl(path: Path, row: dict) -> None:
    """Append one JSON row and make it durable before returning. (A kill may tear the line;
    readers drop a torn last line, and run folders rebuild the log from the checkpoint.)"""
    line = json.dumps(row, sort_keys=True) + "\n"
    with open(path, "a") as f:
        f.write(line[:len(line) // 2])
        f.flush()
        faults.write_point(f"{Path(path).name}: half a row")
        f.write(line[len(line) // 2:])
        f.flush()
        os.fsync(f.fileno())
    faults.write_point(f"{Path(path).name}: row appended")


def write_jsonl(path: Path, rows: list[dict]) -> None:
    write_text_atomic(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))


def read_jsonl(path: Path) -> list[dict]:
    """Rows of a JSON-lines log; a torn last line (a killed append) is dropped, any other
    bad line is one StoreError."""
    path = Path(path)
    if not path.exists():
        return []
    text = path.read_text(errors="replace")
    lines = text.split("\n")
    rows = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines):          # no newline after it: an append that was cut short
                break
            raise StoreError(f"{path}:{i} is not valid JSON") from None
    return rows


def append_metrics(run_dir: Path, row: dict) -> None:
    append_jsonl(Path(run_dir) / "metrics.jsonl", row)


def read_metrics(run_dir: Path) -> list[dict]:
    return read_jsonl(Path(run_dir) / "metrics.jsonl")


def write_metrics(run_dir: Path, rows: list[dict]) -> None:
    """Rewrite the log whole (a resumed run restores it from its checkpoint's history)."""
    write_jsonl(Path(run_dir) / "metrics.jsonl", rows)
