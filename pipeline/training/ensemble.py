"""Stage `ensemble`: sum the votes of several checkpoints by stacking them into one.

Snapshot ensembles (the last K epoch checkpoints of one run) and seed ensembles (runs with
different seeds) both become one ordinary checkpoint (engine/ensemble.py explains why that
is exact), which `eval`, `predict` and `load_estimator` use like any other. Its trainer
state is a fresh one: it is a network to score, not a run to resume (it has no run folder).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from snnpipe.engine.config import ConfigError
from snnpipe.engine.ensemble import stack
from snnpipe.engine.network import Network
from snnpipe.engine.trainer import Trainer
from snnpipe.pipeline.errors import PipelineError
from snnpipe.pipeline.results.evaluate import holdout_of
from snnpipe.stores import checkpoint, runfolder, runs
from snnpipe.stores.atomic import recover
from snnpipe.stores.errors import StoreError
from snnpipe.stores.locks import exclusive
from snnpipe.stores.ownership import describe, enclosing_store, is_empty_folder


def members(paths: list[Path], last: int | None) -> list[Path]:
    """Checkpoints named directly; a run folder gives its last `last` epoch checkpoints
    (all of them without --last). Each member once: a repeat would count its votes twice."""
    out: list[Path] = []
    folders = 0
    for p in map(Path, paths):
        if (p / "checkpoints").is_dir():
            found = runs.epoch_checkpoints(p)
            if not found:
                raise PipelineError(f"{p} has no epoch-NNNN.zarr checkpoints to take snapshots "
                                    "from; name checkpoints directly instead")
            if last and len(found) < last:
                raise PipelineError(f"{p} has {len(found)} epoch checkpoints, fewer than "
                                    f"--last {last}; ask for fewer")
            out += found[-last:] if last else found
            folders += 1
        elif p.exists():
            out.append(p)
        else:
            raise PipelineError(f"{p}: no such checkpoint or run folder")
    if last and not folders:
        raise PipelineError(f"--last {last} takes snapshots from a run folder, and none was "
                            "given; name a run folder or drop --last")
    seen: dict[Path, Path] = {}
    for p in out:
        if p.resolve() in seen:
            raise PipelineError(f"{p} is named twice (also as {seen[p.resolve()]}); an "
                                "ensemble counts each member's votes once")
        seen[p.resolve()] = p
    return out


def _inside_a_run(path: Path) -> Path | None:
    """The run folder `path` is in, if any: an ensemble is never written there."""
    for folder in path.parents:
        if runfolder.is_run_folder(folder):
            return folder
    return None


def check_output(output: Path) -> None:
    """An ensemble is written only where it takes nothing's place: not inside a run folder
    or a store (a data set, an import, a checkpoint), and over nothing but an earlier
    ensemble (with --force); refusals say what is there."""
    run = _inside_a_run(output.resolve())
    if run is not None:
        raise PipelineError(f"{output} is inside the run folder {run}; write the ensemble "
                            "elsewhere (a run folder holds only its own checkpoints)")
    store = enclosing_store(output)
    if store is not None:
        raise PipelineError(f"{output} is inside {store}, which holds {describe(store)}; "
                            "write the ensemble elsewhere (a store's folder holds only its "
                            "own arrays)")
    if output.exists() and not is_empty_folder(output) and not _is_ensemble(output):
        raise PipelineError(f"{output} holds {describe(output)}; --force replaces only an "
                            "earlier ensemble: pick another output")


def build_ensemble(paths: list[Path], output: Path, last: int | None = None,
                   force: bool = False) -> dict:
    """Stack the members into `output` (atomically); returns what was written."""
    if last is not None and last < 1:
        raise PipelineError(f"--last {last}: must be >= 1 (or left out for every snapshot)")
    output = Path(output)
    check_output(output)
    with exclusive(output):                    # one writer; finish what a kill left
        recover(output)
        return _build(paths, output, last, force)


def _build(paths: list[Path], output: Path, last: int | None, force: bool) -> dict:
    check_output(output)                    # again under the lock: what is there now
    if output.exists() and not is_empty_folder(output) and not force:
        raise PipelineError(f"{output} exists (an earlier ensemble); pick another output "
                            "or pass --force to replace it")
    chosen = members(paths, last)
    if len(chosen) < 2:
        raise PipelineError(f"an ensemble needs at least 2 checkpoints, got {len(chosen)}; "
                            "name more checkpoints or a run folder with more snapshots")
    loaded = [checkpoint.load(p) for p in chosen]    # each verified, one line if damaged
    check_distinct(loaded)
    first, held = loaded[0], holdout_of(loaded[0])
    for cp in loaded:
        if "ensemble" in cp.attrs:
            raise PipelineError(f"{cp.path} is itself an ensemble; name its members instead "
                                "(or its votes would be counted again)")
        same = {k: (cp.attrs.get(k), first.attrs.get(k)) for k in ("data", "classes")}
        if (cp.dataset, cp.checksums) != (first.dataset, first.checksums) or any(
                a != b for a, b in same.values()):
            raise PipelineError(f"{cp.path} was trained on other data than {first.path} "
                                "(data set, source checksums, image shape or classes differ); "
                                "an ensemble's members must share their data")
        if holdout_of(cp) != held:
            raise PipelineError(f"{cp.path} held out other training images than "
                                f"{first.path}; an ensemble's members must share their "
                                "validation split")
    cfg, rec, w = _stack([cp.cfg for cp in loaded], [cp.arrays["receptors"] for cp in loaded],
                         [cp.arrays["weights"] for cp in loaded])
    info = {"members": [str(p.resolve()) for p in chosen],
            "neurons": [cp.cfg.neurons for cp in loaded]}
    extra = {k: first.attrs[k] for k in ("data", "classes") if k in first.attrs}
    if held is not None:
        extra["holdout"] = held
    fresh = Trainer(cfg).state_dict()   # valid and unused: predict, load_estimator read it
    checkpoint.save(output, cfg, {"receptors": rec, "weights": w}, fresh,
                    max(cp.epoch for cp in loaded), {}, first.dataset, first.checksums,
                    extra={"ensemble": info, **extra})
    return {"output": str(output), "neurons_per_column": cfg.neurons, **info}


def network_digest(cp: checkpoint.Checkpoint) -> str:
    """SHA-256 of a checkpoint's network (receptors and weights, with their shapes): equal
    for one network under two names (last.zarr and its epoch checkpoint, a copy)."""
    h = hashlib.sha256()
    for name in ("receptors", "weights"):
        a = np.ascontiguousarray(cp.arrays[name])
        h.update(f"{name} {a.shape} {a.dtype}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def check_distinct(loaded: list[checkpoint.Checkpoint]) -> None:
    """Each network once, compared by content, not path: a repeat would count its votes
    twice."""
    seen: dict[str, Path] = {}
    for cp in loaded:
        digest = network_digest(cp)
        if digest in seen:
            raise PipelineError(f"{seen[digest]} and {cp.path} hold the same network "
                                "(identical receptors and weights: one checkpoint twice, a "
                                "copy, or last.zarr beside the epoch checkpoint it was saved "
                                "with); an ensemble counts each network's votes once: name it "
                                "once")
        seen[digest] = cp.path


def snapshot_ensemble(trainer: Trainer, saved: list[Path], epoch: int,
                      k: int) -> tuple[Network, list[str]]:
    """The `snapshots` option at a run's final epoch: the trainer's network stacked with the
    run's K - 1 epoch checkpoints before `epoch` (fewer in a run shorter than K epochs).
    Returns the stacked network and its members' names."""
    before = [p for p in saved if runs.checkpoint_epoch(p) in range(epoch - k + 1, epoch)]
    loaded = [checkpoint.load(p) for p in before]      # each verified, one line if damaged
    cfg, rec, w = _stack([*(cp.cfg for cp in loaded), trainer.cfg],
                         [*(cp.arrays["receptors"] for cp in loaded), trainer.net.receptors],
                         [*(cp.arrays["weights"] for cp in loaded), trainer.net.weights])
    names = [p.name for p in before] + [runs.epoch_checkpoint(Path("."), epoch).name]
    return Network.from_arrays(cfg, rec, w), names


def _stack(configs, receptors, weights):
    """snnpipe.engine.ensemble.stack, its refusals as one-line pipeline errors."""
    try:
        return stack(configs, receptors, weights)
    except (ValueError, ConfigError) as exc:
        raise PipelineError(str(exc)) from None


def _is_ensemble(path: Path) -> bool:
    try:
        return "ensemble" in checkpoint.load(path).attrs
    except StoreError:
        return False
