"""The training stage: epochs over the preprocessed store, evaluation, checkpoints, metrics.

Read top to bottom: open the data, build or resume the trainer, then per epoch train ->
evaluate -> checkpoint -> record. Ctrl-C (SIGINT) or SIGTERM finishes the current batch,
writes `last.zarr` and returns `interrupted`; `--resume` continues bit-identically.
"""

from __future__ import annotations

import shutil
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from snnpipe.engine import Config
from snnpipe.engine.network import Network
from snnpipe.engine.trainer import Trainer
from snnpipe.pipeline.datasets.data import (
    adapt_config,
    check_levels,
    check_network_fits,
    check_validation,
    find_or_build_store,
    open_store,
    source_mismatch,
    store_info,
)
from snnpipe.pipeline.errors import PipelineError
from snnpipe.pipeline.resources import check_memory
from snnpipe.pipeline.results.evaluate import evaluate
from snnpipe.pipeline.training.configuration import read_config_file, read_run_keys, run_keys_set
from snnpipe.pipeline.training.ensemble import snapshot_ensemble
from snnpipe.pipeline.training.tracking import WandbTracker
from snnpipe.stores import atomic, faults, runfolder, runs
from snnpipe.stores import checkpoint as ckpt
from snnpipe.stores.dataset import Dataset, Split
from snnpipe.stores.errors import StoreError

# Fields that measure the machine, not the learning: excluded from bit-identity checks.
TIMING_KEYS = ("seconds", "samples_per_s", "eval_samples_per_s")


@dataclass
class TrainOptions:
    config: Config = field(default_factory=Config)
    epochs: int = 30
    dataset: str = "mnist"
    data_dir: Path = Path("data")
    store: Path | None = None
    seed: int = 0
    run_dir: Path | None = None
    runs_root: Path = Path("runs")
    sampling: str | None = None        # None: the config's (Config.sampling)
    limit_train: int | None = None
    limit_test: int | None = None
    validation: int = 0                # hold out the last N training images; select on them
    group: str | None = None           # wandb group (a sweep's name)
    eval_every: int = 1
    checkpoint_every: int = 1
    snapshots: int = 0                 # > 0: at the end, also vote with the last K epochs
    resume: Path | None = None
    wandb_mode: str = "offline"


class Reporter(Protocol):
    """What the CLI shows; the stage never prints."""

    def start(self, info: dict) -> None: ...
    def epoch_start(self, epoch: int, samples: int) -> None: ...
    def batch(self, samples: int, trainer: Trainer) -> None: ...
    def epoch_end(self, row: dict) -> None: ...
    def message(self, text: str) -> None: ...


class SilentReporter:
    def start(self, info: dict) -> None: ...
    def epoch_start(self, epoch: int, samples: int) -> None: ...
    def batch(self, samples: int, trainer: Trainer) -> None: ...
    def epoch_end(self, row: dict) -> None: ...
    def message(self, text: str) -> None: ...


@dataclass
class TrainResult:
    run_dir: Path
    rows: list[dict]
    interrupted: bool
    warnings: list[str]


