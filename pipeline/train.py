"""The training stage: epochs over the preprocessed store, evaluation, checkpoints, metrics.

Read top to bottom: open the data, build or resume the trainer, then per epoch train ->
evaluate -> checkpoint -> record. Ctrl-C (SIGINT) or SIGTERM finishes the current batch,
writes `last.zarr` and returns `interrupted`; `--resume` continues bit-identically.
"""

from __future__ import annotations

import json
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from engine import Config
from engine.trainer import Trainer
from stores import checkpoint as ckpt
from stores import faults, runs
from stores.dataset import Dataset

from .data import check_levels, open_store
from .errors import PipelineError
from .evaluate import evaluate
from .tracking import WandbTracker

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
    eval_every: int = 1
    checkpoint_every: int = 1
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
def _run_json(run_dir: Path) -> dict:
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        raise PipelineError(f"{run_dir} is not an snnpipe run folder (no run.json)")
    return json.loads(path.read_text())


def _resume_options(opts: TrainOptions) -> tuple[TrainOptions, ckpt.Checkpoint]:
    run_dir = Path(opts.resume)
    info = _run_json(run_dir)
    last = runs.checkpoints_dir(run_dir) / "last.zarr"
    if not last.exists():
        raise PipelineError(f"{run_dir} has no checkpoints/last.zarr to resume from")
    cp = ckpt.load(last)
    saved = info["options"]
    resumed = TrainOptions(
        config=cp.cfg, epochs=opts.epochs, dataset=saved["dataset"],
        data_dir=opts.data_dir, store=opts.store, seed=saved["seed"], run_dir=run_dir,
        sampling=saved["sampling"], limit_train=saved["limit_train"],
        limit_test=saved["limit_test"], eval_every=saved["eval_every"],
        checkpoint_every=saved["checkpoint_every"], resume=run_dir,
        wandb_mode=opts.wandb_mode)
    return resumed, cp


