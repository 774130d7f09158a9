"""End to end through the real `snnpipe` CLI on a slice of real MNIST."""

import json
import os
import signal
from pathlib import Path

import forkrun
import numpy as np
import pytest
import zarr

from snnpipe.stores import checkpoint as ckpt
from snnpipe.stores.runs import read_metrics

ROOT = Path(__file__).resolve().parents[1]
# Small but real: 1/4 of the neurons keeps each epoch well under a second.
SMALL = ["--set", "neurons=198", "--limit-train", "2000", "--limit-test", "1000"]


def cli(*args, env=None, timeout=600):
    e = {**os.environ, "WANDB_MODE": "disabled", **(env or {})}
    return forkrun.snnpipe(*args, env=e, timeout=timeout)


def one_error_line(res):
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode not in (0, 130), res.stdout
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    return lines[0]


def strip_timing(rows):
    from snnpipe.pipeline.training.train import strip_timing as strip
    return [strip(r) for r in rows]


@pytest.fixture(scope="module")
def trained_run(mnist_store, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "r"
    res = cli("train", "--epochs", 2, *SMALL, "--run-dir", run, "--seed", 7)
    assert res.returncode == 0, res.stderr
    return run, res


def test_train_then_eval_run_folder(trained_run):
    run, res = trained_run
    rows = read_metrics(run)
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[-1]["samples_seen"] == 4000
    assert all(0.0 <= r["test_accuracy"] <= 1.0 for r in rows)
    assert "epoch" in res.stdout and "done: best test accuracy" in res.stdout
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["best.zarr", "epoch-0001.zarr", "epoch-0002.zarr", "last.zarr"]
    assert "neurons = 198" in (run / "config.toml").read_text()

    ev = cli("eval", run, "--json", "--limit", 1000)
    assert ev.returncode == 0, ev.stderr
    results = json.loads(ev.stdout)["results"]
    assert [r["epoch"] for r in results] == [1, 2]
    for r, row in zip(results, rows, strict=True):
        assert r["accuracy"] == row["test_accuracy"]      # same as recorded in training
        assert r["samples"] == 1000
        assert np.array(r["confusion"]).sum() == 1000
        assert 0 <= r["macro_f1"] <= 1
    table = cli("eval", run / "checkpoints" / "best.zarr", "--limit", 1000)
    assert table.returncode == 0 and "confusion" in table.stdout and "per class" in table.stdout


def test_checkpoint_contents(trained_run):
    run, _ = trained_run
    cp = ckpt.load(run / "checkpoints" / "epoch-0002.zarr")
    assert cp.epoch == 2 and cp.dataset == "mnist" and cp.levels == (192, 128, 64, 1)
    assert cp.cfg.neurons == 198
    g = zarr.open_group(str(run / "checkpoints" / "epoch-0002.zarr"), mode="r")
    assert g["receptors"].dtype.itemsize == 2 and g["weights"].dtype == np.int32
    assert g.attrs["format_version"] == 2 and "rng" in g.attrs["state"]


def test_resume_is_bit_identical(mnist_store, tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert cli("train", "--epochs", 3, *SMALL, "--run-dir", straight).returncode == 0
    assert cli("train", "--epochs", 1, *SMALL, "--run-dir", split).returncode == 0
    res = cli("train", "--resume", split, "--epochs", 3)
    assert res.returncode == 0, res.stderr
    a = ckpt.load(straight / "checkpoints" / "last.zarr")
    b = ckpt.load(split / "checkpoints" / "last.zarr")
    assert np.array_equal(a.arrays["weights"], b.arrays["weights"])
    assert np.array_equal(a.arrays["receptors"], b.arrays["receptors"])
    assert a.state == b.state
    assert strip_timing(read_metrics(straight)) == strip_timing(read_metrics(split))


LONG_RUN = ["--epochs", 4, "--set", "neurons=198", "--limit-train", 30000, "--limit-test", 500]
BATCHES_PER_EPOCH = 150          # 30,000 images / 200


def signal_at_batch(run, sig, batch):
    """Run training that sends itself `sig` right after batch number `batch` (the test-only
    SNNPIPE_FAULT hook: no sleeps, the signal lands at a known point every time)."""
    res = cli("train", *LONG_RUN, "--run-dir", run,
              env={"SNNPIPE_FAULT": f"{sig.name}@batch:{batch}"})
    return res.returncode, res.stderr


def test_ctrl_c_checkpoints_mid_epoch_and_resumes_identically(mnist_store, tmp_path):
    run = tmp_path / "interrupted"
    # interrupt 40 batches into the second epoch
    code, err = signal_at_batch(run, signal.SIGINT, BATCHES_PER_EPOCH + 40)
    assert code == 130, err
    assert f"snnpipe train --resume {run}" in err
    last = ckpt.load(run / "checkpoints" / "last.zarr")
    assert last.state["trainer"]["epoch"] == 1 and last.state["trainer"]["cursor"] == 40
    assert len(read_metrics(run)) == 1
    assert cli("train", "--resume", run, "--epochs", 4).returncode == 0
    straight = tmp_path / "straight"
    assert cli("train", *LONG_RUN, "--run-dir", straight).returncode == 0
    a = ckpt.load(straight / "checkpoints" / "last.zarr")
    b = ckpt.load(run / "checkpoints" / "last.zarr")
    assert np.array_equal(a.arrays["weights"], b.arrays["weights"])
    assert strip_timing(read_metrics(straight)) == strip_timing(read_metrics(run))


def test_corrupt_and_foreign_checkpoints(trained_run, tmp_path):
    run, _ = trained_run
    import shutil
    bad = tmp_path / "bad.zarr"
    shutil.copytree(run / "checkpoints" / "epoch-0001.zarr", bad)
    chunks = [f for f in (bad / "weights" / "c").rglob("*") if f.is_file()]
    assert chunks
    for chunk in chunks:
        chunk.write_bytes(b"garbage")
    assert "corrupt" in one_error_line(cli("eval", bad))
    foreign = tmp_path / "foreign.zarr"
    zarr.open_group(str(foreign), mode="w").attrs["format"] = "something-else"
    assert "not an snnpipe checkpoint" in one_error_line(cli("eval", foreign))
    assert "no such checkpoint" in one_error_line(cli("eval", tmp_path / "nope.zarr"))


def test_eval_refuses_mismatched_store(trained_run, tmp_path, mnist_raw):
    run, _ = trained_run
    from snnpipe.pipeline.datasets.preprocess import preprocess
    _, cache = mnist_raw
    other = preprocess("mnist", tmp_path, levels=(200, 100), source=cache).path
    msg = one_error_line(cli("eval", run / "checkpoints" / "last.zarr", "--store", other))
    assert "levels" in msg and "preprocess" in msg


def test_bad_options_fail_in_one_line(mnist_store, tmp_path):
    msg = one_error_line(cli("train", "--set", "bogus=1", "--run-dir", tmp_path / "x"))
    assert "unknown config key 'bogus'" in msg and "neurons" in msg
    msg = one_error_line(cli("train", "--set", "learn_low=5000000", "--run-dir", tmp_path / "y"))
    assert "learn_low" in msg
    msg = one_error_line(cli("train", "--store", tmp_path / "missing.zarr",
                             "--run-dir", tmp_path / "z"))
    # the hint builds that very store (`make preprocess` builds another one)
    assert "no preprocessed dataset" in msg and "snnpipe preprocess --output" in msg
    assert not (tmp_path / "x").exists() and not (tmp_path / "z").exists()


@pytest.mark.parametrize("mode", ["offline", "disabled"])
def test_wandb_modes_without_network(mnist_store, tmp_path, mode):
    run = tmp_path / mode
    res = cli("train", "--epochs", 1, "--set", "neurons=50", "--limit-train", 400,
              "--limit-test", 200, "--run-dir", run, "--wandb-mode", mode,
              env={"WANDB_MODE": mode, "WANDB_API_KEY": ""})
    assert res.returncode == 0, res.stderr
    assert len(read_metrics(run)) == 1
    offline_runs = list((run / "wandb").glob("offline-run-*")) if (run / "wandb").exists() else []
    assert bool(offline_runs) == (mode == "offline")


def test_wandb_failure_never_stops_training(mnist_store, tmp_path):
    # online with no account and no network: a warning, training goes on, metrics written
    run = tmp_path / "online"
    res = cli("train", "--epochs", 1, "--set", "neurons=50", "--limit-train", 400,
              "--limit-test", 200, "--run-dir", run, "--wandb-mode", "online",
              env={"WANDB_API_KEY": "", "WANDB_MODE": "online",
                   "WANDB_BASE_URL": "http://127.0.0.1:9", "WANDB_INIT_TIMEOUT": "5"})
    assert res.returncode == 0, res.stderr
    assert len(read_metrics(run)) == 1
    assert "wandb disabled for this run" in res.stderr


def test_committed_reproduction_checkpoint_evaluates_to_its_recorded_accuracy(mnist_store):
    """docs/reproduce/best.zarr was saved by `snnpipe reproduce`; evaluating it anew on the
    full test set must give exactly the accuracy the run recorded in it."""
    best = ROOT / "docs" / "reproduce" / "best.zarr"
    recorded = ckpt.load(best).metrics["test_accuracy"]
    res = cli("eval", best, "--json")
    assert res.returncode == 0, res.stderr
    result = json.loads(res.stdout)["results"][0]
    assert result["samples"] == 10_000
    assert result["accuracy"] == recorded


def test_sigterm_checkpoints_like_ctrl_c(mnist_store, tmp_path):
    run = tmp_path / "terminated"
    # on the last batch of epoch 1: the epoch completes, is recorded, then training stops
    code, err = signal_at_batch(run, signal.SIGTERM, BATCHES_PER_EPOCH)
    assert code == 130, err
    state = ckpt.load(run / "checkpoints" / "last.zarr").state["trainer"]
    assert (state["epoch"], state["cursor"]) == (1, 0)
    assert [r["epoch"] for r in read_metrics(run)] == [1]