class StopFlag:
    """SIGINT/SIGTERM ask to stop after the current batch; a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict = {}

    def __enter__(self) -> StopFlag:
        # Signals reach the main thread only; a trial in a dask worker thread is stopped by
        # cancelling its sweep instead.
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested and signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


# --------------------------------------------------------------------------- setup
def _run_json(run_dir: Path, kind: str = "train") -> dict:
    try:
        return runfolder.read_info(run_dir, kind)
    except StoreError as exc:
        raise PipelineError(str(exc)) from None


def _resume_point(run_dir: Path, reporter: Reporter) -> ckpt.Checkpoint | None:
    """The newest usable checkpoint: last.zarr (restored from a hidden complete copy if a
    replace was interrupted), else the newest epoch-NNNN.zarr that loads. None: the run never
    wrote one."""
    folder = runs.checkpoints_dir(run_dir)
    for note in atomic.recover_folder(run_dir) + atomic.recover_folder(folder):
        reporter.message(note)
    for path in [folder / "last.zarr", *reversed(runs.epoch_checkpoints(run_dir))]:
        if not path.exists():
            continue
        try:
            cp = ckpt.load(path)
        except StoreError as exc:
            reporter.message(f"{str(exc).split('; use another')[0]}; trying an older "
                             "checkpoint")
            continue
        if path.name != "last.zarr":
            reporter.message(f"resuming from {path} (no usable last.zarr); last.zarr "
                             "rebuilt from it")
            with atomic.atomic_directory(folder / "last.zarr", replace=True) as tmp:
                shutil.copytree(path, tmp)
        return cp
    return None


def _saved_options(opts: TrainOptions, run_dir: Path, cfg: Config) -> TrainOptions:
    saved = _run_json(run_dir)["options"]
    try:
        return TrainOptions(
            config=cfg, epochs=opts.epochs, dataset=saved["dataset"], data_dir=opts.data_dir,
            store=opts.store, seed=saved["seed"], run_dir=run_dir, sampling=saved["sampling"],
            limit_train=saved["limit_train"], limit_test=saved["limit_test"],
            eval_every=saved["eval_every"], checkpoint_every=saved["checkpoint_every"],
            validation=saved.get("validation", 0), group=saved.get("group"),
            snapshots=(saved["snapshots"] if "snapshots" in saved
                       else _snapshots_before_the_move(run_dir)),
            resume=run_dir, wandb_mode=opts.wandb_mode)
    except KeyError as exc:
        raise PipelineError(f"{run_dir}/run.json lacks option {exc}; start a new run") from None


def _snapshots_before_the_move(run_dir: Path) -> int:
    """A run begun when `snapshots` was a Config field: its config.toml holds it."""
    path = run_dir / "config.toml"
    return read_run_keys(path).get("snapshots", 0) if path.is_file() else 0


def _history(cp: ckpt.Checkpoint, run_dir: Path) -> tuple[list[dict], float | None, int | None]:
    """Rows, best accuracy and best epoch as the checkpoint recorded them (older checkpoints
    without that record fall back to the log)."""
    run = cp.attrs.get("run")
    if isinstance(run, dict) and isinstance(run.get("history"), list):
        return run["history"], run.get("best_accuracy"), run.get("best_epoch")
    done = cp.state["trainer"]["epoch"]
    rows = [r for r in runs.read_metrics(run_dir) if r.get("epoch", 0) <= done]
    key = selection_key(rows[0] if rows else {})
    scored = [r for r in rows if r.get(key) is not None]
    best = max(scored, key=lambda r: r[key], default=None)
    return rows, best and best[key], best and best["epoch"]


def selection_key(row: dict) -> str:
    """What best.zarr is chosen on: validation accuracy when a validation split is held
    out, else (as D𝜋 did) test accuracy."""
    return "validation_accuracy" if "validation_accuracy" in row else "test_accuracy"


def _check_run_dir(run_dir: Path) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise PipelineError(f"--run-dir {run_dir} is a file; pass a folder")


# ---------------------------------------------------------------------- the stage
def train(opts: TrainOptions, reporter: Reporter | None = None) -> TrainResult:
    """Run (or resume) training. Ctrl-C / SIGTERM are caught from the first instant."""
    reporter = reporter or SilentReporter()
    with StopFlag() as stop:
        faults.hit("start", 1)
        if opts.resume is not None:
            run_dir = Path(opts.resume)
            if not run_dir.is_dir():
                raise PipelineError(f"{run_dir}: no such run folder")
            _run_json(run_dir)
        else:
            run_dir = Path(opts.run_dir) if opts.run_dir else runs.new_run_dir(
                opts.runs_root, opts.dataset)
            _check_run_dir(run_dir)
        with runfolder.locked(run_dir):
            return _train_locked(opts, run_dir, reporter, stop)


def _train_locked(opts: TrainOptions, run_dir: Path, reporter: Reporter,
                  stop: StopFlag) -> TrainResult:
    opts, checkpoint = _start_or_resume(opts, run_dir, reporter)
    _check_options(opts)
    cfg = _effective_config(opts)
    ds, cfg = _open_store(opts, cfg, reporter)
    check_levels(cfg, ds)
    check_memory(cfg)
    if checkpoint is not None and checkpoint.checksums != ds.checksums:
        raise source_mismatch(f"the run {run_dir}", checkpoint.checksums, ds, opts.data_dir)
    train_split, eval_split = _splits(opts, cfg, ds)
    if checkpoint is not None:
        trainer, history, info = _restore(opts, run_dir, cfg, checkpoint, len(train_split))
    else:
        trainer, history, info = _begin(opts, run_dir, cfg)
    if stop.requested:                           # Ctrl-C during start-up: nothing trained
        return TrainResult(run_dir, history[0], True, [])
    tracker = WandbTracker(opts.wandb_mode, run_dir, {**cfg.to_dict(), **info["options"]},
                           name=run_dir.name, resume_id=info.get("wandb_id"),
                           group=opts.group)
    if tracker.run_id and tracker.run_id != info.get("wandb_id"):
        info["wandb_id"] = tracker.run_id
        runfolder.write_info(run_dir, info)
    warnings = [tracker.warning] if tracker.warning else []
    if tracker.warning:
        reporter.message(tracker.warning)
    epochs = _Epochs(opts, run_dir, trainer, ds, train_split, eval_split, history, reporter,
                     stop, tracker)
    reporter.start({"run_dir": str(run_dir), "train": len(train_split), "test": len(eval_split),
                    "eval_split": epochs.eval_name,
                    "epoch": trainer.state.epoch, "epochs": opts.epochs, "resumed":
                    checkpoint is not None, "config": cfg.to_dict()})
    interrupted = epochs.run()
    if tracker.warning and tracker.warning not in warnings:
        warnings.append(tracker.warning)
    return TrainResult(run_dir, epochs.rows, interrupted, warnings)


def _start_or_resume(opts: TrainOptions, run_dir: Path, reporter: Reporter
                     ) -> tuple[TrainOptions, ckpt.Checkpoint | None]:
    """The run's own options and the checkpoint to go on from (resume), or a folder that
    holds no run yet, cleaned of half-written files (a new run)."""
    if opts.resume is None:
        if runfolder.holds_run(run_dir, "train"):
            raise PipelineError(f"{run_dir} already holds a run; pass --resume {run_dir} "
                                "to continue it, or another --run-dir")
        atomic.recover_folder(run_dir)       # half-written files of a run that never began
        return opts, None
    checkpoint = _resume_point(run_dir, reporter)
    if checkpoint is not None:
        return _saved_options(opts, run_dir, checkpoint.cfg), checkpoint
    opts = _saved_options(opts, run_dir, _saved_config(run_dir))   # killed before one
    reporter.message(f"{run_dir} has no checkpoint yet; starting it from the beginning")
    return opts, None


def _check_options(opts: TrainOptions) -> None:
    if opts.epochs < 1 or opts.eval_every < 1 or opts.checkpoint_every < 1:
        raise PipelineError("--epochs, --eval-every and --checkpoint-every must be >= 1")
    if opts.snapshots < 0:
        raise PipelineError(f"--snapshots {opts.snapshots}: must be >= 0 (0 = off)")
    if opts.validation < 0:
        raise PipelineError(f"--validation {opts.validation}: must be >= 0")
    for name, limit in (("--limit-train", opts.limit_train), ("--limit-test", opts.limit_test)):
        if limit is not None and limit < 1:
            raise PipelineError(f"{name} {limit}: must be >= 1 (or left out for all images)")


def _effective_config(opts: TrainOptions) -> Config:
    """The config with the run's sampling (recorded back into `opts.sampling`)."""
    cfg = opts.config
    if opts.sampling is not None and opts.sampling != cfg.sampling:
        try:
            cfg = cfg.replace(sampling=opts.sampling)
        except ValueError as exc:
            raise PipelineError(f"invalid configuration: {exc}") from None
    opts.sampling = cfg.sampling
    return cfg


