"""Sweeps on dask.distributed: a tiny real sweep on a LocalCluster and through --scheduler,
resume, a failing trial, bad specs, and validation that never touches test images."""

import json
import shutil
from pathlib import Path

import forkrun
import numpy as np
import pytest

from snnpipe.pipeline.errors import PipelineError
from snnpipe.pipeline.training.sweep import (
    expand,
    read_spec,
    stores_needed,
    sweep,
    trial_config,
    trial_id,
)
from snnpipe.stores import checkpoint as ckpt
from snnpipe.stores.dataset import open_dataset
from snnpipe.stores.runs import read_jsonl

ROOT = Path(__file__).resolve().parents[1]
TINY = """
name = "tiny"
dataset = "mnist"
seeds = [0, 1]
budget_samples = 1600
validation = 200
limit_train = 1000
marks = [800]
[fixed]
neurons = 20
[grid]
grow_count = [5, 10]
"""


def spec_file(tmp_path: Path, text: str = TINY) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return path


def test_tiny_sweep_on_a_local_cluster_then_resume(mnist_store, tmp_path):
    spec = spec_file(tmp_path)
    folder = tmp_path / "sweep"
    # one trial cannot run: its run folder is in the way (a file)
    bad = expand(read_spec(spec))[3]
    (folder / "trials").mkdir(parents=True)
    (folder / "trials" / bad["id"]).write_text("in the way")
    res = forkrun.snnpipe("sweep", spec, "--folder", folder, "--workers", "2",
                          "--wandb-mode", "disabled")
    assert res.returncode == 1, res.stderr          # a trial failed: reported, not fatal
    rows = read_jsonl(folder / "sweep.jsonl")
    assert len(rows) == 4 and sorted(r["status"] for r in rows) == ["failed", "ok", "ok", "ok"]
    assert all(r["peak_rss_mb"] > 50 for r in rows)   # each row records its worker's memory
    failed = next(r for r in rows if r["status"] == "failed")
    assert failed["id"] == bad["id"] and "is a file" in failed["error"]
    for name in ("sweep.md", "metric-vs-grow_count.png", "top-trials.png", "selected.json"):
        assert (folder / name).exists(), name
    assert "trials 4/4" not in res.stderr and "1 failed" in res.stderr

    # validation rows are the last 200 of the first 1000 training images, never test images
    ok = next(r for r in rows if r["status"] == "ok")
    cp = ckpt.load(Path(ok["run_dir"]) / "checkpoints" / "last.zarr")
    from snnpipe.engine import Network
    from snnpipe.pipeline.results.evaluate import evaluate
    net = Network.from_arrays(cp.cfg, cp.arrays["receptors"], cp.arrays["weights"])
    val = open_dataset(mnist_store).load("train", 1000).split_off(200)[1]
    assert evaluate(net, val)["accuracy"] == ok["metric"]
    assert ok["samples"] == 1600 and "800" in ok["marks"]
    metrics = read_jsonl(Path(ok["run_dir"]) / "metrics.jsonl")
    assert all(m.get("test_accuracy") is None for m in metrics)

    # resume: finished trials are skipped, the failed one runs again (now unblocked)
    (folder / "trials" / bad["id"]).unlink()
    again = sweep(read_spec(spec), folder, wandb_mode="disabled", workers=1)
    assert again.skipped == 3
    rows = read_jsonl(folder / "sweep.jsonl")
    assert len(rows) == 5 and rows[-1]["id"] == bad["id"] and rows[-1]["status"] == "ok"
    selected = json.loads((folder / "selected.json").read_text())
    assert len(selected["test_accuracy_of_best_checkpoint"]) == 2

    # a finished sweep moved elsewhere (a committed one, cloned) selects and tests the same
    moved = tmp_path / "clone" / "sweep"
    shutil.move(folder, moved)
    assert sweep(read_spec(spec), moved, wandb_mode="disabled", workers=1).skipped == 4
    assert json.loads((moved / "selected.json").read_text()) == selected


