"""`snnpipe ensemble` counts each network once: members are compared by content (their
receptors and weights), not by path, so `last.zarr` beside the epoch checkpoint it was
saved with, or a copy of a checkpoint, is refused as a repeat. And an ensemble is never
written inside a store's folder. In-process, on a tiny imported data set."""

import shutil

import numpy as np
import pytest
from inprocess import error_line, ok
from test_import import make_npz

from snnpipe.stores import checkpoint as ckpt


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ens")
    data = root / "data"
    ok("import", "arr", make_npz(root / "a.npz"), "--data-dir", data)
    ok("preprocess", "--dataset", "arr", "--data-dir", data)
    ok("train", "--dataset", "arr", "--data-dir", data, "--set", "neurons=10", "--epochs", 2,
       "--wandb-mode", "disabled", "--run-dir", root / "run", "--seed", 1)
    folder = root / "run" / "checkpoints"
    one, two = (ckpt.load(folder / f"epoch-000{e}.zarr") for e in (1, 2))
    assert not np.array_equal(one.arrays["weights"], two.arrays["weights"])  # two networks
    return root, data


def test_last_and_its_epoch_checkpoint_are_one_member(run, tmp_path):
    root, _ = run
    folder = root / "run" / "checkpoints"
    msg = error_line("ensemble", tmp_path / "e.zarr", folder / "last.zarr",
                     folder / "epoch-0002.zarr")
    assert "the same network" in msg and "last.zarr" in msg and "epoch-0002.zarr" in msg
    copy = tmp_path / "copy.zarr"
    shutil.copytree(folder / "epoch-0001.zarr", copy)
    msg = error_line("ensemble", tmp_path / "e.zarr", folder / "epoch-0001.zarr", copy,
                     folder / "epoch-0002.zarr")
    assert "the same network" in msg and "copy.zarr" in msg
    # the run folder (its epoch checkpoints) plus its own last.zarr: a repeat too
    msg = error_line("ensemble", tmp_path / "e.zarr", root / "run", folder / "last.zarr")
    assert "the same network" in msg
    assert not (tmp_path / "e.zarr").exists()
    assert "2 members" in ok("ensemble", tmp_path / "e.zarr", folder / "epoch-0001.zarr",
                             folder / "epoch-0002.zarr")


def test_an_ensemble_is_never_written_inside_a_store(run, tmp_path):
    root, data = run
    folder = root / "run" / "checkpoints"
    members = [folder / "epoch-0001.zarr", folder / "epoch-0002.zarr"]
    for inside, words in ((data / "arr.zarr" / "ens.zarr", "data set store of arr"),
                          (data / "raw" / "arr.zarr" / "ens.zarr", "imported data set 'arr'"),
                          (tmp_path / "e.zarr" / "train" / "ens.zarr", "ensemble checkpoint")):
        if not inside.parent.exists():
            ok("ensemble", tmp_path / "e.zarr", *members)
            inside.parent.mkdir()
        msg = error_line("ensemble", inside, *members)
        assert "inside" in msg and words in msg, msg
        assert not inside.exists()
