"""The reproduction run: D𝜋's configuration on full MNIST for a wall-clock budget.

Unlike `train`, progress is measured in samples seen: the full test set (and a fixed
train subset) is evaluated every `eval_every_samples`, the best checkpoint is kept, and
every point (accuracy, samples seen, wall time, all counters) goes to
`RUN_DIR/results/reproduce-<date>.jsonl` and to wandb. Stops at the time budget, the
target accuracy, or `max_samples`, whichever comes first.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from engine import Config
from engine.trainer import Trainer
from stores import checkpoint as ckpt
from stores import runs

from .data import check_levels, open_store
from .evaluate import evaluate
from .tracking import WandbTracker
from .train import StopFlag

TRAIN_EVAL_SAMPLES = 10_000   # train accuracy on a fixed subset: the first 10,000 images


@dataclass
class ReproduceOptions:
    config: Config = field(default_factory=Config)
    hours: float = 2.0
    target: float = 98.65
    max_samples: int | None = None
    eval_every_samples: int = 250_000
    sampling: str = "permutation"
    seed: int = 0
    dataset: str = "mnist"
    data_dir: Path = Path("data")
    store: Path | None = None
    run_dir: Path | None = None
    runs_root: Path = Path("runs")
    wandb_mode: str = "offline"


@dataclass
class ReproduceResult:
    run_dir: Path
    results_file: Path
    points: list[dict]
    best: dict | None
    stopped_by: str


def reproduce(opts: ReproduceOptions, on_point=None) -> ReproduceResult:
    cfg = opts.config
    ds = open_store(opts.dataset, opts.data_dir, opts.store)
    check_levels(cfg, ds)
    train, test = ds.load("train"), ds.load("test")
    train_eval = train.head(TRAIN_EVAL_SAMPLES)
    run_dir = Path(opts.run_dir) if opts.run_dir else runs.new_run_dir(
        opts.runs_root, f"reproduce-{opts.dataset}")
    run_dir.mkdir(parents=True, exist_ok=True)
    runs.write_text_atomic(run_dir / "config.toml", runs.to_toml(cfg.to_dict()))
    results = run_dir / "results" / f"reproduce-{datetime.now():%Y%m%d-%H%M%S}.jsonl"
    results.parent.mkdir(parents=True, exist_ok=True)
    info = {"options": {"hours": opts.hours, "target": opts.target, "seed": opts.seed,
                        "sampling": opts.sampling, "dataset": opts.dataset,
                        "eval_every_samples": opts.eval_every_samples,
                        "max_samples": opts.max_samples, "limit_train": None,
                        "limit_test": None, "eval_every": 1, "checkpoint_every": 1},
            "kind": "reproduce", "results": str(results.relative_to(run_dir))}
    runs.write_text_atomic(run_dir / "run.json", json.dumps(info, indent=2) + "\n")
    tracker = WandbTracker(opts.wandb_mode, run_dir, {**cfg.to_dict(), **info["options"]},
                           name=run_dir.name)

    trainer = Trainer(cfg, seed=opts.seed, sampling=opts.sampling)
    budget = opts.hours * 3600.0
    start = time.perf_counter()
    eval_seconds = 0.0          # time spent evaluating; wall - eval = training time
    next_eval = opts.eval_every_samples
    points: list[dict] = []
    best: dict | None = None
    stopped_by = "time budget"

    def record() -> dict:
        nonlocal best, eval_seconds
        st = trainer.state
        began = time.perf_counter()
        te = evaluate(trainer.net, test)
        tr = evaluate(trainer.net, train_eval)
        pos, neg = trainer.net.live_connections()
        point = {
            "samples_seen": st.samples_seen, "epoch": st.epoch + st.cursor /
            trainer.batches_per_epoch(len(train)),
            "wall_seconds": began - start, "train_seconds": began - start - eval_seconds,
            "test_accuracy": te["accuracy"], "test_no_decision": te["no_decision"],
            "train_accuracy": tr["accuracy"], "positive_learns": st.positive_learns,
            "negative_learns": st.negative_learns, "batches_seen": st.batches_seen,
            "live_positive": int(pos.sum()), "live_negative": int(neg.sum()),
            "q_positive": trainer.positive.value, "q_negative": trainer.negative.value,
            **{f"total_{k}": v for k, v in vars(st.counters).items()},
        }
        points.append(point)
        with open(results, "a") as f:
            f.write(json.dumps(point, sort_keys=True) + "\n")
        tracker.log(point, step=st.samples_seen)
        if best is None or point["test_accuracy"] > best["test_accuracy"]:
            best = point
            ckpt.save(runs.checkpoints_dir(run_dir) / "best.zarr", cfg, trainer.state_arrays(),
                      trainer.state_dict(), st.epoch, {**point, "confusion": te["confusion"]},
                      ds.name, ds.checksums)
        eval_seconds += time.perf_counter() - began
        if on_point is not None:
            on_point(point)
        return point

    with StopFlag() as stop:
        done = False
        while not done:
            def on_batch(n: int) -> bool:
                nonlocal next_eval, done, stopped_by
                if trainer.state.samples_seen >= next_eval:
                    next_eval += opts.eval_every_samples
                    point = record()
                    if 100 * point["test_accuracy"] >= opts.target:
                        done, stopped_by = True, f"target {opts.target} % reached"
                if opts.max_samples and trainer.state.samples_seen >= opts.max_samples:
                    done, stopped_by = True, f"{opts.max_samples:,} samples seen"
                if time.perf_counter() - start >= budget:
                    done, stopped_by = True, "time budget"
                if stop.requested:
                    done, stopped_by = True, "interrupted"
                return not done
            trainer.train_epoch(train.planes, train.pixels, train.labels, on_batch)
    if not points or points[-1]["samples_seen"] != trainer.state.samples_seen:
        record()
    ckpt.save(runs.checkpoints_dir(run_dir) / "last.zarr", cfg, trainer.state_arrays(),
              trainer.state_dict(), trainer.state.epoch, points[-1], ds.name, ds.checksums)
    tracker.log_network(trainer.net, step=trainer.state.samples_seen)
    tracker.finish()
    return ReproduceResult(run_dir, results, points, best, stopped_by)