def _open_store(opts: TrainOptions, cfg: Config, reporter: Reporter) -> tuple[Dataset, Config]:
    """The store of the run (a resumed one: found or built for a fresh clone; a new one:
    the store of its levels, the config adapted to it)."""
    if opts.resume is not None:
        ds, note = find_or_build_store(opts.dataset, cfg.levels, opts.data_dir, opts.store)
        if note:
            reporter.message(note)
        return ds, cfg
    ds = open_store(opts.dataset, opts.data_dir, opts.store)
    if opts.store is None and tuple(cfg.levels) != ds.levels:   # e.g. a preset's levels
        ds, note = find_or_build_store(opts.dataset, cfg.levels, opts.data_dir)
        if note:
            reporter.message(note)
    return ds, adapt_config(cfg, ds)


def _splits(opts: TrainOptions, cfg: Config, ds: Dataset) -> tuple[Split, Split]:
    """Training images, and what is evaluated: the validation hold-out, else (as D𝜋 did)
    test."""
    train_split = ds.load("train", opts.limit_train)
    check_network_fits(cfg, ds, train_split)
    if opts.validation:
        check_validation(opts.validation, len(train_split), cfg.batch_size)
        return train_split.split_off(opts.validation)
    return train_split, ds.load("test", opts.limit_test)


