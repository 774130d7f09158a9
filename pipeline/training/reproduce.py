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
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from snnpipe.engine import Config
from snnpipe.engine.trainer import Trainer
from snnpipe.pipeline.errors import PipelineError
from snnpipe.pipeline.training.tracking import WandbTracker, wandb_mode
from snnpipe.stores import atomic, faults, runfolder, runs
from snnpipe.stores.errors import StoreError

if TYPE_CHECKING:
    from snnpipe.stores.dataset import Dataset, Split

# The command line imports this module for its defaults (ReproduceOptions), so what only a
# run needs (zarr, dask: half a second) is imported when a run starts, in `_open_data`.

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
    plots: bool = False     # draw the run's plots when a sitting changed it (the CLI's way)


@dataclass
class ReproduceResult:
    run_dir: Path
    results_file: Path
    points: list[dict]
    best: dict | None
    stopped_by: str
    changed: bool = True      # False: a resumed run that had nothing left to do
    plots: list[Path] = field(default_factory=list)   # drawn with ReproduceOptions.plots


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


def reproduce_options(preset: str, config: Path | None, sets: list[str] | None,
                      seed: int | None, sampling: str | None, wandb: str | None,
                      **kw) -> ReproduceOptions:
    """A reproduce run's options from the command line's: the effective configuration, the
    preset's seed, the wandb mode checked. A new run given no evaluation schedule evaluates
    every `ReproduceOptions.eval_every_samples` samples."""
    from snnpipe.pipeline.training.configuration import build_config, preset_seed
    mode = wandb_mode(wandb)
    if all(kw.get(k) is None for k in ("resume", "eval_every_samples", "eval_every_positive")):
        kw.pop("eval_every_samples", None)          # the default schedule
    sets = [*(sets or []), *([f"sampling={sampling}"] if sampling else [])]
    cfg, run = build_config(preset, config, sets)
    if kw.get("resume") is None and run.get("snapshots"):
        raise PipelineError(f"snapshots = {run['snapshots']} sums a `train` run's last "
                            "epochs, and reproduce has no epochs; use `snnpipe train`, or "
                            "`snnpipe ensemble` on checkpoints (or --set snapshots=0)")
    return ReproduceOptions(config=cfg, seed=preset_seed(preset, seed), wandb_mode=mode, **kw)


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


def _resume(opts: ReproduceOptions
            ) -> tuple[ReproduceOptions, Trainer, Progress, list[dict], dict, dict]:
    """Reload a reproduce run folder: its options, last.zarr and the points up to it, the
    options given that override the run's, and the source checksums it was trained on."""
    from snnpipe.stores import checkpoint as ckpt
    run_dir = Path(opts.resume)
    info = _read_info(run_dir)
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
    runfolder.check_options(run_dir, info, "reproduce")
    saved = info["options"]
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
        checkpoint_every_samples=saved.get("checkpoint_every_samples",
                                           ReproduceOptions.checkpoint_every_samples),
        seed=saved["seed"], dataset=saved["dataset"], data_dir=opts.data_dir, store=opts.store,
        run_dir=run_dir, wandb_mode=opts.wandb_mode, resume=run_dir,
        validation=saved.get("validation", 0), plots=opts.plots)
    try:
        trainer = Trainer.from_state(cp.cfg, cp.arrays, cp.state)
    except (KeyError, TypeError, ValueError) as exc:
        raise PipelineError(f"{last}: trainer state is invalid ({exc}); start a new run") \
            from None
    seen = trainer.state.samples_seen
    points = [p for p in _read_points(run_dir / RESULTS)
              if isinstance(p, dict) and p.get("samples_seen", seen + 1) <= seen]
    return opts, trainer, progress, points, overrides, cp.checksums


def _read_info(run_dir: Path) -> dict:
    try:
        return runfolder.read_info(run_dir, "reproduce")
    except StoreError as exc:
        raise PipelineError(str(exc)) from None


def _read_points(path: Path) -> list[dict]:
    return runs.read_jsonl(path)          # a torn last line (a killed append) is dropped


def reproduce(opts: ReproduceOptions, on_point=None, on_note=None) -> ReproduceResult:
    """Train until the target, the sample budget or the time budget; the run folder is
    locked while this process writes it. With `opts.plots`, a sitting that changed the run
    draws its plots."""
    _check(opts)
    if opts.resume is not None and opts.run_dir is not None:
        raise PipelineError("--resume continues the run in its own folder; drop --run-dir")
    folder = opts.resume or opts.run_dir
    if folder is None:
        res = _reproduce_locked(opts, on_point, on_note)
    else:
        if Path(folder).exists() and not Path(folder).is_dir():
            raise PipelineError(f"{folder} is a file; pass a folder")
        if opts.resume is not None and not Path(folder).is_dir():
            raise PipelineError(f"{folder}: no such run folder")
        with runfolder.locked(Path(folder)):
            res = _reproduce_locked(opts, on_point, on_note)
    if opts.plots and res.changed:
        from snnpipe.pipeline.results.plots import plot_run
        res.plots = plot_run(res.run_dir)
    return res


