"""The reproduction run: a configuration on full MNIST for a wall-clock budget.

Unlike `train`, progress is measured in samples seen. The full test set (and a fixed train
subset) is evaluated every `eval_every_samples`, or at D𝜋's own evaluation points
(`eval_every_positive`: every K positive learning steps, mid-batch, as his program did).
Every point goes to `RUN_DIR/results.jsonl` and to wandb; the best checkpoint is kept, and
`last.zarr` every `checkpoint_every_samples` so a run can span sittings (`resume`). Stops at
the time budget, the target accuracy, or `max_samples`, whichever comes first.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from engine import Config
from engine.trainer import Trainer
from stores import atomic, faults, runs
from stores import checkpoint as ckpt
from stores.errors import StoreError

from .data import (
    adapt_config,
    check_levels,
    check_network_fits,
    check_validation,
    find_or_build_store,
    open_store,
    source_mismatch,
    store_info,
)
from .errors import PipelineError
from .evaluate import evaluate
from .tracking import WandbTracker
from .train import StopFlag

TRAIN_EVAL_SAMPLES = 10_000   # train accuracy on a fixed subset: the first 10,000 images
RESULTS = "results.jsonl"


@dataclass
class ReproduceOptions:
    config: Config = field(default_factory=Config)
    hours: float | None = None          # this sitting's budget; None: 2 (resume: the run's)
    target: float | None = None         # None: 98.65 (resume: the run's own)
    max_samples: int | None = None      # None: no limit (resume: the run's own)
    eval_every_samples: int | None = 250_000
    eval_every_positive: int | None = None
    checkpoint_every_samples: int = 2_000_000
    seed: int = 0
    dataset: str = "mnist"
    data_dir: Path = Path("data")
    store: Path | None = None
    run_dir: Path | None = None
    runs_root: Path = Path("runs")
    wandb_mode: str = "offline"
    resume: Path | None = None
    validation: int = 0     # hold out the last N training images: best.zarr is picked on them


@dataclass
class ReproduceResult:
    run_dir: Path
    results_file: Path
    points: list[dict]
    best: dict | None
    stopped_by: str
    changed: bool = True      # False: a resumed run that had nothing left to do


def _already_done(opts: ReproduceOptions, points: list[dict], seen: int) -> str:
    """Why a resumed run has nothing left to do ("" if it has): checked before anything
    is trained or written, so the message is true and the folder unchanged."""
    if opts.max_samples and seen >= opts.max_samples:
        return (f"the run has already seen {seen:,} samples, at least --max-samples "
                f"{opts.max_samples:,}; nothing trained (pass a larger --max-samples)")
    reached = [p for p in points if 100 * p["test_accuracy"] >= opts.target]
    if reached:
        return (f"target {opts.target} % was already reached at {reached[0]['samples_seen']:,} "
                "samples; nothing trained (pass a higher --target)")
    return ""


@dataclass
class Progress:
    """What a sitting hands to the next one, inside last.zarr's metrics."""

    next_eval: int = 0              # samples_seen at which the next sample-based point falls
    next_checkpoint: int = 0
    best_test_accuracy: float | None = None
    wall_seconds: float = 0.0       # over all sittings
    eval_seconds: float = 0.0


DEFAULT_HOURS, DEFAULT_TARGET = 2.0, 98.65


def _check(opts: ReproduceOptions) -> None:
    """Refuse nonsense before anything is written (NaN would not even be valid JSON)."""
    if opts.hours is not None and not (math.isfinite(opts.hours) and opts.hours > 0):
        raise PipelineError(f"--hours {opts.hours}: must be a number of hours > 0")
    if opts.target is not None and not (math.isfinite(opts.target) and opts.target >= 0):
        raise PipelineError(f"--target {opts.target}: must be an accuracy in % >= 0 (0: stop "
                            "at the first evaluation; above 100: never stop on accuracy)")
    if opts.resume is None and not opts.eval_every_samples and not opts.eval_every_positive:
        raise PipelineError("give --eval-every-samples N or --eval-every-positive K (>= 1)")
    for name in ("eval_every_samples", "eval_every_positive", "max_samples"):
        value = getattr(opts, name)
        if value is not None and value < 1:
            raise PipelineError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if opts.checkpoint_every_samples < 1:
        raise PipelineError("--checkpoint-every-samples must be >= 1")
    if opts.validation < 0:
        raise PipelineError(f"--validation {opts.validation}: must be >= 0 (the last N "
                            "training images; 0 holds none out)")
    if opts.resume is None and opts.config.snapshots:
        raise PipelineError(f"snapshots = {opts.config.snapshots} sums a `train` run's last "
                            "epochs, and reproduce has no epochs; use `snnpipe train`, or "
                            "`snnpipe ensemble` on checkpoints (or --set snapshots=0)")


