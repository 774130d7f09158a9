"""Refusals in one style: a bad input file exits 1 in every command (2 is kept for a
malformed command line); a store missing a whole array gets the command that rebuilds it,
as the other damage does; a long list of levels is abbreviated, not echoed 64 times.
In-process, on a tiny imported data set."""

import shutil

import pytest
from inprocess import error_line, ok
from test_import import make_npz
from typer.testing import CliRunner

from snnpipe.pipeline.cli import app

runner = CliRunner()
TINY = ["--set", "neurons=10", "--wandb-mode", "disabled"]
LEVELS_64 = list(range(255, 191, -1))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """arr imported and preprocessed, a run trained on it, and a store of 64 levels with a
    checkpoint trained on that one."""
    root = tmp_path_factory.mktemp("refusals")
    data = root / "data"
    ok("import", "arr", make_npz(root / "a.npz"), "--data-dir", data)
    ok("preprocess", "--dataset", "arr", "--data-dir", data)
    ok("train", "--dataset", "arr", "--data-dir", data, "--epochs", 1, *TINY,
       "--run-dir", root / "run")
    lv = ",".join(map(str, LEVELS_64))
    ok("preprocess", "--dataset", "arr", "--data-dir", data, "--levels", lv, "--output",
       root / "s64.zarr")
    ok("train", "--dataset", "arr", "--data-dir", data, "--epochs", 1, *TINY, "--store",
       root / "s64.zarr", "--set", f"levels=[{lv}]", "--run-dir", root / "run64")
    return root, data


def test_a_store_missing_a_whole_array_gets_its_rebuild_command(tiny, tmp_path):
    root, data = tiny
    for array, damage in (("test/labels", "missing"), ("test/pixels", "unreadable")):
        store = tmp_path / f"{array.replace('/', '-')}.zarr"
        shutil.copytree(data / "arr.zarr", store)
        if damage == "missing":
            shutil.rmtree(store / array)
        else:
            (store / array / "zarr.json").write_text("{not json")
        fix = f"snnpipe preprocess --dataset arr --data-dir {data} --output {store}"
        for cmd in (["eval", root / "run" / "checkpoints" / "last.zarr"],
                    ["train", "--epochs", 1, *TINY, "--run-dir", tmp_path / "r"]):
            msg = error_line(*cmd, "--dataset", "arr", "--data-dir", data, "--store", store)
            assert array in msg and fix in msg, msg


def test_a_damaged_store_is_exit_code_1_in_every_command(tiny, tmp_path):
    """One convention for a bad input file: exit 1 (`error_line` checks it), whichever
    command reads it; 2 only for a malformed command line."""
    root, data = tiny
    damaged = tmp_path / "d"
    shutil.copytree(data, damaged)
    (damaged / "arr.zarr" / "test" / "planes" / "c" / "0" / "0" / "0").unlink()
    for cmd in (["train", "--epochs", 1, *TINY, "--run-dir", tmp_path / "r"],
                ["eval", root / "run" / "checkpoints" / "last.zarr"],
                ["reproduce", "--max-samples", 100, *TINY, "--run-dir", tmp_path / "p"]):
        msg = error_line(*cmd, "--dataset", "arr", "--data-dir", damaged)
        assert "chunk c/0/0/0 of array test/planes is missing" in msg
    res = runner.invoke(app, ["train", "--dataset", "arr", "--data-dir", str(damaged),
                              "--epochs", "x"])
    assert res.exit_code == 2


def _abbreviated(msg: str) -> None:
    assert ", ".join(map(str, LEVELS_64[:8])) not in msg, msg       # not echoed whole
    assert "(64 levels)" in msg and len(msg) < 500, msg


def test_long_level_lists_are_abbreviated(tiny, tmp_path):
    root, data = tiny
    lv = ",".join(map(str, LEVELS_64))
    # train: the config's 64 levels against a store of the default 4
    msg = error_line("train", "--dataset", "arr", "--data-dir", data, "--epochs", 1, *TINY,
                     "--store", data / "arr.zarr", "--set", f"levels=[{lv}]",
                     "--run-dir", tmp_path / "r")
    _abbreviated(msg)
    assert "drop --store" in msg
    # eval: a 64-level checkpoint against a store of 4 levels
    msg = error_line("eval", root / "run64" / "checkpoints" / "last.zarr", "--store",
                     data / "arr.zarr")
    _abbreviated(msg)
    # the configuration itself: 64 levels, one out of order
    bad = [*LEVELS_64[:-2], LEVELS_64[-1], LEVELS_64[-2]]
    msg = error_line("config", "show", "--set", f"levels=[{','.join(map(str, bad))}]")
    _abbreviated(msg)
    assert "strictly descending" in msg and "192, 193" in msg
