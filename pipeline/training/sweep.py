"""Sweeps and seed studies on dask.distributed: one task per trial, each a `train` run folder.

Read top to bottom: read and check the spec (TOML) -> expand it into trials (grid x random
draws x seeds) -> build the stores the trials need (on the client: workers reach them by a
shared path) -> submit every unfinished trial to the cluster -> append one row per finished
trial to `sweep.jsonl` -> select on validation, evaluate the selected trial on test once.

Spec (every key but `dataset` optional):

    name = "fashion"                      # wandb group and default folder name
    dataset = "fashion-mnist"
    preset = "default"
    seeds = [0]                           # or a count: seeds = 5  ->  0..4
    trials = 8                            # random draws (when [random] is given)
    budget_samples = 2_000_000            # per trial, rounded up to whole epochs
    validation = 10_000                   # last N training images; 0 = a seed study on test
    marks = [1_000_000, 5_000_000]        # also report accuracy at these sample counts
    search_seed = 0                       # seed of the random draws
    metric_window = 1                     # metric = mean of the last K evaluations
    checkpoint_every = 0                  # > 0: keep every Kth epoch checkpoint (snapshots
                                          # for `snnpipe ensemble`); 0: the final epoch's,
                                          # last and best only
    test = true                           # false: select on validation, never read test
                                          # (a study's cells, compared across specs later)
    [fixed]   neurons = 200               # Config fields (and `snapshots`) for every trial
    [grid]    grow_count = [5, 10]        # every combination
    [random]  decay_amount = {int = [1, 10]}, reinforce_positive = {log = [50, 500]},
              quantilizer = {choice = ["exact", "binary32"]}
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
import resource
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dask
import numpy as np

from snnpipe.engine import PRESETS, Config, ConfigError
from snnpipe.pipeline.errors import PipelineError
from snnpipe.pipeline.options import check_workers
from snnpipe.pipeline.training.configuration import (
    PRESET_SNAPSHOTS,
    config_keys,
    load_toml,
    split_run_keys,
)
from snnpipe.pipeline.training.tracking import wandb_mode as checked_wandb_mode
from snnpipe.stores import runfolder, runs
from snnpipe.stores.locks import waiting

SPEC_KEYS = {"name", "dataset", "preset", "seeds", "trials", "budget_samples", "validation",
             "marks", "search_seed", "fixed", "grid", "random", "limit_train", "eval_every",
             "metric_window", "checkpoint_every", "test"}
RANDOM_KINDS = ("int", "log", "choice")


@dataclass
class SweepSpec:
    name: str
    dataset: str = "mnist"
    preset: str = "default"
    seeds: list[int] = field(default_factory=lambda: [0])
    trials: int = 1
    budget_samples: int = 1_000_000
    validation: int = 10_000
    marks: list[int] = field(default_factory=list)
    search_seed: int = 0
    fixed: dict = field(default_factory=dict)
    grid: dict = field(default_factory=dict)
    random: dict = field(default_factory=dict)
    limit_train: int | None = None
    eval_every: int = 1
    metric_window: int = 1
    checkpoint_every: int = 0
    test: bool = True

    @property
    def swept(self) -> list[str]:
        return [*self.grid, *self.random]


# ------------------------------------------------------------------------- the spec
def _fail(path: Path, text: str) -> PipelineError:
    return PipelineError(f"{path}: {text}")


def _positive_int(path: Path, key: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(path, f"{key} must be an integer >= {minimum}, got {value!r}")
    return value


def read_spec(path: Path) -> SweepSpec:
    """Read and check a sweep spec; every problem is one PipelineError line."""
    path = Path(path)
    data = load_toml(path, f"sweep spec {path}")
    unknown = sorted(set(data) - SPEC_KEYS)
    if unknown:
        raise _fail(path, f"unknown key(s) {', '.join(unknown)}; valid keys: "
                    + ", ".join(sorted(SPEC_KEYS)))
    spec = SweepSpec(name=str(data.get("name", path.stem)))
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", spec.name) or ".." in spec.name:
        raise _fail(path, f"name {spec.name[:60]!r}: a plain name (letters, digits, . _ -; no "
                    "/ or ..), since it names the folder runs/sweep-NAME")
    spec.dataset = str(data.get("dataset", "mnist"))
    spec.preset = str(data.get("preset", "default"))
    if spec.preset not in PRESETS:
        raise _fail(path, f"preset {spec.preset!r}: choose one of {', '.join(PRESETS)}")
    seeds = data.get("seeds", [0])
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds > MAX_TRIALS:
            raise _fail(path, f"seeds = {seeds}: at most {MAX_TRIALS:,} trials in a sweep")
        seeds = list(range(_positive_int(path, "seeds", seeds)))
    if not isinstance(seeds, list) or not seeds or any(
            isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise _fail(path, f"seeds must be a count or a non-empty list of integers >= 0, "
                    f"got {seeds!r}")
    spec.seeds = seeds
    spec.trials = _positive_int(path, "trials", data.get("trials", 1))
    spec.budget_samples = _positive_int(path, "budget_samples",
                                        data.get("budget_samples", 1_000_000))
    spec.validation = _positive_int(path, "validation", data.get("validation", 10_000), 0)
    spec.search_seed = _positive_int(path, "search_seed", data.get("search_seed", 0), 0)
    spec.eval_every = _positive_int(path, "eval_every", data.get("eval_every", 1))
    spec.metric_window = _positive_int(path, "metric_window", data.get("metric_window", 1))
    spec.checkpoint_every = _positive_int(path, "checkpoint_every",
                                          data.get("checkpoint_every", 0), 0)
    spec.test = data.get("test", True)
    if not isinstance(spec.test, bool):
        raise _fail(path, f"test must be true or false, got {spec.test!r}")
    if not spec.test and spec.validation == 0:
        raise _fail(path, "test = false with validation = 0 measures nothing: a seed study's "
                    "metric is test; hold out a validation split (validation = 10000)")
    if "limit_train" in data:
        spec.limit_train = _positive_int(path, "limit_train", data["limit_train"])
    marks = data.get("marks", [])
    if not isinstance(marks, list):
        raise _fail(path, f"marks must be a list of sample counts, got {marks!r}")
    spec.marks = sorted(_positive_int(path, "marks", m) for m in marks)
    for table in ("fixed", "grid", "random"):
        value = data.get(table, {})
        if not isinstance(value, dict):
            raise _fail(path, f"[{table}] must be a table of Config fields (or snapshots)")
        bad = sorted(set(value) - set(config_keys()))
        if bad:
            raise _fail(path, f"[{table}] unknown Config field(s) {', '.join(bad)}; valid: "
                        "snapshots (the training run's option) and "
                        + ", ".join(config_keys()))
        setattr(spec, table, value)
    for key, values in spec.grid.items():
        if not isinstance(values, list) or not values:
            raise _fail(path, f"[grid] {key} must be a non-empty list of values, got {values!r}")
    for key, rng in spec.random.items():
        _check_range(path, key, rng)
    both = sorted(set(spec.grid) & set(spec.random) | (set(spec.fixed) & set(spec.swept)))
    if both:
        raise _fail(path, f"{', '.join(both)} given twice (fixed, grid and random exclude "
                    "each other)")
    if not spec.random and spec.trials != 1:
        raise _fail(path, "trials counts random draws; give a [random] table or drop trials")
    size = spec_size(spec)
    if size > MAX_TRIALS:
        raise _fail(path, f"expands to {size:,} trials (grid x trials x seeds); at most "
                    f"{MAX_TRIALS:,}: narrow the grid, or draw a [random] sample of it with "
                    "trials = N")
    for trial in expand(spec):                      # every configuration must be valid
        try:
            trial_config(trial, f"{path}: trial {trial['params']}")
        except (ConfigError, TypeError) as exc:
            raise _fail(path, f"trial {trial['params']}: {exc}") from None
    return spec


MAX_TRIALS = 10_000      # a sweep beyond this is a typo, not a plan (checked before expanding)


def spec_size(spec: SweepSpec) -> int:
    """How many trials the spec expands to, counted without expanding it."""
    return (math.prod(len(v) for v in spec.grid.values()) * (spec.trials if spec.random else 1)
            * len(spec.seeds))


def _check_range(path: Path, key: str, rng) -> None:
    if not isinstance(rng, dict) or len(rng) != 1 or next(iter(rng)) not in RANDOM_KINDS:
        raise _fail(path, f"[random] {key} must be one of {{int = [lo, hi]}}, "
                    f"{{log = [lo, hi]}}, {{choice = [a, b, ...]}}, got {rng!r}")
    kind, values = next(iter(rng.items()))
    if not isinstance(values, list) or not values:
        raise _fail(path, f"[random] {key}: {kind} needs a non-empty list")
    if kind == "choice":
        return
    if len(values) != 2 or any(isinstance(v, bool) or not isinstance(v, int | float)
                               for v in values):
        raise _fail(path, f"[random] {key}: {kind} needs [lo, hi] numbers, got {values}")
    lo, hi = values
    if lo > hi:
        raise _fail(path, f"[random] {key}: empty range [{lo}, {hi}] (lo > hi)")
    if kind == "log" and lo <= 0:
        raise _fail(path, f"[random] {key}: log range needs lo > 0, got {lo}")


def _draw(rng: np.random.Generator, spec_range: dict):
    kind, values = next(iter(spec_range.items()))
    if kind == "choice":
        return values[int(rng.integers(len(values)))]
    lo, hi = values
    whole = all(isinstance(v, int) for v in values)
    if kind == "int":
        return int(rng.integers(lo, hi + 1)) if whole else float(rng.uniform(lo, hi))
    x = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    return int(round(x)) if whole else x


def trial_id(params: dict, seed: int) -> str:
    text = json.dumps({"params": params, "seed": seed}, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def trial_dir(folder: Path, trial_id: str) -> Path:
    """A trial's run folder inside its sweep folder, wherever that folder now lives."""
    return folder / "trials" / trial_id


