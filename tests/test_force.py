"""`--force` replaces only what the command itself would have written: `preprocess` a data
set store, `import` an imported data set, `ensemble` an earlier ensemble. Anything else (a
run folder, the raw data folder, someone's files) is refused in one line that says what it
holds, and no refusal suggests a command that would delete it. In-process, on tiny data."""

import json
import shutil

from inprocess import error_line, ok
from test_import import make_npz

from snnpipe.stores import rawstore


def tree(folder) -> dict:
    """Every file under `folder` and its bytes: what must survive a refused --force."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def fake_run(folder):
    """A train run folder as `train` leaves it (the contents do not matter here)."""
    (folder / "checkpoints" / "last.zarr").mkdir(parents=True)
    (folder / "checkpoints" / "last.zarr" / "zarr.json").write_text("{}")
    (folder / "run.json").write_text(json.dumps({"kind": "train", "options": {}}))
    (folder / "metrics.jsonl").write_text('{"epoch": 1}\n')
    return folder


def imported(tmp_path, name="arr"):
    data = tmp_path / "data"
    ok("import", name, make_npz(tmp_path / "a.npz"), "--data-dir", data)
    return data


def test_preprocess_force_refuses_a_run_folder_and_the_raw_data_folder(tmp_path):
    data = imported(tmp_path)
    run = fake_run(tmp_path / "run")
    before = tree(run)
    msg = error_line("preprocess", "--dataset", "arr", "--data-dir", data, "--output", run,
                     "--force")
    assert "train run folder" in msg and "--force" in msg and "another --output" in msg
    assert tree(run) == before
    raw = data / "raw"
    before = tree(raw)
    for extra in ([], ["--force"]):
        msg = error_line("preprocess", "--dataset", "arr", "--data-dir", data, "--output", raw,
                         *extra)
        assert "arr.zarr/" in msg and "not a data set store" in msg, msg
        assert "pass --force" not in msg
    assert tree(raw) == before
    # an imported data set is not preprocess's to replace either
    msg = error_line("preprocess", "--dataset", "arr", "--data-dir", data, "--output",
                     raw / "arr.zarr", "--force")
    assert "imported data set 'arr'" in msg
    assert tree(raw) == before and not list(raw.glob(".arr.zarr.*"))


def test_preprocess_force_still_replaces_its_own_store(tmp_path):
    data = imported(tmp_path)
    out = tmp_path / "s.zarr"
    ok("preprocess", "--dataset", "arr", "--data-dir", data, "--output", out)
    assert "wrote" in ok("preprocess", "--dataset", "arr", "--data-dir", data, "--output", out,
                         "--force")
    # a store whose attributes were lost is still a store: --force rebuilds it
    meta = json.loads((out / "zarr.json").read_text())
    meta["attributes"] = {}
    (out / "zarr.json").write_text(json.dumps(meta))
    msg = error_line("preprocess", "--dataset", "arr", "--data-dir", data, "--output", out)
    assert "pass --force to replace it" in msg
    assert "wrote" in ok("preprocess", "--dataset", "arr", "--data-dir", data, "--output", out,
                         "--force")
    # an empty folder holds nothing to lose: the store is written into its place
    empty = tmp_path / "empty.zarr"
    empty.mkdir()
    assert "wrote" in ok("preprocess", "--dataset", "arr", "--data-dir", data, "--output",
                         empty)


def test_a_store_refusal_never_suggests_replacing_what_is_not_a_store(tmp_path):
    data = imported(tmp_path)
    ok("preprocess", "--dataset", "arr", "--data-dir", data)
    msg = error_line("train", "--dataset", "arr", "--data-dir", data, "--store", data / "raw",
                     "--run-dir", tmp_path / "r")
    assert "not a data set store" in msg and "arr.zarr/" in msg
    assert "--force" not in msg and f"--output {data / 'raw'}" not in msg
    run = fake_run(tmp_path / "run")
    msg = error_line("eval", run / "checkpoints" / "last.zarr", "--store", run)
    assert "--force" not in msg
    assert not (tmp_path / "r").exists()


def test_import_force_replaces_only_an_imported_data_set(tmp_path):
    data = imported(tmp_path)
    npz = tmp_path / "a.npz"
    ok("preprocess", "--dataset", "arr", "--data-dir", data)
    # a data set store (not an import) where the import would go
    target = rawstore.raw_path(data, "other")
    shutil.copytree(data / "arr.zarr", target)
    before = tree(target)
    msg = error_line("import", "other", npz, "--force", "--data-dir", data)
    assert "data set store of arr" in msg and "not an imported data set" in msg
    assert tree(target) == before
    # someone's folder
    mine = rawstore.raw_path(data, "mine")
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    msg = error_line("import", "mine", npz, "--force", "--data-dir", data)
    assert "notes.txt" in msg and "--force" in msg
    assert (mine / "notes.txt").read_text() == "keep me"
    # an earlier import is replaced, as documented
    assert "replaced arr" in ok("import", "arr", npz, "--force", "--data-dir", data)


def test_ensemble_force_replaces_only_an_earlier_ensemble(tmp_path):
    data = imported(tmp_path)
    ok("preprocess", "--dataset", "arr", "--data-dir", data)
    run = tmp_path / "run"
    ok("train", "--dataset", "arr", "--data-dir", data, "--set", "neurons=10", "--epochs", 2,
       "--wandb-mode", "disabled", "--run-dir", run, "--seed", 1)
    members = [run / "checkpoints" / f"epoch-000{e}.zarr" for e in (1, 2)]
    other = fake_run(tmp_path / "other")
    single = tmp_path / "single.zarr"
    shutil.copytree(members[0], single)
    for target, words in ((other, "train run folder"),
                          (single, "a checkpoint, not an ensemble"),
                          (data / "arr.zarr", "data set store of arr")):
        before = tree(target)
        msg = error_line("ensemble", target, *members, "--force")
        assert words in msg, msg
        assert tree(target) == before
    out = tmp_path / "ens.zarr"
    ok("ensemble", out, *members)
    assert "wrote" in ok("ensemble", out, *members, "--force")
