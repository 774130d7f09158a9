"""A careless or hostile user: every bad input is one `error:` line, exit code != 0, and
nothing half-written; Ctrl-C works from the first instant. In-process through typer's runner
where a subprocess adds nothing, real processes where signals are involved."""

import errno
import gzip
import json
import os
import shutil
import signal

import forkrun
import numpy as np
import pytest
import zarr
from inprocess import error_line
from test_crash import TRAIN, run, snapshot
from typer.testing import CliRunner

from snnpipe.pipeline.cli import app
from snnpipe.stores import checkpoint as ckpt
from snnpipe.stores import integrity

runner = CliRunner()


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
        # checksums recomputed: a checkpoint written with these values, not damaged later
        g.attrs["integrity"] = integrity.digest_arrays(bad, ckpt.ARRAYS)
        msg = error_line("eval", bad, "--limit", 10)
        assert "out of range" in msg or "epoch_order" in msg, msg


def test_disk_full_is_one_line_and_leaves_no_store(monkeypatch, mnist_raw, tmp_path):
    from snnpipe.stores import dataset as dataset_store

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


# ---------------------------------------------------------------------- one error style
def usage_error(*args) -> str:
    res = runner.invoke(app, [*map(str, args)])
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.exit_code == 2, (args, res.exit_code, res.output)
    assert len(lines) == 1 and lines[0].startswith("error:"), (args, res.stderr)
    return lines[0]


@pytest.mark.parametrize("args, words", [
    (["train", "--foo"], "No such option: --foo"),
    (["train", "--epochs", "x"], "--epochs"),
    (["eval"], "Missing argument 'paths'"),
    (["reproduce", "--hours", "soon"], "--hours")])
def test_option_parsing_errors_are_one_line(args, words):
    msg = usage_error(*args)
    assert words in msg and f"`snnpipe {args[0]} --help`" in msg


def test_brackets_show_literally_and_config_keys_are_never_ignored(tmp_path):
    f = tmp_path / "mixed.toml"
    f.write_text("neurons = 79\n[config]\nneurons = 80\n[other]\nx = 1\n")
    msg = error_line("config", "show", "--config", f)
    assert "[config]" in msg and "neurons, other" in msg


@pytest.mark.parametrize("text, words", [
    ("levels = " + "[" * 2000 + "]" * 2000 + "\n", "nested too deeply"),
    ("levels = [" + ", ".join(["1"] * 200_000) + "]\n", "levels")])
def test_deep_or_huge_toml_is_one_short_line(text, words, tmp_path):
    f = tmp_path / "x.toml"
    f.write_text(text)
    msg = error_line("config", "show", "--config", f)
    assert words in msg and len(msg) < 1000


@pytest.mark.parametrize("args, words", [
    (["--seed", "-1"], "--seed -1"), (["--set", "neurons=" + "9" * 5000], "digits"),
    (["--set", "spike_threshold=9223372036854775807"], "2**62"),
    (["--set", "levels=[" + ",".join(map(str, range(255, 190, -1))) + "]"], "at most 64"),
    (["--set", "columns=5"], "columns must be 10"),
    (["--set", "receptors=100"], "receptors must be 784"),
    (["--limit-train", "2000", "--validation", "1999"], "--validation 1999")])
def test_train_refuses_what_can_never_succeed_and_leaves_no_folder(args, words, mnist_store,
                                                                     tmp_path):
    msg = error_line("train", "--epochs", 1, "--set", "neurons=20", "--limit-test", 100,
                     *args, "--run-dir", tmp_path / "r")
    assert words in msg and len(msg) < 1000
    assert not (tmp_path / "r").exists()


def test_os_error_names_the_path_and_a_fix_that_fits(mnist_store, tmp_path):
    (tmp_path / "file").write_text("x")
    msg = error_line("preprocess", "--output", tmp_path / "file" / "s.zarr")
    assert "file" in msg and "not a folder" in msg and "free" not in msg


@pytest.mark.parametrize("address", ["not an address", "tcp://127.0.0.1", "lol"])
def test_scheduler_address_is_checked_before_anything_starts(address, tmp_path):
    msg = error_line("preprocess", "--output", tmp_path / "s.zarr", "--scheduler", address)
    assert "--scheduler" in msg and "tcp://127.0.0.1:8786" in msg
    assert not list(tmp_path.iterdir())


def _spec(tmp_path, text):
    f = tmp_path / "spec.toml"
    f.write_text(text)
    return f