@pytest.fixture
def loaded_splits(monkeypatch) -> list[str]:
    """Every split this process loads from a dataset store (a dask worker is its own)."""
    from snnpipe.stores.dataset import Dataset
    loaded, real = [], Dataset.load

    def spy(self, split, limit=None):
        loaded.append(split)
        return real(self, split, limit)
    monkeypatch.setattr(Dataset, "load", spy)
    return loaded


def test_the_same_sweep_through_a_scheduler_address(mnist_store, tmp_path, loaded_splits):
    from distributed import LocalCluster
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster:
        spec = spec_file(tmp_path, TINY.replace(
            "marks", "metric_window = 2\ncheckpoint_every = 1\ntest = false\nmarks").replace(
            "neurons = 20", "neurons = 20\nsnapshots = 2"))
        res = sweep(read_spec(spec), tmp_path / "s", wandb_mode="disabled",
                    scheduler_address=cluster.scheduler_address)
    assert [r["status"] for r in res.rows] == ["ok"] * 4
    # test = false (a study's cells): the sweep selects on validation and never reads test
    assert "test" not in loaded_splits
    assert "test_accuracy_of_best_checkpoint" not in res.selected
    # metric_window = 2: the metric is the mean of the last two validation evaluations
    for row in res.rows:
        history = [m["validation_accuracy"] for m in read_jsonl(Path(row["run_dir"]) /
                                                                  "metrics.jsonl")]
        assert len(history) == 2 and row["metric"] == pytest.approx(np.mean(history))
        # checkpoint_every = 1: every epoch's snapshot is kept, for `snnpipe ensemble`
        names = sorted(p.name for p in (Path(row["run_dir"]) / "checkpoints").iterdir())
        assert names[:2] == ["best.zarr", "epoch-0001.zarr"] and "epoch-0002.zarr" in names
    from snnpipe.pipeline.training.report import sweep_table
    assert "mean of last 2" in sweep_table(read_spec(spec), res.rows, None)[1]
    # the `snapshots` option: a trial's vote is its snapshot ensemble, so that is what the
    # sweep selects on (validation) and what it tests once
    from snnpipe.engine import Network
    from snnpipe.pipeline.results.evaluate import evaluate
    val = open_dataset(mnist_store).load("train", 1000).split_off(200)[1]
    for row in res.rows:
        cp = ckpt.load(Path(row["run_dir"]) / "checkpoints" / "snapshots.zarr")
        net = Network.from_arrays(cp.cfg, cp.arrays["receptors"], cp.arrays["weights"])
        assert cp.cfg.neurons == 40 and evaluate(net, val)["accuracy"] == row["snapshots_metric"]
    chosen = [r for r in res.rows if r["id"] in res.selected["trials"]]
    assert res.selected["checkpoints"] == ["snapshots.zarr"] * 2
    assert res.selected["validation_accuracy"] == [r["snapshots_metric"] for r in chosen]
    report = sweep_table(read_spec(spec), res.rows, res.selected)[1]
    assert "snapshot ensemble %" in report and "test not read" in report
    # trials are deterministic: the same trial on another cluster gives the same metric
    ids = {trial_id({"grow_count": 5}, 0)}
    assert ids <= {r["id"] for r in res.rows}


def test_validation_split_never_loads_test(mnist_store, tmp_path, loaded_splits):
    from snnpipe.engine import Config
    from snnpipe.pipeline.training.train import TrainOptions, train
    res = train(TrainOptions(config=Config(neurons=20), epochs=1, limit_train=600,
                             validation=100, run_dir=tmp_path / "r", wandb_mode="disabled"))
    assert loaded_splits == ["train"] and res.rows[0]["validation_accuracy"] is not None