_History = tuple[list[dict], float | None, int | None]     # rows, best accuracy, its epoch


def _restore(opts: TrainOptions, run_dir: Path, cfg: Config, checkpoint: ckpt.Checkpoint,
             n_train: int) -> tuple[Trainer, _History, dict]:
    """The trainer of a resumed run, its history (the log repaired from it) and run.json."""
    try:
        trainer = Trainer.from_state(cfg, checkpoint.arrays, checkpoint.state)
    except (KeyError, TypeError, ValueError) as exc:
        raise PipelineError(f"{checkpoint.path}: trainer state is invalid ({exc})") from None
    if trainer.state.cursor and len(trainer._order) not in (0, n_train):
        raise PipelineError(f"{checkpoint.path}: its epoch order covers "
                            f"{len(trainer._order)} samples, the training split "
                            f"{n_train}; resume on the same data")
    history = _history(checkpoint, run_dir)
    runs.write_metrics(run_dir, history[0])      # repairs a torn, short or deleted log
    info = _run_json(run_dir)
    done = trainer.state.epoch
    if opts.epochs < done:
        raise PipelineError(f"{run_dir} has already trained {done} epochs; --epochs is "
                            f"the total, so pass --epochs {done + 1} or more to go on")
    return trainer, history, info


def _begin(opts: TrainOptions, run_dir: Path, cfg: Config) -> tuple[Trainer, _History, dict]:
    """A new run: a fresh trainer, and the run folder's config.toml and run.json."""
    trainer = Trainer(cfg, seed=opts.seed)
    options = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()
               if k not in ("config", "resume", "run_dir", "runs_root", "data_dir",
                            "store", "wandb_mode")}
    info = {"options": options, "wandb_id": None, "kind": "train"}
    runs.write_text_atomic(run_dir / "config.toml", runs.to_toml(
        {**cfg.to_dict(), **run_keys_set({"snapshots": opts.snapshots})}))
    runfolder.write_info(run_dir, info)
    return trainer, ([], None, None), info