def test_sweep_refuses_absurd_grids_escaping_names_and_too_many_workers(tmp_path):
    grid = "\n".join(f"{k} = [{', '.join(map(str, range(1, 11)))}]" for k in (
        "grow_count", "decay_every", "batch_size", "positive_up", "negative_up", "slots"))
    assert "1,000,000 trials" in error_line("sweep", _spec(tmp_path, f"[grid]\n{grid}\n"))
    assert "plain name" in error_line("sweep", _spec(tmp_path, 'name = "x/../../escaped"\n'))
    assert "cores" in error_line("sweep", _spec(tmp_path, "seeds = 1\n"), "--workers", 4096)
    assert not (tmp_path / "escaped").exists()


def test_plot_refuses_repeated_labels_and_reads_a_torn_log(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    assert "used twice" in error_line("plot", run, "--label", "a", "--against", f"a={run}")
    assert "used twice" in error_line("plot", run, "--against", f"a={run}",
                                      "--against", f"a={run}")
    row = {"samples_seen": 1, "test_accuracy": 0.5}
    (run / "results.jsonl").write_text(json.dumps(row) + "\n" + json.dumps(row)[:9])
    from snnpipe.pipeline.results.summary import load_points
    assert load_points(run) == [row]


@pytest.mark.parametrize("samples", ["0", "-5"])
def test_priming_names_its_own_options(samples, tmp_path):
    msg = error_line("priming", "--samples", samples, "--run-dir", tmp_path / "p")
    assert "--samples" in msg and "eval-every" not in msg


def test_ctrl_c_during_imports_exits_130_without_a_traceback():
    res = forkrun.fresh("config", "show", env={**os.environ, "SNNPIPE_FAULT": "SIGINT@import:1"})
    assert res.returncode == 130 and res.stderr.strip() == "interrupted"


def test_reproduce_exits_130_after_sigterm_like_train(mnist_store, tmp_path):
    res = run("reproduce", "--set", "neurons=20", "--max-samples", 2000,
              "--eval-every-samples", 1000, "--run-dir", tmp_path / "rp",
              env={"SNNPIPE_FAULT": "SIGTERM@batch:3"})
    assert res.returncode == 130 and "snnpipe reproduce --resume" in res.stderr
    assert "Traceback" not in res.stderr


def test_plot_against_a_run_without_test_accuracy_and_priming_in_a_used_folder(tmp_path):
    main, val = tmp_path / "main", tmp_path / "val"
    main.mkdir()
    val.mkdir()
    row = {"samples_seen": 200, "test_accuracy": 0.5, "positive_learns": 3}
    (main / "results.jsonl").write_text(json.dumps(row) + "\n")
    (val / "metrics.jsonl").write_text(json.dumps({
        "samples_seen": 200, "validation_accuracy": 0.4, "positive_learns_total": 3,
        "negative_learns_total": 1, "live_positive": 5, "live_negative": 1}) + "\n")
    msg = error_line("plot", main, "--against", f"v={val}", "--output", tmp_path / "p")
    assert "no test accuracy" in msg and "(v)" in msg
    # runs that all hold out a validation split are compared on it (and --band, a test
    # summary, is refused for them)
    assert not (tmp_path / "p").exists()
    res = runner.invoke(app, ["plot", str(val), "--against", f"w={val}", "--output",
                              str(tmp_path / "p")])
    assert res.exit_code == 0 and "drawn: validation accuracy" in res.stdout, res.output
    assert (tmp_path / "p" / "comparison.png").exists()
    assert "drop --band" in error_line("plot", val, "--against", f"w={val}", "--band", "0:1M",
                                       "--output", tmp_path / "p")
    used = tmp_path / "pr" / "both-rules"
    used.mkdir(parents=True)
    (used / "run.json").write_text("{}")
    msg = error_line("priming", "--samples", 1000, "--variant", "both-rules",
                     "--run-dir", tmp_path / "pr")
    assert "already holds a priming run" in msg and "--resume" not in msg


def test_reproduce_refuses_the_snapshots_option_it_cannot_honour(tmp_path):
    for args in (["--preset", "mnist-plus"], ["--set", "snapshots=3"]):
        msg = error_line("reproduce", *args, "--max-samples", 1000, "--run-dir", tmp_path / "r")
        assert "snapshots" in msg and "snnpipe train" in msg
    assert not (tmp_path / "r").exists()
