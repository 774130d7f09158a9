"""Kill for real: SIGKILL `train` and `preprocess` at every write point, then finish the job
and compare with an uninterrupted run. Two writers at once: the second gets one line naming
the first one's PID (the first is frozen with SIGSTOP at a known point, not raced)."""

import json
import os
import shutil
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from unittest.mock import ANY

import forkrun
import numpy as np
import pytest
import zarr

from snnpipe.stores import checkpoint as ckpt
from snnpipe.stores.runs import read_metrics

# Tiny and fast; with this seed epoch 2 beats epoch 1, so best.zarr is replaced too; the
# `snapshots` option adds its write (snapshots.zarr, final epoch) to the journal.
PLAIN_TRAIN = ["train", "--epochs", "2", "--set", "neurons=20", "--limit-train", "400",
               "--limit-test", "200", "--seed", "3"]
TRAIN = [*PLAIN_TRAIN, "--set", "snapshots=2"]


def run(*args, env=None, wait=True):
    """`snnpipe ARGS` as a real process (forked from the pre-imported test server)."""
    e = {**os.environ, "WANDB_MODE": "disabled", **(env or {})}
    if not wait:
        return forkrun.start(*args, env=e)
    return forkrun.snnpipe(*args, env=e)


def strip(rows):
    from snnpipe.pipeline.training.train import strip_timing
    return [strip_timing(r) for r in rows]


def snapshot(run_dir: Path) -> dict:
    """Everything a finished run must agree on, timing aside."""
    out = {"metrics": strip(read_metrics(run_dir))}
    for name in ("last.zarr", "best.zarr", "snapshots.zarr"):
        if name == "snapshots.zarr" and not (run_dir / "checkpoints" / name).exists():
            continue                               # a run without the variant
        cp = ckpt.load(run_dir / "checkpoints" / name)
        out[name] = (cp.epoch, cp.arrays["weights"].tobytes(), cp.arrays["receptors"].tobytes(),
                     json.dumps(cp.state, sort_keys=True))
    out["files"] = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    return out


def assert_two_sittings_match(got: dict, ref: dict) -> None:
    """A run trained to epoch 1, then resumed to 2, equals the one-sitting run, except that
    the first sitting's final row also scores that sitting's snapshots (the variant is
    built at each `train` call's last epoch)."""
    assert got["metrics"][0] == {**ref["metrics"][0], "snapshots": 1,
                                 "snapshots_test_accuracy": ANY, "snapshots_test_no_decision": ANY}
    assert {**got, "metrics": got["metrics"][1:]} == {**ref, "metrics": ref["metrics"][1:]}


def write_points(tmp: Path, args: list) -> list[str]:
    trace = tmp / "trace.txt"
    res = run(*args, env={"SNNPIPE_FAULT_TRACE": str(trace)})
    assert res.returncode == 0, res.stderr
    return [line.split(" ", 1)[1] for line in trace.read_text().splitlines()]


@pytest.fixture(scope="module")
def reference(mnist_store, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    points = write_points(tmp, [*TRAIN, "--run-dir", tmp / "run"])
    return snapshot(tmp / "run"), points


def test_write_points_cover_every_kind_of_write(reference):
    _, points = reference
    for needed in ("config.toml: in place", "run.json: in place", "epoch-0002.zarr: done",
                   "snapshots.zarr: done",
                   "best.zarr: old copy moved aside", "last.zarr: old copy moved aside",
                   "last.zarr: new copy in place", "metrics.jsonl: half a row"):
        assert needed in points


def _kill_and_finish(k: int, tmp: Path) -> tuple[int, dict, list[str]]:
    folder = tmp / f"kill-{k}"
    res = run(*TRAIN, "--run-dir", folder, env={"SNNPIPE_FAULT": f"SIGKILL@write:{k}"})
    assert res.returncode == -signal.SIGKILL, (k, res.returncode, res.stderr)
    # nothing that looks complete is half-written: every visible checkpoint loads
    for cp in (folder / "checkpoints").glob("*.zarr") if (folder / "checkpoints").exists() \
            else []:
        ckpt.load(cp)
    if (folder / "run.json").exists():
        again = run("train", "--resume", folder, "--epochs", 2)
    else:                                    # never got going: the same command again
        again = run(*TRAIN, "--run-dir", folder)
    assert again.returncode == 0, (k, again.stderr)
    hidden = [p.name for p in folder.rglob(".*") if p.name != ".lock"]
    return k, snapshot(folder), hidden


def test_sigkill_at_every_write_point_then_resume_matches_uninterrupted(reference, tmp_path):
    ref, points = reference
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda k: _kill_and_finish(k, tmp_path),
                                range(1, len(points) + 1)))
    for k, snap, hidden in results:
        assert snap == ref, f"kill at write point {k} ({points[k - 1]}) changed the result"
        assert hidden == [], f"kill at {points[k - 1]} left {hidden}"