class _Epochs:
    """The epochs of a run: train -> evaluate -> checkpoint -> record, until the last epoch
    or a stop request (then last.zarr holds the batches done)."""

    def __init__(self, opts: TrainOptions, run_dir: Path, trainer: Trainer, ds: Dataset,
                 train_split: Split, eval_split: Split, history: _History, reporter: Reporter,
                 stop: StopFlag, tracker: WandbTracker) -> None:
        self.opts, self.run_dir, self.trainer, self.ds = opts, run_dir, trainer, ds
        self.train_split, self.eval_split = train_split, eval_split
        self.rows, self.best, self.best_epoch = history
        self.reporter, self.stop, self.tracker = reporter, stop, tracker
        self.eval_name = "validation" if opts.validation else "test"

    def run(self) -> bool:
        """Train the remaining epochs; True if interrupted before the last."""
        trainer = self.trainer
        try:
            while trainer.state.epoch < self.opts.epochs and not self.stop.requested:
                if not self.one_epoch(trainer.state.epoch + 1):     # 1-based for people
                    break
            return trainer.state.epoch < self.opts.epochs
        finally:
            self.tracker.finish()

    def on_batch(self, n: int) -> bool:
        self.reporter.batch(n, self.trainer)
        faults.hit("batch", self.trainer.state.batches_seen)
        return not self.stop.requested

    def one_epoch(self, epoch: int) -> bool:
        """One epoch; False if it was stopped part-way (last.zarr then holds its batches)."""
        trainer, split, opts = self.trainer, self.train_split, self.opts
        self.reporter.epoch_start(epoch, len(split))
        start = time.perf_counter()
        if not trainer.train_epoch(split.planes, split.pixels, split.labels, self.on_batch):
            _save(runs.checkpoints_dir(self.run_dir) / "last.zarr", trainer, epoch - 1, {},
                  self.ds, _record(self.rows, self.best, self.best_epoch), opts)
            return False
        row = _epoch_row(trainer, epoch, time.perf_counter() - start)
        self.evaluate(row, epoch)
        snaps = self.snapshots(row, epoch)
        acc = row[f"{self.eval_name}_accuracy"]
        improved = acc is not None and (self.best is None or acc > self.best)
        if improved:
            self.best, self.best_epoch = acc, epoch
        self.rows.append(row)
        _checkpoint(self.run_dir, trainer, epoch, row, self.ds, opts, improved,
                    _record(self.rows, self.best, self.best_epoch), snaps)
        runs.append_metrics(self.run_dir, row)
        self.tracker.log({k: v for k, v in row.items() if v is not None}, step=epoch)
        self.tracker.log_network(trainer.net, step=epoch)
        self.reporter.epoch_end(row)
        return True

    def evaluate(self, row: dict, epoch: int) -> None:
        name = self.eval_name
        if epoch % self.opts.eval_every == 0 or epoch == self.opts.epochs:
            result = evaluate(self.trainer.net, self.eval_split)
            row.update({f"{name}_accuracy": result["accuracy"],
                        f"{name}_no_decision": result["no_decision"],
                        "eval_samples_per_s": result["samples_per_s"]})
        else:
            row.update({f"{name}_accuracy": None, f"{name}_no_decision": None,
                        "eval_samples_per_s": None})

    def snapshots(self, row: dict, epoch: int) -> tuple[Network, list[str]] | None:
        """The `snapshots` option, at the final epoch: the run's last K networks as one,
        scored into the row."""
        k, name = self.opts.snapshots, self.eval_name
        if not k or epoch != self.opts.epochs:
            return None
        snaps = snapshot_ensemble(self.trainer, runs.epoch_checkpoints(self.run_dir), epoch, k)
        if len(snaps[1]) < min(k, epoch):
            self.reporter.message(f"snapshots: only {len(snaps[1])} of the last "
                                  f"{k} epoch checkpoints are in "
                                  f"{runs.checkpoints_dir(self.run_dir)}; the ensemble sums "
                                  "those")
        result = evaluate(snaps[0], self.eval_split)
        row.update({"snapshots": len(snaps[1]),
                    f"snapshots_{name}_accuracy": result["accuracy"],
                    f"snapshots_{name}_no_decision": result["no_decision"]})
        return snaps