@dataclass
class _Data:
    """What a sitting trains and evaluates on."""

    ds: Dataset
    train: Split
    test: Split
    validation: Split | None
    train_eval: Split

    @property
    def select_on(self) -> str:
        return "validation_accuracy" if self.validation is not None else "test_accuracy"


def _reproduce_locked(opts: ReproduceOptions, on_point=None, on_note=None) -> ReproduceResult:
    overrides: dict = {}
    if opts.resume is not None:
        opts, trainer, progress, points, overrides, recorded = _resume(opts)
        run_dir = Path(opts.resume)
        done = _already_done(opts, points, trainer.state.samples_seen)
        if done:                     # nothing to do: stop at once, change nothing
            best = max(points, key=lambda p: p.get("validation_accuracy",
                                                   p["test_accuracy"]), default=None)
            return ReproduceResult(run_dir, run_dir / RESULTS, points, best, done,
                                   changed=False)
        ds = _resumed_store(opts, trainer, recorded, run_dir, on_note)
    else:
        ds, trainer, progress, points, run_dir = _begin(opts)
    opts = replace(opts, hours=DEFAULT_HOURS if opts.hours is None else opts.hours,
                   target=DEFAULT_TARGET if opts.target is None else opts.target)
    data = _open_data(trainer.cfg, ds, opts)
    info = _write_start(run_dir, opts, trainer.cfg, points, overrides)
    tracker = WandbTracker(opts.wandb_mode, run_dir, {**trainer.cfg.to_dict(), **info["options"]},
                           name=run_dir.name)
    sitting = _Sitting(opts, run_dir, trainer, data, progress, points, tracker, on_point)
    sitting.run()
    return ReproduceResult(run_dir, run_dir / RESULTS, points, sitting.best, sitting.stopped_by)


def _resumed_store(opts: ReproduceOptions, trainer: Trainer, recorded: dict, run_dir: Path,
                   on_note) -> Dataset:
    """The store the resumed run was trained on (found, or built for a fresh clone)."""
    from snnpipe.pipeline.datasets.data import find_or_build_store, source_mismatch
    ds, note = find_or_build_store(opts.dataset, trainer.cfg.levels, opts.data_dir, opts.store)
    if note and on_note is not None:
        on_note(note)
    if recorded and ds.checksums and recorded != ds.checksums:
        raise source_mismatch(f"the run {run_dir}", recorded, ds, opts.data_dir)
    return ds


def _begin(opts: ReproduceOptions) -> tuple[Dataset, Trainer, Progress, list[dict], Path]:
    """A new run: its store, a fresh trainer, and a run folder that holds no run yet."""
    from snnpipe.pipeline.datasets.data import adapt_config, open_store
    ds = open_store(opts.dataset, opts.data_dir, opts.store)
    trainer = Trainer(adapt_config(opts.config, ds), seed=opts.seed)
    progress = Progress(next_eval=opts.eval_every_samples or 0,
                        next_checkpoint=opts.checkpoint_every_samples)
    run_dir = Path(opts.run_dir) if opts.run_dir else runs.new_run_dir(
        opts.runs_root, f"reproduce-{opts.dataset}")
    if runfolder.holds_run(run_dir, "reproduce"):
        raise PipelineError(f"{run_dir} already holds a run; pass --resume {run_dir} "
                            "to continue it, or another --run-dir")
    return ds, trainer, progress, [], run_dir


def _open_data(cfg: Config, ds: Dataset, opts: ReproduceOptions) -> _Data:
    """The splits, checked against the network: train (less a validation hold-out), test,
    and the fixed train subset whose accuracy every point records."""
    from snnpipe.pipeline.datasets.data import check_levels, check_network_fits, check_validation
    check_levels(cfg, ds, store_option=False)
    train, test = ds.load("train"), ds.load("test")
    check_network_fits(cfg, ds, train)
    validation = None
    if opts.validation:
        check_validation(opts.validation, len(train), cfg.batch_size)
        train, validation = train.split_off(opts.validation)
    return _Data(ds, train, test, validation, train.head(TRAIN_EVAL_SAMPLES))


def _write_start(run_dir: Path, opts: ReproduceOptions, cfg: Config, points: list[dict],
                 overrides: dict) -> dict:
    """config.toml and run.json of a new run (or a resumed run's overridden options), and the
    points up to last.zarr (those after it will be recomputed, identically)."""
    run_dir.mkdir(parents=True, exist_ok=True)
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
        runfolder.write_info(run_dir, info)
    elif overrides:          # --target / --max-samples given on resume: the run's new settings
        runfolder.update_options(run_dir, overrides)
    runs.write_text_atomic(run_dir / RESULTS, "".join(json.dumps(p, sort_keys=True) + "\n"
                                                      for p in points))
    return info