def test_lost_log_rows_and_torn_lines_are_restored_from_the_checkpoint(reference, tmp_path):
    ref, _ = reference
    folder = tmp_path / "r"
    assert run(*[a if a != "2" else "1" for a in TRAIN[:3]], *TRAIN[3:], "--run-dir",
               folder).returncode == 0
    log = folder / "metrics.jsonl"
    log.write_text(log.read_text()[:-7])            # a torn last line
    assert len(read_metrics(folder)) == 0           # readers drop it, they do not crash
    res = run("train", "--resume", folder, "--epochs", 2)
    assert res.returncode == 0, res.stderr
    got = snapshot(folder)
    assert_two_sittings_match(got, ref)
    log.unlink()                                    # the log deleted outright
    res = run("train", "--resume", folder, "--epochs", 2)
    assert res.returncode == 0, res.stderr
    assert snapshot(folder)["metrics"] == got["metrics"]
    # and best.zarr was not overwritten by a worse epoch on the way
    assert ckpt.load(folder / "checkpoints" / "best.zarr").attrs["run"]["best_epoch"] == \
        ref["best.zarr"][0]


def test_resume_falls_back_to_the_newest_complete_checkpoint(reference, tmp_path):
    ref, _ = reference
    folder = tmp_path / "r"
    assert run(*TRAIN, "--run-dir", folder).returncode == 0
    ck = folder / "checkpoints"
    # last.zarr lost mid-replace: a complete hidden copy sits beside it
    os.replace(ck / "last.zarr", ck / ".last.zarr.new-1-deadbeef")
    res = run("train", "--resume", folder, "--epochs", 2)
    assert res.returncode == 0 and "restored .last.zarr.new-1-deadbeef" in res.stderr
    assert snapshot(folder) == ref
    # last.zarr corrupt: the newest epoch checkpoint is used, and named
    shutil.rmtree(ck / "last.zarr" / "weights")
    res = run("train", "--resume", folder, "--epochs", 2)
    assert res.returncode == 0, res.stderr
    assert "epoch-0002.zarr" in res.stderr
    assert snapshot(folder) == ref


