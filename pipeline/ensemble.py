"""Stage `ensemble`: sum the votes of several checkpoints by stacking them into one.

Snapshot ensembles (the last K epoch checkpoints of one run) and seed ensembles (runs with
different seeds) both become one ordinary checkpoint (engine/ensemble.py explains why that
is exact), which `eval`, `predict` and `load_estimator` use like any other. Its trainer
state is a fresh one: it is a network to score, not a run to resume (it has no run folder).
"""

from __future__ import annotations

from pathlib import Path

from engine.config import ConfigError
from engine.ensemble import stack
from engine.trainer import Trainer
from stores import checkpoint, runs
from stores.atomic import recover
from stores.locks import exclusive

from .errors import PipelineError


def members(paths: list[Path], last: int | None) -> list[Path]:
    """Checkpoints named directly; a run folder gives its last `last` epoch checkpoints
    (all of them without --last)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if (p / "checkpoints").is_dir():
            found = runs.epoch_checkpoints(p)
            if not found:
                raise PipelineError(f"{p} has no epoch-NNNN.zarr checkpoints to take snapshots "
                                    "from; name checkpoints directly instead")
            out += found[-last:] if last else found
        elif p.exists():
            out.append(p)
        else:
            raise PipelineError(f"{p}: no such checkpoint or run folder")
    return out


def build_ensemble(paths: list[Path], output: Path, last: int | None = None,
                   force: bool = False) -> dict:
    """Stack the members into `output` (atomically); returns what was written."""
    if last is not None and last < 1:
        raise PipelineError(f"--last {last}: must be >= 1 (or left out for every snapshot)")
    output = Path(output)
    with exclusive(output):                    # one writer; finish what a kill left
        recover(output)
        return _build(paths, output, last, force)


def _build(paths: list[Path], output: Path, last: int | None, force: bool) -> dict:
    if output.exists() and not force:
        raise PipelineError(f"{output} exists; pick another output or pass --force to "
                            "replace it")
    chosen = members(paths, last)
    if len(chosen) < 2:
        raise PipelineError(f"an ensemble needs at least 2 checkpoints, got {len(chosen)}; "
                            "name more checkpoints or a run folder with more snapshots")
    if output.resolve() in {p.resolve() for p in chosen}:
        raise PipelineError(f"{output} is one of the members; write the ensemble elsewhere")
    loaded = [checkpoint.load(p) for p in chosen]    # each verified, one line if damaged
    first = loaded[0]
    for cp in loaded[1:]:
        if (cp.dataset, cp.checksums) != (first.dataset, first.checksums):
            raise PipelineError(f"{cp.path} was trained on other data than {first.path} "
                                "(data set or source checksums differ); an ensemble's members "
                                "must share their data")
    try:
        cfg, rec, w = stack([cp.cfg for cp in loaded],
                            [cp.arrays["receptors"] for cp in loaded],
                            [cp.arrays["weights"] for cp in loaded])
    except (ValueError, ConfigError) as exc:
        raise PipelineError(str(exc)) from None
    info = {"members": [str(p) for p in chosen],
            "neurons": [cp.cfg.neurons for cp in loaded]}
    fresh = Trainer(cfg).state_dict()   # valid and unused: predict, load_estimator read it
    checkpoint.save(output, cfg, {"receptors": rec, "weights": w}, fresh,
                    max(cp.epoch for cp in loaded), {}, first.dataset, first.checksums,
                    extra={"ensemble": info})
    return {"output": str(output), "neurons_per_column": cfg.neurons, **info}