# ---------------------------------------------------------------------- the stage
def train(opts: TrainOptions, reporter: Reporter | None = None) -> TrainResult:
    reporter = reporter or SilentReporter()
    checkpoint = None
    if opts.resume is not None:
        opts, checkpoint = _resume_options(opts)
    if opts.epochs < 1 or opts.eval_every < 1 or opts.checkpoint_every < 1:
        raise PipelineError("--epochs, --eval-every and --checkpoint-every must be >= 1")
    cfg = opts.config
    if opts.sampling is not None and opts.sampling != cfg.sampling:
        try:
            cfg = cfg.replace(sampling=opts.sampling)
        except ValueError as exc:
            raise PipelineError(f"invalid configuration: {exc}") from None
    opts.sampling = cfg.sampling
    ds = open_store(opts.dataset, opts.data_dir, opts.store)
    check_levels(cfg, ds)
    if checkpoint is not None and checkpoint.checksums != ds.checksums:
        raise PipelineError(f"{ds.path} was built from other source files than the run; "
                            "resume against the store it was trained on")
    train_split = ds.load("train", opts.limit_train)
    test_split = ds.load("test", opts.limit_test)

    if checkpoint is not None:
        trainer = Trainer.from_state(cfg, checkpoint.arrays, checkpoint.state)
        run_dir = Path(opts.resume)
        runs.truncate_metrics(run_dir, checkpoint.state["trainer"]["epoch"])
        rows = runs.read_metrics(run_dir)
        info = _run_json(run_dir)
    else:
        trainer = Trainer(cfg, seed=opts.seed)
        run_dir = Path(opts.run_dir) if opts.run_dir else runs.new_run_dir(opts.runs_root,
                                                                           opts.dataset)
        if run_dir.exists() and any(run_dir.iterdir()):
            raise PipelineError(f"{run_dir} already holds a run; pass --resume {run_dir} "
                                "to continue it, or another --run-dir")
        run_dir.mkdir(parents=True, exist_ok=True)
        rows = []
        options = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()
                   if k not in ("config", "resume", "run_dir", "runs_root", "data_dir",
                                "store", "wandb_mode")}
        info = {"options": options, "wandb_id": None}
        runs.write_text_atomic(run_dir / "config.toml", runs.to_toml(cfg.to_dict()))

    tracker = WandbTracker(opts.wandb_mode, run_dir, {**cfg.to_dict(), **info["options"]},
                           name=run_dir.name, resume_id=info.get("wandb_id"))
    info["wandb_id"] = tracker.run_id or info.get("wandb_id")
    runs.write_text_atomic(run_dir / "run.json", json.dumps(info, indent=2) + "\n")
    warnings = [tracker.warning] if tracker.warning else []
    if tracker.warning:
        reporter.message(tracker.warning)

    reporter.start({"run_dir": str(run_dir), "train": len(train_split), "test": len(test_split),
                    "epoch": trainer.state.epoch, "epochs": opts.epochs, "resumed":
                    checkpoint is not None, "config": cfg.to_dict()})
    best = max((r["test_accuracy"] for r in rows if r.get("test_accuracy") is not None),
               default=None)
    interrupted = False
    try:
        with StopFlag() as stop:
            while trainer.state.epoch < opts.epochs:
                epoch = trainer.state.epoch + 1          # 1-based for people
                reporter.epoch_start(epoch, len(train_split))
                start = time.perf_counter()

                def on_batch(n: int, stop=stop) -> bool:
                    reporter.batch(n, trainer)
                    faults.hit("batch", trainer.state.batches_seen)
                    return not stop.requested

                done = trainer.train_epoch(train_split.planes, train_split.pixels,
                                           train_split.labels, on_batch)
                if not done:
                    _save(run_dir / "checkpoints" / "last.zarr", trainer, epoch - 1, {}, ds)
                    interrupted = True
                    break
                seconds = time.perf_counter() - start
                row = _epoch_row(trainer, epoch, seconds)
                if epoch % opts.eval_every == 0 or epoch == opts.epochs:
                    result = evaluate(trainer.net, test_split)
                    row.update(test_accuracy=result["accuracy"],
                               test_no_decision=result["no_decision"],
                               eval_samples_per_s=result["samples_per_s"])
                else:
                    row.update(test_accuracy=None, test_no_decision=None,
                               eval_samples_per_s=None)
                _checkpoint(run_dir, trainer, epoch, row, ds, opts, best)
                if row["test_accuracy"] is not None and (best is None
                                                         or row["test_accuracy"] > best):
                    best = row["test_accuracy"]
                runs.append_metrics(run_dir, row)
                rows.append(row)
                tracker.log({k: v for k, v in row.items() if v is not None}, step=epoch)
                tracker.log_network(trainer.net, step=epoch)
                reporter.epoch_end(row)
                if stop.requested:
                    interrupted = epoch < opts.epochs
                    break
    finally:
        tracker.finish()
    if tracker.warning and tracker.warning not in warnings:
        warnings.append(tracker.warning)
    return TrainResult(run_dir, rows, interrupted, warnings)


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


def _save(path: Path, trainer: Trainer, epoch: int, metrics: dict, ds: Dataset) -> None:
    ckpt.save(path, trainer.cfg, trainer.state_arrays(), trainer.state_dict(), epoch,
              metrics, ds.name, ds.checksums)


def _checkpoint(run_dir: Path, trainer: Trainer, epoch: int, row: dict, ds: Dataset,
                opts: TrainOptions, best: float | None) -> None:
    folder = runs.checkpoints_dir(run_dir)
    if epoch % opts.checkpoint_every == 0 or epoch == opts.epochs:
        _save(runs.epoch_checkpoint(run_dir, epoch), trainer, epoch, row, ds)
    acc = row.get("test_accuracy")
    if acc is not None and (best is None or acc > best):
        _save(folder / "best.zarr", trainer, epoch, row, ds)
    _save(folder / "last.zarr", trainer, epoch, row, ds)


def strip_timing(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in TIMING_KEYS}