def expand(spec: SweepSpec) -> list[dict]:
    """Every trial: the grid's combinations x `trials` random draws x seeds, in a fixed
    order (the draws come from `search_seed`, so a re-run expands to the same trials)."""
    rng = np.random.default_rng(spec.search_seed)
    combos = [dict(zip(spec.grid, values, strict=True))
              for values in itertools.product(*spec.grid.values())] or [{}]
    draws = [{k: _draw(rng, r) for k, r in spec.random.items()}
             for _ in range(spec.trials)] if spec.random else [{}]
    base = {**Config.preset(spec.preset).to_dict(),
            "snapshots": PRESET_SNAPSHOTS.get(spec.preset, 0)}
    out = []
    for combo in combos:
        for draw in draws:
            params = {**combo, **draw}
            for seed in spec.seeds:
                out.append({"id": trial_id(params, seed), "params": params, "seed": seed,
                            "config": {**base, **spec.fixed, **params}})
    return out


def trial_config(trial: dict, where: str = "trial") -> Config:
    """The trial's model: its config without the run's options (`snapshots`)."""
    return Config.from_dict(split_run_keys(trial["config"], where)[0])


def trial_snapshots(trial: dict) -> int:
    """The trial's `snapshots` run option (a preset's, [fixed] or the grid's)."""
    return split_run_keys(trial["config"], "trial")[1].get("snapshots", 0)