def _stopped(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "T"


def _freeze_at(args: list, point: str) -> forkrun.Proc:
    """Start a writer that stops itself (SIGSTOP) at a known point, holding its lock."""
    proc = run(*args, env={"SNNPIPE_FAULT": f"SIGSTOP@{point}"}, wait=False)
    while not _stopped(proc.pid):            # waits for a state, not for a duration
        assert proc.poll() is None, proc.stderr
        os.sched_yield()
    return proc


def _thaw(proc: forkrun.Proc) -> None:
    os.kill(proc.pid, signal.SIGCONT)
    assert proc.wait(timeout=600) == 0, proc.stderr


def test_two_resumes_of_one_run_the_second_is_refused(reference, tmp_path):
    ref, _ = reference
    folder = tmp_path / "r"
    assert run(*[a if a != "2" else "1" for a in TRAIN[:3]], *TRAIN[3:], "--run-dir",
               folder).returncode == 0
    first = _freeze_at(["train", "--resume", folder, "--epochs", 2], "batch:3")
    second = run("train", "--resume", folder, "--epochs", 2)
    _thaw(first)
    lines = [ln for ln in second.stderr.splitlines() if ln.strip()]
    assert second.returncode == 1 and len(lines) == 1
    assert f"in use by process {first.pid}" in lines[0]
    assert_two_sittings_match(snapshot(folder), ref)   # no duplicated epochs


def test_two_preprocess_force_on_one_output(tmp_path):
    out = tmp_path / "s.zarr"
    args = ["preprocess", "--dataset", "digits", "--output", out, "--force"]
    first = _freeze_at(args, "write:1")
    second = run(*args)
    _thaw(first)
    assert second.returncode == 1 and f"in use by process {first.pid}" in second.stderr
    assert run(*args[:-1]).stdout.count("up to date") == 1


def _waiting_for_a_lock(pid: int) -> bool:
    """Whether `pid` is blocked on a flock (a waiter's line in /proc/locks has a `->`)."""
    with open("/proc/locks") as f:
        return any("->" in ln and ln.split("->")[1].split()[3] == str(pid) for ln in f)


def test_an_eval_and_a_sweep_wait_for_the_store_another_command_is_building(tmp_path):
    """What a command builds on its way (the store it needs) it waits for, saying so, when
    another command is building it, and then uses: all three succeed, one store."""
    elsewhere = tmp_path / "elsewhere"
    assert run("preprocess", "--dataset", "digits", "--data-dir", elsewhere).returncode == 0
    assert run("train", "--dataset", "digits", "--data-dir", elsewhere, "--epochs", 1, "--set",
               "neurons=4", "--run-dir", tmp_path / "r").returncode == 0
    spec = tmp_path / "spec.toml"
    spec.write_text('name = "w"\ndataset = "digits"\nseeds = [0]\nbudget_samples = 400\n'
                    'validation = 300\n[fixed]\nneurons = 4\n')
    data = tmp_path / "d"
    first = _freeze_at(["preprocess", "--dataset", "digits", "--data-dir", data], "write:1")
    waiting = []
    try:
        waiting = [run("eval", tmp_path / "r", "--data-dir", data, wait=False),
                   run("sweep", spec, "--folder", tmp_path / "s", "--data-dir", data,
                       "--workers", 1, wait=False)]
        deadline = time.monotonic() + 300                # a safety net, not a timing
        for proc in waiting:
            while not _waiting_for_a_lock(proc.pid):    # a state, not a duration
                assert proc.poll() is None, proc.stderr
                assert time.monotonic() < deadline, "never blocked on the lock"
                os.sched_yield()
    finally:
        _thaw(first)
        for proc in waiting:
            proc.wait(timeout=600)
    for proc in waiting:
        assert proc.returncode == 0, proc.stderr
        assert f"waiting for process {first.pid}, which holds" in proc.stderr
    assert "built " not in waiting[0].stderr                 # the first command's store
    assert sorted(p.name for p in data.iterdir() if p.suffix == ".zarr") == ["digits.zarr"]


def test_preprocess_sigkill_at_every_write_point(tmp_path):
    """Digits (1,797 images) take the same write path as every data set, in a blink."""
    out = tmp_path / "s.zarr"
    store = ["preprocess", "--dataset", "digits", "--output", out]
    assert run(*store).returncode == 0
    reference = zarr.open_group(str(out), mode="r")["test/planes"][:]
    points = write_points(tmp_path, [*store, "--force"])
    assert len(points) >= 4
    for k in range(1, len(points) + 1):
        res = run(*store, "--force", env={"SNNPIPE_FAULT": f"SIGKILL@write:{k}"})
        assert res.returncode == -signal.SIGKILL
        again = run(*store)
        assert again.returncode == 0 and "up to date" in again.stdout, (k, again.stderr)
        assert np.array_equal(zarr.open_group(str(out), mode="r")["test/planes"][:],
                              reference)
        assert [p.name for p in tmp_path.glob(".s.zarr*") if p.name != ".s.zarr.lock"] == []


def test_sigkill_while_a_resume_rewrites_run_json_loses_nothing(mnist_store, tmp_path):
    """The write of `reproduce --resume --max-samples N` records the new
    N in run.json. Killed at either step of that write, the next resume finishes the job
    exactly as an uninterrupted one does."""
    from snnpipe.engine import Config
    from snnpipe.pipeline.training.reproduce import ReproduceOptions, reproduce
    base = dict(config=Config(neurons=20), eval_every_samples=200, target=101.0,
                checkpoint_every_samples=200, wandb_mode="disabled")
    reproduce(ReproduceOptions(**base, max_samples=400, run_dir=tmp_path / "base"))
    shutil.copytree(tmp_path / "base", tmp_path / "straight")
    trace = tmp_path / "trace.txt"
    os.environ["SNNPIPE_FAULT_TRACE"] = str(trace)
    try:
        reproduce(ReproduceOptions(**{**base, "eval_every_samples": None}, max_samples=600,
                                   resume=tmp_path / "straight"))
    finally:
        del os.environ["SNNPIPE_FAULT_TRACE"]
    names = [ln.split(" ", 1)[1] for ln in trace.read_text().splitlines()]
    # the i-th point of this resume is write point i of a fresh `snnpipe` process
    kills = [k for k, name in enumerate(names, 1) if name.startswith("run.json")]
    assert len(kills) == 2

    def state(folder):
        cp = ckpt.load(folder / "checkpoints" / "last.zarr")
        rows = [{k: v for k, v in json.loads(ln).items() if "seconds" not in k}
                for ln in (folder / "results.jsonl").read_text().splitlines()]
        return (cp.arrays["weights"].tobytes(), rows,
                json.loads((folder / "run.json").read_text())["options"]["max_samples"])
    for k in kills:
        folder = tmp_path / f"kill-{k}"
        shutil.copytree(tmp_path / "base", folder)
        res = run("reproduce", "--resume", folder, "--max-samples", 600,
                  env={"SNNPIPE_FAULT": f"SIGKILL@write:{k}"})
        assert res.returncode == -signal.SIGKILL, res.stderr
        assert run("reproduce", "--resume", folder, "--max-samples", 600).returncode == 0
        assert state(folder) == state(tmp_path / "straight")


def _import_killed_at(k: int, force: bool, npz: Path, tmp: Path) -> tuple[int, bool, Path]:
    """Kill `import` at write point k (one real process); is the data set whole or absent?"""
    from snnpipe.stores import rawstore
    data = tmp / f"data-{int(force)}-{k}"
    if force:
        shutil.copytree(tmp / "ref", data)
    res = run("import", "mine", npz, *(["--force"] if force else []), "--data-dir", data,
              env={"SNNPIPE_FAULT": f"SIGKILL@write:{k}"})
    assert res.returncode == -signal.SIGKILL, (k, res.stderr)
    path = rawstore.raw_path(data, "mine")
    seen = rawstore.read_attrs(path)            # what a reader finds: whole or nothing
    visible_ok = (seen is not None and rawstore.verify(path, seen, "")) if path.exists() \
        else True                               # whole: every chunk matches its checksum
    return k, visible_ok, data


def test_import_sigkill_at_every_write_point(tmp_path):
    """`snnpipe import` (new, and --force over an existing one) killed at each of its write
    points: a data set is whole or absent, and importing again finishes the job."""
    from snnpipe.stores import rawstore
    npz = tmp_path / "a.npz"
    rng = np.random.default_rng(0)
    np.savez(npz, x_train=rng.integers(0, 256, (30, 4, 4), dtype=np.uint8),
             y_train=np.arange(30) % 3, x_test=rng.integers(0, 256, (9, 4, 4), dtype=np.uint8),
             y_test=np.arange(9) % 3)
    (tmp_path / "new").mkdir()
    (tmp_path / "replace").mkdir()
    fresh = write_points(tmp_path / "new", ["import", "mine", npz, "--data-dir",
                                            tmp_path / "ref"])
    digest = rawstore.read_attrs(rawstore.raw_path(tmp_path / "ref", "mine"))["digest"]
    replace = write_points(tmp_path / "replace", ["import", "mine", npz, "--force",
                                                  "--data-dir", tmp_path / "ref"])
    assert "mine.zarr: old copy moved aside" in replace and len(fresh) >= 3
    jobs = [(k, False) for k in range(1, len(fresh) + 1)] + \
           [(k, True) for k in range(1, len(replace) + 1)]
    with ThreadPoolExecutor(2) as pool:
        procs = list(pool.map(lambda j: _import_killed_at(j[0], j[1], npz, tmp_path), jobs))
    from snnpipe.pipeline.datasets.importer import import_dataset
    for k, visible_ok, data in procs:
        assert visible_ok, f"kill at write point {k} left a half-written data set"
        import_dataset("mine", npz, data, force=True)      # recovers, then finishes the job
        path = rawstore.raw_path(data, "mine")
        hidden = [p.name for p in path.parent.glob(".*") if not p.name.endswith(".lock")]
        assert rawstore.read_attrs(path)["digest"] == digest and hidden == [], (k, hidden)
        assert rawstore.verify(path, rawstore.read_attrs(path), "")


def test_ensemble_sigkill_at_every_write_point(mnist_store, tmp_path):
    """`snnpipe ensemble` (new, and --force over an existing one) killed at each of its write
    points: the ensemble checkpoint is whole (and right) or absent, and running the command
    again finishes the job."""
    res = run(*TRAIN, "--run-dir", tmp_path / "run")
    assert res.returncode == 0, res.stderr
    members = [tmp_path / "run" / "checkpoints" / f"epoch-000{e}.zarr" for e in (1, 2)]
    (tmp_path / "new").mkdir()
    (tmp_path / "replace").mkdir()
    fresh = write_points(tmp_path / "new", ["ensemble", tmp_path / "ref.zarr", *members])
    replace = write_points(tmp_path / "replace",
                           ["ensemble", tmp_path / "ref.zarr", *members, "--force"])
    assert "ref.zarr: old copy moved aside" in replace and len(fresh) >= 2
    want = ckpt.load(tmp_path / "ref.zarr").arrays["weights"].tobytes()

    def kill_then_finish(job):
        k, force = job
        folder = tmp_path / f"ens-{k}-{force}"
        folder.mkdir()
        out = folder / "ens.zarr"
        if force:
            shutil.copytree(tmp_path / "ref.zarr", out)
        res = run("ensemble", out, *members, *(["--force"] if force else []),
                  env={"SNNPIPE_FAULT": f"SIGKILL@write:{k}"})
        assert res.returncode == -signal.SIGKILL, (k, force, res.stderr)
        if out.exists():                      # visible means complete and right
            assert ckpt.load(out).arrays["weights"].tobytes() == want, (k, force)
        again = run("ensemble", out, *members, "--force")
        assert again.returncode == 0, (k, force, again.stderr)
        assert ckpt.load(out).arrays["weights"].tobytes() == want
        hidden = [p.name for p in folder.glob(".*") if not p.name.endswith(".lock")]
        assert hidden == [], (k, force, hidden)

    jobs = [(k, False) for k in range(1, len(fresh) + 1)] + \
           [(k, True) for k in range(1, len(replace) + 1)]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(kill_then_finish, jobs))


