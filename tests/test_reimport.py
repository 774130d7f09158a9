"""A data set imported again (`import NAME PATH --force`) makes the processed store built
from the earlier import stale: nothing scores or trains on it. The store records the
import's digest; every command compares it with the current import's, and rebuilds the
store (commands that find or build their store) or refuses it with the command that
rebuilds it. In-process, on tiny npz data sets."""

import numpy as np
from inprocess import error_line, ok
from test_import import TINY, make_npz
from typer.testing import CliRunner

from snnpipe.pipeline.cli import app

runner = CliRunner()


def trained_then_reimported(tmp_path, reproduce=False, **new):
    """`arr` imported, preprocessed and trained on (and reproduced on); then imported again
    from other data (no preprocess after it)."""
    data, run = tmp_path / "d", tmp_path / "run"
    ok("import", "arr", make_npz(tmp_path / "a.npz"), "--data-dir", data)
    ok("preprocess", "--dataset", "arr", "--data-dir", data)
    ok("train", "--dataset", "arr", "--data-dir", data, "--run-dir", run, *TINY)
    if reproduce:
        ok("reproduce", "--dataset", "arr", "--data-dir", data, "--set", "neurons=20",
           "--max-samples", 80, "--eval-every-samples", 40, "--checkpoint-every-samples", 40,
           "--run-dir", tmp_path / "rep", "--wandb-mode", "disabled", "--target", 101)
    ok("import", "arr", make_npz(tmp_path / "b.npz", **new), "--force", "--data-dir", data)
    return data, run


def test_eval_and_resume_refuse_a_checkpoint_of_the_earlier_import(tmp_path):
    data, run = trained_then_reimported(tmp_path, x_train=np.zeros((40, 6, 6), np.uint8),
                                        x_test=np.zeros((12, 6, 6), np.uint8))
    res = runner.invoke(app, ["eval", str(run / "checkpoints" / "last.zarr"), "--data-dir",
                              str(data)])
    assert res.exit_code == 1, res.output
    assert f"rebuilt {data / 'arr.zarr'}" in res.stdout and "imported again" in res.stdout
    assert "25 receptors" in res.stderr and "36-pixel images" in res.stderr
    msg = error_line("train", "--resume", run, "--epochs", 2, "--data-dir", data,
                     "--wandb-mode", "disabled")
    assert "earlier import of arr" in msg and "snnpipe import arr" in msg


def test_a_reimport_of_the_same_shape_is_caught_too(tmp_path):
    """Same image size, other pixels: only the digest tells the two imports apart."""
    rng = np.random.default_rng(1)
    data, run = trained_then_reimported(
        tmp_path, reproduce=True, x_train=rng.integers(0, 256, (40, 5, 5), dtype=np.uint8))
    msg = error_line("eval", run / "checkpoints" / "last.zarr", "--data-dir", data)
    assert "other source files" in msg
    for resume in (["train", "--resume", run, "--epochs", 2],
                   ["reproduce", "--resume", tmp_path / "rep", "--max-samples", 160]):
        msg = error_line(*resume, "--data-dir", data, "--wandb-mode", "disabled")
        assert "earlier import of arr" in msg, msg


def test_train_and_reproduce_refuse_the_stale_store_with_the_command_that_rebuilds_it(
        tmp_path):
    data, _ = trained_then_reimported(tmp_path, x_train=np.zeros((40, 6, 6), np.uint8),
                                      x_test=np.zeros((12, 6, 6), np.uint8))
    for cmd in (["train", *TINY, "--run-dir", tmp_path / "r2"],
                ["reproduce", "--set", "neurons=20", "--max-samples", 100,
                 "--run-dir", tmp_path / "r3", "--wandb-mode", "disabled"]):
        msg = error_line(*cmd, "--dataset", "arr", "--data-dir", data)
        assert "earlier import of arr" in msg
        assert f"snnpipe preprocess --dataset arr --data-dir {data}" in msg
    assert not (tmp_path / "r2").exists() and not (tmp_path / "r3").exists()
    ok("preprocess", "--dataset", "arr", "--data-dir", data)
    ok("train", *TINY, "--run-dir", tmp_path / "r2", "--dataset", "arr", "--data-dir", data)