def _saved_config(run_dir: Path) -> Config:
    return read_config_file(run_dir / "config.toml")


def _record(rows: list[dict], best: float | None, best_epoch: int | None) -> dict:
    """What a checkpoint keeps of the run: the whole log and the best so far (so a kill
    that loses a log row, or the log itself, loses nothing)."""
    return {"history": list(rows), "best_accuracy": best, "best_epoch": best_epoch}


def _epoch_row(trainer: Trainer, epoch: int, seconds: float) -> dict:
    st = trainer.state
    c = trainer.reset_counters()
    pos, neg = trainer.net.live_connections()
    samples = max(c.samples, 1)
    return {
        "epoch": epoch,
        "samples_seen": st.samples_seen,
        "train_online_accuracy": c.online_correct / samples,
        "train_online_no_decision": c.online_no_decision / samples,
        "positive_steps": c.positive_steps,
        "negative_steps": c.negative_steps,
        "positive_learns_total": st.positive_learns,
        "negative_learns_total": st.negative_learns,
        "grown": c.grown,
        "pruned_reinforce": c.pruned_reinforce,
        "pruned_decay": c.pruned_decay,
        "live_positive": int(pos.sum()),
        "live_negative": int(neg.sum()),
        "live_connections": int(pos.sum() + neg.sum()),
        "live_positive_per_column": pos.tolist(),
        "live_negative_per_column": neg.tolist(),
        "q_positive": trainer.positive.value,
        "q_negative": trainer.negative.value,
        "seconds": seconds,
        "samples_per_s": c.samples / max(seconds, 1e-9),
    }


def _save(path: Path, trainer: Trainer, epoch: int, metrics: dict, ds: Dataset,
          record: dict, opts: TrainOptions) -> None:
    """The `holdout` attribute names the training images the run never trained on (the
    last `validation` of the first `limit_train`); `eval --split validation` reads it."""
    ckpt.save(path, trainer.cfg, trainer.state_arrays(), trainer.state_dict(), epoch,
              metrics, ds.name, ds.checksums,
              {"run": record, "data": store_info(ds), "holdout": _holdout(opts)})


def _holdout(opts: TrainOptions) -> dict:
    return {"validation": opts.validation, "limit_train": opts.limit_train}


def _checkpoint(run_dir: Path, trainer: Trainer, epoch: int, row: dict, ds: Dataset,
                opts: TrainOptions, improved: bool, record: dict,
                snaps: tuple[Network, list[str]] | None = None) -> None:
    """The order of writes is the run folder's journal: epoch-N, then snapshots.zarr (the
    `snapshots` option, final epoch), then best, then last.zarr (the commit point: it holds
    the log and the best), then the log row. A kill before last.zarr is in place redoes the
    epoch on resume, rewriting the same files. With `snapshots` = K, the last K epochs'
    checkpoints are always kept: they are the ensemble's members."""
    folder = runs.checkpoints_dir(run_dir)
    if (epoch % opts.checkpoint_every == 0 or epoch == opts.epochs
            or epoch > opts.epochs - opts.snapshots):
        _save(runs.epoch_checkpoint(run_dir, epoch), trainer, epoch, row, ds, record, opts)
    if snaps is not None:
        net, members = snaps
        ckpt.save(folder / "snapshots.zarr", net.cfg,
                  {"receptors": net.receptors, "weights": net.weights},
                  Trainer(net.cfg).state_dict(), epoch, row, ds.name, ds.checksums,
                  {"ensemble": {"members": members, "neurons": [trainer.cfg.neurons]
                                * len(members)},
                   "data": store_info(ds), "holdout": _holdout(opts)})
    if improved:
        _save(folder / "best.zarr", trainer, epoch, row, ds, record, opts)
    _save(folder / "last.zarr", trainer, epoch, row, ds, record, opts)


def strip_timing(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in TIMING_KEYS}