# ====================================================================================
# Write-once commands stopped by SIGTERM or Ctrl-C at each of their write points
# (`import`, `preprocess --force`, `ensemble --force`): the command exits 143 or 130 with
# one word, the store is the old one or the new one, whole, and nothing is left beside it:
# no temporary copy, no hidden complete copy, no lock. Appended as one block; it reuses
# `run` and `write_points` above.
# ====================================================================================
STOPS = (("SIGTERM", 143, "terminated"), ("SIGINT", 130, "interrupted"))


def _tiny_npz(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    np.savez(path, x_train=rng.integers(0, 256, (30, 4, 4), dtype=np.uint8),
             y_train=np.arange(30) % 3, x_test=rng.integers(0, 256, (9, 4, 4), dtype=np.uint8),
             y_test=np.arange(9) % 3)
    return path


def _left_beside(folder: Path, name: str) -> list[str]:
    return sorted(p.name for p in folder.glob(f".{name}*")) if folder.exists() else []


def _stopped_as_said(res, code: int, word: str, where: str) -> None:
    assert res.returncode == code, (where, res.returncode, res.stderr[-1500:])
    assert res.stderr.strip() == word, (where, res.stderr[-1500:])


def test_import_stopped_at_every_write_point_leaves_old_or_new_and_nothing_beside(tmp_path):
    from snnpipe.stores import rawstore
    old_npz, new_npz = _tiny_npz(tmp_path / "old.npz", 0), _tiny_npz(tmp_path / "new.npz", 1)
    ref = tmp_path / "ref"
    (tmp_path / "t1").mkdir()
    (tmp_path / "t2").mkdir()
    fresh = write_points(tmp_path / "t1", ["import", "mine", old_npz, "--data-dir", ref])
    old = rawstore.read_attrs(rawstore.raw_path(ref, "mine"))["digest"]
    shutil.copytree(ref, tmp_path / "ref-old")
    replace = write_points(tmp_path / "t2", ["import", "mine", new_npz, "--force",
                                             "--data-dir", ref])
    new = rawstore.read_attrs(rawstore.raw_path(ref, "mine"))["digest"]
    assert old != new and "mine.zarr: old copy moved aside" in replace

    def stop(job):
        k, force, (sig, code, word) = job
        data = tmp_path / f"d-{sig}-{int(force)}-{k}"
        if force:
            shutil.copytree(tmp_path / "ref-old", data)
        res = run("import", "mine", new_npz if force else old_npz,
                  *(["--force"] if force else []), "--data-dir", data,
                  env={"SNNPIPE_FAULT": f"{sig}@write:{k}"})
        where = (sig, "--force" if force else "new", (replace if force else fresh)[k - 1])
        _stopped_as_said(res, code, word, where)
        path = rawstore.raw_path(data, "mine")
        assert _left_beside(path.parent, "mine.zarr") == [], (where, _left_beside(
            path.parent, "mine.zarr"))
        attrs = rawstore.read_attrs(path)
        if attrs is None:                        # a new import stopped before it was whole
            assert not force and not path.exists(), where
        else:
            assert attrs["digest"] in ((old, new) if force else (old,)), where
            assert rawstore.verify(path, attrs, ""), where

    jobs = [(k, force, s) for s in STOPS for force, points in ((False, fresh), (True, replace))
            for k in range(1, len(points) + 1)]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(stop, jobs))