def _resume(opts: ReproduceOptions
            ) -> tuple[ReproduceOptions, Trainer, Progress, list[dict], dict, dict]:
    """Reload a reproduce run folder: its options, last.zarr and the points up to it, the
    options given that override the run's, and the source checksums it was trained on."""
    run_dir = Path(opts.resume)
    info_path = run_dir / "run.json"
    if not info_path.is_file():
        raise PipelineError(f"{run_dir} is not an snnpipe run folder (no run.json)")
    try:
        info = json.loads(info_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise PipelineError(f"{info_path} is corrupt; start a new run") from None
    if not isinstance(info, dict) or not isinstance(info.get("options"), dict):
        raise PipelineError(f"{info_path} is corrupt; start a new run")
    if info.get("kind") != "reproduce":
        raise PipelineError(f"{run_dir} is a {info.get('kind', 'train')} run; continue it "
                            f"with `snnpipe {info.get('kind', 'train')} --resume {run_dir}`")
    last = runs.checkpoints_dir(run_dir) / "last.zarr"
    atomic.recover_folder(runs.checkpoints_dir(run_dir))   # finish an interrupted replace
    if not last.exists():
        raise PipelineError(f"{run_dir} has no checkpoints/last.zarr to resume from")
    try:
        cp = ckpt.load(last)
        progress = Progress(**cp.metrics["reproduce"])
    except StoreError as exc:
        raise PipelineError(f"{str(exc).split('; use another')[0]}; a reproduce run resumes "
                            f"only from last.zarr, so start a new run (its best.zarr still "
                            f"evaluates: snnpipe eval {run_dir}/checkpoints/best.zarr)") from None
    except (KeyError, TypeError):
        raise PipelineError(f"{last} holds no reproduce progress (it was written by another "
                            "command); start a new run") from None
    saved = info["options"]
    for name in ("target", "max_samples", "hours"):
        value = saved.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or not math.isfinite(value)):
            raise PipelineError(f"{info_path}: option {name} is {value!r}; the file is "
                                "corrupt, start a new run")
    overrides = {name: getattr(opts, name) for name in ("target", "max_samples")
                 if getattr(opts, name) is not None and getattr(opts, name) != saved.get(name)}
    opts = ReproduceOptions(
        config=cp.cfg, hours=opts.hours if opts.hours is not None else saved.get(
            "hours", DEFAULT_HOURS),
        target=opts.target if opts.target is not None else saved.get("target", DEFAULT_TARGET),
        max_samples=opts.max_samples if opts.max_samples is not None else saved.get(
            "max_samples"),
        eval_every_samples=saved["eval_every_samples"],
        eval_every_positive=saved.get("eval_every_positive"),
        checkpoint_every_samples=saved.get("checkpoint_every_samples", 2_000_000),
        seed=saved["seed"], dataset=saved["dataset"], data_dir=opts.data_dir, store=opts.store,
        run_dir=run_dir, wandb_mode=opts.wandb_mode, resume=run_dir,
        validation=saved.get("validation", 0))
    try:
        trainer = Trainer.from_state(cp.cfg, cp.arrays, cp.state)
    except (KeyError, TypeError, ValueError) as exc:
        raise PipelineError(f"{last}: trainer state is invalid ({exc}); start a new run") \
            from None
    seen = trainer.state.samples_seen
    points = [p for p in _read_points(run_dir / RESULTS)
              if isinstance(p, dict) and p.get("samples_seen", seen + 1) <= seen]
    return opts, trainer, progress, points, overrides, cp.checksums


def _read_points(path: Path) -> list[dict]:
    return runs.read_jsonl(path)          # a torn last line (a killed append) is dropped