class _Sitting:
    """One sitting of a run: train batch after batch, record a point at each evaluation,
    write last.zarr on schedule, until a stop condition holds."""

    def __init__(self, opts: ReproduceOptions, run_dir: Path, trainer: Trainer, data: _Data,
                 progress: Progress, points: list[dict], tracker: WandbTracker,
                 on_point=None) -> None:
        self.opts, self.run_dir, self.trainer, self.data = opts, run_dir, trainer, data
        self.progress, self.points, self.tracker, self.on_point = (progress, points, tracker,
                                                                   on_point)
        self.results = run_dir / RESULTS
        self.budget = opts.hours * 3600.0                 # this sitting's
        self.sitting = time.perf_counter()
        self.start = self.sitting - progress.wall_seconds  # wall time over all sittings
        self.best = max(points, key=lambda p: p[data.select_on], default=None)
        self.done, self.stopped_by = False, "time budget"

    def run(self) -> None:
        from snnpipe.pipeline.training.train import StopFlag
        trainer, split = self.trainer, self.data.train
        if self.opts.eval_every_positive:
            trainer.eval_every_positive = self.opts.eval_every_positive
            trainer.on_eval = lambda: self.record(mid_batch=True)
        with StopFlag() as stop:
            while not self.done:
                trainer.train_epoch(split.planes, split.pixels, split.labels,
                                    lambda n: self.on_batch(stop))
        if not self.points or self.points[-1]["samples_seen"] != trainer.state.samples_seen:
            self.record(mid_batch=False)
        self.checkpoint_last()
        self.tracker.log_network(trainer.net, step=trainer.state.samples_seen)
        self.tracker.finish()

    def stop(self, why: str) -> None:
        self.done, self.stopped_by = True, why

    def on_batch(self, stop) -> bool:
        opts, progress = self.opts, self.progress
        seen = self.trainer.state.samples_seen
        faults.hit("batch", self.trainer.state.batches_seen)
        if opts.eval_every_samples and seen >= progress.next_eval:
            progress.next_eval += opts.eval_every_samples
            self.record(mid_batch=False)
        if opts.max_samples and seen >= opts.max_samples:
            self.stop(f"{opts.max_samples:,} samples seen")
        if time.perf_counter() - self.sitting >= self.budget:
            self.stop("time budget")
        if stop.requested:
            self.stop("interrupted")
        if seen >= progress.next_checkpoint:
            progress.next_checkpoint += opts.checkpoint_every_samples
            self.checkpoint_last()
        return not self.done

    def record(self, mid_batch: bool) -> dict:
        """Evaluate, append the point to results.jsonl and wandb, keep best.zarr."""
        from snnpipe.pipeline.results.evaluate import evaluate
        trainer, data, progress = self.trainer, self.data, self.progress
        began = time.perf_counter()
        te = evaluate(trainer.net, data.test)
        point = self._point(mid_batch, began, te, evaluate(trainer.net, data.train_eval))
        if data.validation is not None:
            va = evaluate(trainer.net, data.validation)
            point.update(validation_accuracy=va["accuracy"],
                         validation_no_decision=va["no_decision"])
        self.points.append(point)
        runs.append_jsonl(self.results, point)
        self.tracker.log(point, step=trainer.state.samples_seen)
        select_on = data.select_on
        if self.best is None or point[select_on] > self.best[select_on]:
            self.best = point
            progress.best_test_accuracy = point["test_accuracy"]
            self.save("best.zarr", {**point, "confusion": te["confusion"]})
        progress.eval_seconds += time.perf_counter() - began
        if 100 * point["test_accuracy"] >= self.opts.target:
            self.stop(f"target {self.opts.target} % reached")
        if self.on_point is not None:
            self.on_point(point)
        return point

    def _point(self, mid_batch: bool, began: float, te: dict, tr: dict) -> dict:
        trainer, st = self.trainer, self.trainer.state
        pos, neg = trainer.net.live_connections()
        return {
            "samples_seen": st.samples_seen, "epoch": st.epoch + st.cursor /
            trainer.batches_per_epoch(len(self.data.train)), "mid_batch": mid_batch,
            "wall_seconds": began - self.start,
            "train_seconds": began - self.start - self.progress.eval_seconds,
            "test_accuracy": te["accuracy"], "test_no_decision": te["no_decision"],
            "train_accuracy": tr["accuracy"], "positive_learns": st.positive_learns,
            "negative_learns": st.negative_learns, "batches_seen": st.batches_seen,
            "live_positive": int(pos.sum()), "live_negative": int(neg.sum()),
            "q_positive": trainer.positive.value, "q_negative": trainer.negative.value,
            **{f"total_{k}": v for k, v in vars(st.counters).items()},
        }

    def checkpoint_last(self) -> None:
        self.progress.wall_seconds = time.perf_counter() - self.start
        self.save("last.zarr", {"reproduce": vars(self.progress),
                                "samples_seen": self.trainer.state.samples_seen})

    def save(self, name: str, metrics: dict) -> None:
        from snnpipe.pipeline.datasets.data import store_info
        from snnpipe.stores import checkpoint as ckpt
        trainer, ds = self.trainer, self.data.ds
        ckpt.save(runs.checkpoints_dir(self.run_dir) / name, trainer.cfg, trainer.state_arrays(),
                  trainer.state_dict(), trainer.state.epoch, metrics, ds.name, ds.checksums,
                  {"data": store_info(ds)})