def test_preprocess_force_stopped_at_every_write_point_keeps_a_whole_store(tmp_path):
    from snnpipe.stores import dataset
    data, out = tmp_path / "data", tmp_path / "s.zarr"
    assert run("import", "mine", _tiny_npz(tmp_path / "a.npz", 0), "--data-dir",
               data).returncode == 0
    build = ["preprocess", "--dataset", "mine", "--data-dir", data, "--output", out]
    assert run(*build).returncode == 0
    points = write_points(tmp_path, [*build, "--force"])
    assert "s.zarr: old copy moved aside" in points
    for sig, code, word in STOPS:
        for k in range(1, len(points) + 1):
            res = run(*build, "--force", env={"SNNPIPE_FAULT": f"{sig}@write:{k}"})
            _stopped_as_said(res, code, word, (sig, points[k - 1]))
            assert _left_beside(tmp_path, "s.zarr") == [], (sig, points[k - 1])
            assert dataset.verify(out, dataset.read_attrs(out)), (sig, points[k - 1])
            assert "up to date" in run(*build).stdout


def test_ensemble_force_stopped_at_every_write_point_keeps_a_whole_ensemble(tmp_path):
    data = tmp_path / "data"
    assert run("import", "mine", _tiny_npz(tmp_path / "a.npz", 0), "--data-dir",
               data).returncode == 0
    assert run("preprocess", "--dataset", "mine", "--data-dir", data).returncode == 0
    res = run("train", "--dataset", "mine", "--data-dir", data, "--epochs", 2, "--set",
              "neurons=10", "--seed", 1, "--run-dir", tmp_path / "run")
    assert res.returncode == 0, res.stderr
    members = [tmp_path / "run" / "checkpoints" / f"epoch-000{e}.zarr" for e in (1, 2)]
    out = tmp_path / "ens.zarr"
    assert run("ensemble", out, *members).returncode == 0
    want = ckpt.load(out).arrays["weights"].tobytes()
    points = write_points(tmp_path, ["ensemble", out, *members, "--force"])
    assert "ens.zarr: old copy moved aside" in points
    for sig, code, word in STOPS:
        for k in range(1, len(points) + 1):
            res = run("ensemble", out, *members, "--force",
                      env={"SNNPIPE_FAULT": f"{sig}@write:{k}"})
            _stopped_as_said(res, code, word, (sig, points[k - 1]))
            assert _left_beside(tmp_path, "ens.zarr") == [], (sig, points[k - 1])
            assert ckpt.load(out).arrays["weights"].tobytes() == want