@pytest.mark.parametrize("text, message", [
    ("[grid]\nbogus = [1]\n", "unknown Config field(s) bogus"),
    ("[random]\ndecay_amount = {int = [10, 1]}\n", "empty range"),
    ("[random]\nslots = {log = [0, 5]}\n", "lo > 0"),
    ("[grid]\nslots = []\n", "non-empty list"),
    ("[random]\nslots = {normal = [1, 2]}\n", "must be one of"),
    ("budget_samples = 0\n", "budget_samples must be an integer >= 1"),
    ("colour = 1\n", "unknown key(s) colour"),
    ("metric_window = 0\n", "metric_window must be an integer >= 1"),
    ("checkpoint_every = -1\n", "checkpoint_every must be an integer >= 0"),
    ("test = 1\n", "test must be true or false"),
    ("test = false\nvalidation = 0\n", "test = false with validation = 0 measures nothing"),
    ("[grid]\nneurons = [0]\n", "neurons must be > 0"),
])
def test_bad_specs_are_one_line(tmp_path, text, message):
    with pytest.raises(PipelineError) as exc:
        read_spec(spec_file(tmp_path, text))
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_random_draws_are_reproducible_and_in_range(tmp_path):
    spec = read_spec(spec_file(tmp_path, 'trials = 20\nsearch_seed = 3\n[random]\n'
                               'reinforce_positive = {log = [10, 1000]}\n'
                               'slots = {int = [4, 12]}\n'
                               'quantilizer = {choice = ["exact", "binary32"]}\n'))
    a, b = expand(spec), expand(spec)
    assert a == b and len(a) == 20
    r = np.array([t["params"]["reinforce_positive"] for t in a])
    assert r.min() >= 10 and r.max() <= 1000
    assert {t["params"]["quantilizer"] for t in a} == {"exact", "binary32"}
    assert all(4 <= t["params"]["slots"] <= 12 for t in a)


def test_reproduce_picks_best_on_validation(mnist_store, tmp_path):
    res = forkrun.snnpipe("reproduce", "--set", "neurons=20", "--max-samples", "4000",
                          "--eval-every-samples", "1000", "--validation", "5000",
                          "--run-dir", tmp_path / "r", "--wandb-mode", "disabled")
    assert res.returncode == 0, res.stderr
    points = read_jsonl(tmp_path / "r" / "results.jsonl")
    assert len(points) >= 4 and all("validation_accuracy" in p for p in points)
    best = ckpt.load(tmp_path / "r" / "checkpoints" / "best.zarr").metrics
    assert best["validation_accuracy"] == max(p["validation_accuracy"] for p in points)
    assert "picked on validation" in res.stdout


def test_a_sweep_never_rebuilds_the_default_store_with_other_levels(tmp_path):
    # preset `fashion` has 8 levels: its trials get their own store, so the default store
    # (which `train` and `eval` read, 4 levels) is never replaced behind the user's back
    spec = read_spec(spec_file(tmp_path, 'dataset = "mnist"\npreset = "fashion"\n'
                               "[grid]\nlevels = [[192, 128, 64, 1], [128, 1]]\n"))
    paths = stores_needed(spec, expand(spec), tmp_path / "data")
    assert paths[(192, 128, 64, 1)].name == "mnist.zarr"
    assert paths[(128, 1)].name == "mnist-levels-128-1.zarr"
    spec = read_spec(spec_file(tmp_path, 'dataset = "mnist"\npreset = "fashion"\n'))
    [(levels, path)] = stores_needed(spec, expand(spec), tmp_path / "data").items()
    assert len(levels) == 8 and path.name == f"mnist-levels-{'-'.join(map(str, levels))}.zarr"


@pytest.mark.parametrize("spec", sorted([*(ROOT / "docs" / "sweeps").glob("*.toml"),
                                         *(ROOT / "docs" / "scaling" / "specs").glob("*.toml")]),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_committed_spec_reads_and_expands_into_valid_trials(spec):
    """The docs' sweep commands run these files: each must parse and give valid configs."""
    parsed = read_spec(spec)
    trials = expand(parsed)
    assert trials and len({t["id"] for t in trials}) == len(trials)
    for trial in trials:
        trial_config(trial)                      # raises on an invalid configuration
