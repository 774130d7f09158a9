"""Run folders: `config.toml`, `metrics.jsonl`, `checkpoints/`, `run.json`, `wandb/`."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path

from .errors import StoreError

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


def write_text_atomic(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def append_jsonl(path: Path, row: dict) -> None:
    """Append one JSON row and make it durable before returning."""
    with open(path, "a") as f:
        f.write(json.dumps(row, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def append_metrics(run_dir: Path, row: dict) -> None:
    append_jsonl(Path(run_dir) / "metrics.jsonl", row)


def read_metrics(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    rows = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                raise StoreError(f"{path}:{i} is not valid JSON") from None
    return rows


def truncate_metrics(run_dir: Path, last_epoch: int) -> None:
    """Keep only rows up to `last_epoch` (a resumed run rewrites what came after)."""
    rows = [r for r in read_metrics(run_dir) if r.get("epoch", 0) <= last_epoch]
    write_text_atomic(Path(run_dir) / "metrics.jsonl",
                      "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
