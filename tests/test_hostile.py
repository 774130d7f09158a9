"""A careless or hostile user: every bad input is one `error:` line, exit code != 0, and
nothing half-written; Ctrl-C works from the first instant. In-process through typer's runner
where a subprocess adds nothing, real processes where signals are involved."""

import errno
import gzip
import json
import shutil
import signal

import numpy as np
import pytest
import zarr
from test_crash import TRAIN, run, snapshot
from typer.testing import CliRunner

from pipeline.cli import app

runner = CliRunner()


def error_line(*args) -> str:
    res = runner.invoke(app, [*map(str, args)])
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.exit_code == 1, (args, res.exit_code, res.output, res.exception)
    assert len(lines) == 1 and lines[0].startswith("error:"), (args, res.stderr)
    return lines[0]


@pytest.mark.parametrize("levels", ["1.5", "true", "192,,1", '"x"', "192,1.5"])
def test_levels_are_integers_strictly(levels, tmp_path):
    msg = error_line("preprocess", "--levels", levels, "--output", tmp_path / "s.zarr")
    assert msg.startswith("error: --levels") and "integer" in msg
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("value", ["[200.7,1]", "5", '["a"]'])
def test_set_levels_must_be_a_list_of_integers(value):
    assert "levels must be a list of integers" in error_line("config", "show", "--set",
                                                             f"levels={value}")


def test_bad_toml_files(tmp_path):
    cases = {"latin1.toml": "neurons = 5 # caf\xe9".encode("latin-1"),
             "five.toml": b"config = 5\n", "strings.toml": b'levels = ["a"]\n',
             "broken.toml": b"neurons = \n"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        msg = error_line("config", "show", "--config", tmp_path / name)
        assert "--config" in msg or "levels" in msg, msg


@pytest.mark.parametrize("args", [
    ["--limit-train", "0"], ["--limit-train", "-5"], ["--limit-test", "0"],
    ["--set", "neurons=20000000"]])
def test_train_limits_and_memory_are_checked_before_anything_is_written(args, mnist_store,
                                                                        tmp_path):
    msg = error_line("train", *args, "--run-dir", tmp_path / "r")
    assert ("must be >= 1" in msg) or ("GiB" in msg and "fewer neurons" in msg), msg
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_eval_limit(limit, tmp_path):
    assert "--limit" in error_line("eval", tmp_path, "--limit", limit)


@pytest.mark.parametrize("workers", ["0", "-1"])
def test_preprocess_workers(workers, tmp_path):
    assert "--workers" in error_line("preprocess", "--workers", workers, "--output",
                                     tmp_path / "s.zarr")


def test_run_folder_faults(mnist_store, tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert "is a file" in error_line("train", "--run-dir", a_file)
    done = tmp_path / "done"
    assert runner.invoke(app, [*TRAIN, "--run-dir", str(done)]).exit_code == 0
    msg = error_line("train", "--resume", done, "--epochs", 1)
    assert "already trained 2 epochs" in msg and "--epochs 3" in msg
    for text in ("", "{not json", "[]"):
        (done / "run.json").write_text(text)
        assert "run.json is corrupt" in error_line("train", "--resume", done, "--epochs", 3)


def test_checkpoint_indices_are_validated(mnist_store, tmp_path):
    done = tmp_path / "done"
    args = [a if a != "2" else "1" for a in TRAIN[:3]] + TRAIN[3:]
    assert runner.invoke(app, [*args, "--run-dir", str(done)]).exit_code == 0
    last = done / "checkpoints" / "last.zarr"
    for name, value in (("receptors", -3), ("epoch_order", -1), ("epoch_order", 10**6)):
        bad = tmp_path / f"{name}{value}.zarr"
        shutil.copytree(last, bad)
        g = zarr.open_group(str(bad), mode="r+")
        a = g[name][...]
        if name == "receptors":
            live = np.argwhere(g["weights"][...] != 0)[0]
            a = a.astype(np.int32)
            a[tuple(live)] = value
            del g[name]
            g.create_array(name, data=a)
        else:
            if a.size == 0:
                a = np.arange(400)
            a = a.astype(np.int64)
            a[0] = value
            del g[name]
            g.create_array(name, data=a)
        msg = error_line("eval", bad, "--limit", 10)
        assert "out of range" in msg or "epoch_order" in msg, msg


def test_disk_full_is_one_line_and_leaves_no_store(monkeypatch, mnist_raw, tmp_path):
    from stores import dataset as dataset_store

    def full(path, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))
    monkeypatch.setattr(dataset_store, "create_layout", full)
    msg = error_line("preprocess", "--output", tmp_path / "s.zarr", "--data-dir",
                     mnist_raw[1].parents[1])
    assert "No space left on device" in msg and "s.zarr" in msg
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_is_one_line():
    assert "/proc/" in error_line("preprocess", "--output", "/proc/snnpipe/s.zarr")


def test_cache_of_gz_files_only(mnist_raw, tmp_path):
    _, cache = mnist_raw
    gz = tmp_path / "raw" / "mnist"
    gz.mkdir(parents=True)
    for f in cache.iterdir():
        if not f.name.startswith("."):
            (gz / f"{f.name}.gz").write_bytes(gzip.compress(f.read_bytes(), 1))
    res = runner.invoke(app, ["preprocess", "--data-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "mnist.zarr" / "zarr.json").exists()


def test_config_help_shows_the_table_name():
    res = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    assert "[config]" in res.output


def test_ctrl_c_at_the_first_instant(mnist_store, tmp_path):
    folder = tmp_path / "r"
    res = run(*TRAIN, "--run-dir", folder, env={"SNNPIPE_FAULT": "SIGINT@start:1"})
    assert res.returncode == 130 and "nothing trained" in res.stderr
    assert not (folder / "checkpoints").exists()
    assert run(*TRAIN, "--run-dir", folder).returncode == 0
    ref = tmp_path / "ref"
    assert run(*TRAIN, "--run-dir", ref).returncode == 0
    assert snapshot(folder) == snapshot(ref)
    assert json.loads((folder / "run.json").read_text())["options"]["seed"] == 3
    assert signal.SIGINT  # the signal was real (delivered by the process to itself)