# ------------------------------------------------------------------------- one trial
def run_trial(task: dict) -> dict:
    """One trial, run on a worker: a `train` run folder with a validation split. Never
    raises: an error becomes the row's `error`, so one bad trial cannot stop the sweep."""
    import numba

    from snnpipe.pipeline.training.train import TrainOptions, selection_key, train
    began = time.time()
    row = {"id": task["id"], "params": task["params"], "seed": task["seed"],
           "run_dir": task["run_dir"], "worker": f"{socket.gethostname()}:{os.getpid()}",
           "metric": None, "samples": None, "status": "failed", "error": None, "marks": {}}
    try:
        numba.set_num_threads(max(1, min(task["threads"], numba.config.NUMBA_NUM_THREADS)))
        run_dir = Path(task["run_dir"])
        opts = TrainOptions(
            config=trial_config(task), snapshots=trial_snapshots(task),
            epochs=task["epochs"],
            dataset=task["dataset"], store=Path(task["store"]), seed=task["seed"],
            run_dir=run_dir, validation=task["validation"], limit_train=task["limit_train"],
            eval_every=task["eval_every"],
            checkpoint_every=task.get("checkpoint_every") or 10**9,
            wandb_mode=task["wandb_mode"], group=task["group"],
            resume=run_dir if runfolder.began(run_dir) else None)
        result = train(opts)
        key = selection_key(result.rows[0])
        last = result.rows[-1]
        scored = [r[key] for r in result.rows if r.get(key) is not None]
        row.update(metric=float(np.mean(scored[-task["metric_window"]:])), metric_name=key,
                   samples=last["samples_seen"], best=max(scored),
                   status="ok" if not result.interrupted else "interrupted")
        if last.get(f"snapshots_{key}") is not None:     # the `snapshots` option's vote
            row["snapshots_metric"] = last[f"snapshots_{key}"]
        for mark in task["marks"]:
            hit = next((r for r in result.rows if r["samples_seen"] >= mark
                        and r.get(key) is not None), None)
            if hit is not None:
                row["marks"][str(mark)] = {"samples": hit["samples_seen"], key: hit[key]}
    except Exception as exc:             # recorded, not raised
        row["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
    row["seconds"] = time.time() - began
    # the worker's peak resident memory so far (a worker runs one trial at a time, so this
    # is the largest trial it has run): the memory column of a study's table
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return row


# ------------------------------------------------------------------------- the sweep
def check_options(workers: int | None, scheduler: str | None, wandb: str | None) -> str:
    """The sweep's cluster and wandb options, checked before the spec is read; returns the
    wandb mode. --workers starts the sweep's own LocalCluster on this machine."""
    mode = checked_wandb_mode(wandb)
    check_workers(workers, scheduler, local_cluster=True)
    if scheduler:
        from snnpipe.pipeline.datasets.preprocess import check_scheduler_address
        check_scheduler_address(scheduler)
    return mode


@dataclass
class SweepResult:
    folder: Path
    rows: list[dict]                     # latest row per trial, in spec order
    selected: dict | None                # best on validation, with its one test evaluation
    interrupted: bool
    skipped: int


def stores_needed(spec: SweepSpec, trials: list[dict], data_dir: Path) -> dict[tuple, Path]:
    """Levels -> store path: the levels `snnpipe preprocess` builds by default use
    DATA_DIR/<dataset>.zarr, any others their own store beside it (so a sweep never rebuilds
    the store that `train` and `eval` read). Workers open them by this path (shared: same
    machine or shared disk)."""
    from snnpipe.pipeline.datasets.preprocess import levels_store
    out = {}
    for t in trials:
        levels = tuple(trial_config(t).levels)
        out[levels] = levels_store(data_dir, spec.dataset, levels).resolve()
    return out


def latest_rows(folder: Path) -> dict[str, dict]:
    rows = {}
    for r in runs.read_jsonl(folder / "sweep.jsonl"):
        rows[r["id"]] = r
    return rows


def sweep(spec: SweepSpec, folder: Path, data_dir: Path = Path("data"),
          scheduler_address: str | None = None, workers: int | None = None,
          wandb_mode: str = "offline",
          on_progress: Callable[[dict], None] | None = None) -> SweepResult:
    """Run every unfinished trial of `spec` into `folder` (locked while it runs)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise PipelineError(f"{folder} is a file; pass a folder for the sweep")
    with runfolder.locked(folder, begun="spec.json"):
        return _sweep_locked(spec, folder, data_dir, scheduler_address, workers, wandb_mode,
                             on_progress)


def _sweep_locked(spec, folder, data_dir, scheduler_address, workers, wandb_mode,
                  on_progress) -> SweepResult:
    from distributed import Client, LocalCluster, as_completed

    from snnpipe.pipeline.datasets.preprocess import preprocess
    trials = expand(spec)
    stores = stores_needed(spec, trials, data_dir)
    with waiting():               # another command building these stores: wait and use them
        for levels, path in stores.items():
            preprocess(spec.dataset, data_dir, path, levels)
    from snnpipe.stores.dataset import open_dataset
    n_train = len(open_dataset(next(iter(stores.values()))).load("train", spec.limit_train))
    if spec.validation >= n_train:
        raise PipelineError(f"validation = {spec.validation} leaves no training images "
                            f"(the split has {n_train})")
    from snnpipe.pipeline.datasets.data import check_validation
    for size in sorted({trial_config(t).batch_size for t in trials},
                       reverse=True):              # before any trial: the largest batch first
        check_validation(spec.validation, n_train, size, "validation = ",
                         "batch_size = {} in [fixed] or in the grid")
    epochs = max(1, math.ceil(spec.budget_samples / (n_train - spec.validation)))
    done = latest_rows(folder)
    todo = [t for t in trials if done.get(t["id"], {}).get("status") != "ok"]
    skipped = len(trials) - len(todo)
    cores = os.cpu_count() or 1
    if scheduler_address:
        from snnpipe.pipeline.datasets.preprocess import connect
        cluster, client = None, connect(scheduler_address, "20s")
        n_workers = max(1, len(client.scheduler_info()["workers"]))
    else:
        n_workers = workers or cores
        # A trial may pause (SIGSTOP/SIGCONT, a suspended laptop) for longer than the
        # scheduler's default worker TTL, which would restart the worker and lose the
        # trial's current epoch: on our own cluster, a quiet worker is a paused one.
        with dask.config.set({"distributed.scheduler.worker-ttl": None}):
            cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1,
                                   processes=True, dashboard_address=":0")
        client = Client(cluster)
    threads = max(1, cores // n_workers)          # workers x threads <= cores
    runs.write_text_atomic(folder / "spec.json", json.dumps(vars(spec), indent=2) + "\n")
    tasks = [{**t, "run_dir": str(trial_dir(folder, t["id"]).resolve()),
              "store": str(stores[tuple(trial_config(t).levels)]),
              "dataset": spec.dataset, "epochs": epochs, "validation": spec.validation,
              "limit_train": spec.limit_train, "eval_every": spec.eval_every,
              "metric_window": spec.metric_window, "checkpoint_every": spec.checkpoint_every,
              "marks": spec.marks, "threads": threads, "wandb_mode": wandb_mode,
              "group": spec.name} for t in todo]
    status = {"done": skipped, "running": len(tasks), "failed": 0, "total": len(trials),
              "best": _best(done.values())}
    interrupted = False
    futures: list = []
    old_term = None
    if threading.current_thread() is threading.main_thread():   # SIGTERM cancels like Ctrl-C
        old_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        futures = [client.submit(run_trial, task, key=f"trial-{task['id']}", pure=False)
                   for task in tasks]
        if on_progress:
            on_progress(dict(status))
        for future in as_completed(futures):
            row = future.result()
            runs.append_jsonl(folder / "sweep.jsonl", row)
            done[row["id"]] = row
            status["running"] -= 1
            status["done" if row["status"] == "ok" else "failed"] += 1
            status["best"] = _best(done.values())
            if on_progress:
                on_progress({**status, "row": row})
    except KeyboardInterrupt:
        interrupted = True
        client.cancel(futures)
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
        client.close()
        if cluster is not None:
            cluster.close()
    rows = [done[t["id"]] for t in trials if t["id"] in done]
    selected = None if interrupted else _select_and_test(spec, rows, stores, folder)
    if selected is not None:
        runs.write_text_atomic(folder / "selected.json", json.dumps(selected, indent=2) + "\n")
    return SweepResult(folder, rows, selected, interrupted, skipped)


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _best(rows) -> float | None:
    scores = [r["metric"] for r in rows if r.get("status") == "ok" and r.get("metric") is not None]
    return max(scores, default=None)


def score(row: dict) -> float:
    """What a trial is selected on: its metric, or, for a configuration with the
    `snapshots` option, its snapshot ensemble's validation accuracy (that is its vote)."""
    return row.get("snapshots_metric", row["metric"])


def _select_and_test(spec: SweepSpec, rows: list[dict], stores: dict,
                     folder: Path) -> dict | None:
    """The configuration with the best mean validation score over its seeds; its best.zarr
    checkpoints (snapshots.zarr with the `snapshots` option) are evaluated on the test set
    once, here, and nowhere else (not at all with `test = false`)."""
    if spec.validation == 0:
        return None                        # a seed study: no selection, the metric is test
    ok = [r for r in rows if r["status"] == "ok"]
    if not ok:
        return None
    groups: dict[str, list[dict]] = {}
    for r in ok:
        groups.setdefault(json.dumps(r["params"], sort_keys=True), []).append(r)
    params, members = max(groups.items(), key=lambda kv: np.mean([score(r) for r in kv[1]]))
    names = ["snapshots.zarr" if "snapshots_metric" in r else "best.zarr" for r in members]
    selected = {"params": json.loads(params), "seeds": [r["seed"] for r in members],
                "trials": [r["id"] for r in members],
                "validation_accuracy": [score(r) for r in members], "checkpoints": names,
                "best_validation_accuracy": [r["best"] for r in members],
                "samples": [r["samples"] for r in members]}
    if spec.test:
        selected["test_accuracy_of_best_checkpoint"] = _test_once(members, names, stores,
                                                                   folder)
    return selected


def _test_once(members: list[dict], names: list[str], stores: dict,
               folder: Path) -> list[float]:
    """Each member's checkpoint from this sweep folder's trials/ (not the row's run_dir,
    which names the folder where the trial ran: a committed sweep resumes in a clone)."""
    from snnpipe.engine import Network
    from snnpipe.pipeline.datasets.data import check_levels
    from snnpipe.pipeline.results.evaluate import evaluate
    from snnpipe.stores import checkpoint as ckpt
    from snnpipe.stores.dataset import open_dataset
    tests = []
    for r, name in zip(members, names, strict=True):
        cp = ckpt.load(trial_dir(folder, r["id"]) / "checkpoints" / name)
        net = Network.from_arrays(cp.cfg, cp.arrays["receptors"], cp.arrays["weights"])
        ds = open_dataset(stores[tuple(cp.cfg.levels)])
        check_levels(cp.cfg, ds)           # the store was replaced while the sweep ran
        test = ds.load("test")
        tests.append(evaluate(net, test)["accuracy"])
    return tests


def summarize(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    a = np.asarray(values, float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0