def reproduce(opts: ReproduceOptions, on_point=None, on_note=None) -> ReproduceResult:
    """Train until the target, the sample budget or the time budget; the run folder is
    locked while this process writes it."""
    _check(opts)
    if opts.resume is not None and opts.run_dir is not None:
        raise PipelineError("--resume continues the run in its own folder; drop --run-dir")
    folder = opts.resume or opts.run_dir
    if folder is None:
        return _reproduce_locked(opts, on_point, on_note)
    if Path(folder).exists() and not Path(folder).is_dir():
        raise PipelineError(f"{folder} is a file; pass a folder")
    if opts.resume is not None and not Path(folder).is_dir():
        raise PipelineError(f"{folder}: no such run folder")
    created = not Path(folder).exists()
    try:
        with runs.run_lock(Path(folder)):
            return _reproduce_locked(opts, on_point, on_note)
    except BaseException:
        if created and not (Path(folder) / "run.json").exists():
            shutil.rmtree(folder, ignore_errors=True)      # refused before it began
        raise


def _reproduce_locked(opts: ReproduceOptions, on_point=None, on_note=None) -> ReproduceResult:
    overrides: dict = {}
    if opts.resume is not None:
        opts, trainer, progress, points, overrides, recorded = _resume(opts)
        run_dir = Path(opts.resume)
        seen = trainer.state.samples_seen
        done = _already_done(opts, points, seen)
        if done:                     # nothing to do: stop at once, change nothing
            best_ = max(points, key=lambda p: p.get("validation_accuracy",
                                                    p["test_accuracy"]), default=None)
            return ReproduceResult(run_dir, run_dir / RESULTS, points, best_, done,
                                   changed=False)
        ds, note = find_or_build_store(opts.dataset, trainer.cfg.levels, opts.data_dir,
                                       opts.store)
        if note and on_note is not None:
            on_note(note)
        if recorded and ds.checksums and recorded != ds.checksums:
            raise source_mismatch(f"the run {run_dir}", recorded, ds, opts.data_dir)
    else:
        ds = open_store(opts.dataset, opts.data_dir, opts.store)
        trainer = Trainer(adapt_config(opts.config, ds), seed=opts.seed)
        progress = Progress(next_eval=opts.eval_every_samples or 0,
                            next_checkpoint=opts.checkpoint_every_samples)
        points = []
        run_dir = Path(opts.run_dir) if opts.run_dir else runs.new_run_dir(
            opts.runs_root, f"reproduce-{opts.dataset}")
        if run_dir.exists() and any(p.name != ".lock" for p in run_dir.iterdir()):
            raise PipelineError(f"{run_dir} already holds a run; pass --resume {run_dir} "
                                "to continue it, or another --run-dir")
    opts = replace(opts, hours=DEFAULT_HOURS if opts.hours is None else opts.hours,
                   target=DEFAULT_TARGET if opts.target is None else opts.target)
    cfg = trainer.cfg
    check_levels(cfg, ds, store_option=False)
    train, test = ds.load("train"), ds.load("test")
    check_network_fits(cfg, ds, train)
    validation = None
    if opts.validation:
        check_validation(opts.validation, len(train), cfg.batch_size)
        train, validation = train.split_off(opts.validation)
    select_on = "validation_accuracy" if validation is not None else "test_accuracy"
    train_eval = train.head(TRAIN_EVAL_SAMPLES)
    run_dir.mkdir(parents=True, exist_ok=True)
    results = run_dir / RESULTS
    info = {"options": {"hours": opts.hours, "target": opts.target, "seed": opts.seed,
                        "sampling": cfg.sampling, "dataset": opts.dataset,
                        "eval_every_samples": opts.eval_every_samples,
                        "eval_every_positive": opts.eval_every_positive,
                        "checkpoint_every_samples": opts.checkpoint_every_samples,
                        "max_samples": opts.max_samples, "limit_train": None,
                        "validation": opts.validation,
                        "limit_test": None, "eval_every": 1, "checkpoint_every": 1},
            "kind": "reproduce", "results": RESULTS}
    if opts.resume is None:
        runs.write_text_atomic(run_dir / "config.toml", runs.to_toml(cfg.to_dict()))
        runs.write_text_atomic(run_dir / "run.json", json.dumps(info, indent=2) + "\n")
    elif overrides:          # --target / --max-samples given on resume: the run's new settings
        saved = json.loads((run_dir / "run.json").read_text())
        saved["options"].update(overrides)
        runs.write_text_atomic(run_dir / "run.json", json.dumps(saved, indent=2) + "\n")
    # the points after last.zarr will be recomputed, identically
    runs.write_text_atomic(results, "".join(json.dumps(p, sort_keys=True) + "\n"
                                            for p in points))
    tracker = WandbTracker(opts.wandb_mode, run_dir, {**cfg.to_dict(), **info["options"]},
                           name=run_dir.name)

    budget = opts.hours * 3600.0                   # this sitting's
    sitting = time.perf_counter()
    start = sitting - progress.wall_seconds         # wall time over all sittings
    best = max(points, key=lambda p: p[select_on], default=None)
    state = {"done": False, "stopped_by": "time budget"}

    def save(name: str, metrics: dict) -> None:
        ckpt.save(runs.checkpoints_dir(run_dir) / name, cfg, trainer.state_arrays(),
                  trainer.state_dict(), trainer.state.epoch, metrics, ds.name, ds.checksums,
                  {"data": store_info(ds)})

    def record(mid_batch: bool) -> dict:
        nonlocal best
        st = trainer.state
        began = time.perf_counter()
        te = evaluate(trainer.net, test)
        tr = evaluate(trainer.net, train_eval)
        pos, neg = trainer.net.live_connections()
        point = {
            "samples_seen": st.samples_seen, "epoch": st.epoch + st.cursor /
            trainer.batches_per_epoch(len(train)), "mid_batch": mid_batch,
            "wall_seconds": began - start, "train_seconds": began - start - progress.eval_seconds,
            "test_accuracy": te["accuracy"], "test_no_decision": te["no_decision"],
            "train_accuracy": tr["accuracy"], "positive_learns": st.positive_learns,
            "negative_learns": st.negative_learns, "batches_seen": st.batches_seen,
            "live_positive": int(pos.sum()), "live_negative": int(neg.sum()),
            "q_positive": trainer.positive.value, "q_negative": trainer.negative.value,
            **{f"total_{k}": v for k, v in vars(st.counters).items()},
        }
        if validation is not None:
            va = evaluate(trainer.net, validation)
            point.update(validation_accuracy=va["accuracy"],
                         validation_no_decision=va["no_decision"])
        points.append(point)
        runs.append_jsonl(results, point)
        tracker.log(point, step=st.samples_seen)
        if best is None or point[select_on] > best[select_on]:
            best = point
            progress.best_test_accuracy = point["test_accuracy"]
            save("best.zarr", {**point, "confusion": te["confusion"]})
        progress.eval_seconds += time.perf_counter() - began
        if 100 * point["test_accuracy"] >= opts.target:
            state["done"], state["stopped_by"] = True, f"target {opts.target} % reached"
        if on_point is not None:
            on_point(point)
        return point

    def checkpoint_last() -> None:
        progress.wall_seconds = time.perf_counter() - start
        save("last.zarr", {"reproduce": vars(progress),
                           "samples_seen": trainer.state.samples_seen})

    if opts.eval_every_positive:
        trainer.eval_every_positive = opts.eval_every_positive
        trainer.on_eval = lambda: record(mid_batch=True)

    with StopFlag() as stop:
        while not state["done"]:
            def on_batch(n: int) -> bool:
                seen = trainer.state.samples_seen
                faults.hit("batch", trainer.state.batches_seen)
                if opts.eval_every_samples and seen >= progress.next_eval:
                    progress.next_eval += opts.eval_every_samples
                    record(mid_batch=False)
                if opts.max_samples and seen >= opts.max_samples:
                    state["done"], state["stopped_by"] = True, f"{opts.max_samples:,} samples seen"
                if time.perf_counter() - sitting >= budget:
                    state["done"], state["stopped_by"] = True, "time budget"
                if stop.requested:
                    state["done"], state["stopped_by"] = True, "interrupted"
                if seen >= progress.next_checkpoint:
                    progress.next_checkpoint += opts.checkpoint_every_samples
                    checkpoint_last()
                return not state["done"]
            trainer.train_epoch(train.planes, train.pixels, train.labels, on_batch)
    if not points or points[-1]["samples_seen"] != trainer.state.samples_seen:
        record(mid_batch=False)
    checkpoint_last()
    tracker.log_network(trainer.net, step=trainer.state.samples_seen)
    tracker.finish()
    return ReproduceResult(run_dir, results, points, best, state["stopped_by"])
