"""Bring your own data: `snnpipe import` of CIFAR-10 binary records, PNG folders and npz
arrays (all tiny, generated here), the built-in digits, and checkpoints that find or build
the store they need on an empty data folder. In-process through typer's runner."""

import fcntl
import hashlib
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import zarr
from inprocess import error_line, ok
from PIL import Image
from typer.testing import CliRunner

from snnpipe.pipeline.cli import app
from snnpipe.stores import rawstore

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
TINY = ["--set", "neurons=20", "--epochs", "1", "--wandb-mode", "disabled"]


def nothing_imported(data: object, name: str) -> bool:
    raw = rawstore.raw_path(data, name)
    hidden = list(raw.parent.glob(f".{name}.zarr.*")) if raw.parent.exists() else []
    return not raw.exists() and not hidden


# ------------------------------------------------------------------- generators
def cifar_records(n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    labels = np.arange(n, dtype=np.uint8) % 10
    pixels = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    return np.concatenate([labels[:, None], pixels], axis=1).tobytes()


def make_cifar(folder, per_batch=4, test=6):
    folder.mkdir(parents=True)
    for i in range(1, 6):
        (folder / f"data_batch_{i}.bin").write_bytes(cifar_records(per_batch, i))
    (folder / "test_batch.bin").write_bytes(cifar_records(test, 9))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
             "ship", "truck"]
    (folder / "batches.meta.txt").write_text("\n".join(names) + "\n\n")
    return folder


def glyph(k: int, size=(6, 6), shift=0, rgb=False) -> Image.Image:
    """Class k: a bright bar at row/column k (plus a shift), easy to tell apart."""
    a = np.zeros(size, np.uint8)
    a[(k + shift) % size[0], :] = 250
    a[:, (2 * k) % size[1]] = 200
    if rgb:
        return Image.fromarray(np.stack([a, a // 2, 255 - a], axis=-1))
    return Image.fromarray(a)


def make_folder(root, classes=3, per_class=6, size=(6, 6), rgb=False):
    for k in range(classes):
        d = root / f"class{k}"
        d.mkdir(parents=True)
        for i in range(per_class):
            glyph(k, size, i % 2, rgb).save(d / f"{i}.png")
    return root


def make_npz(path, n_train=40, n_test=12, **override):
    rng = np.random.default_rng(0)
    y_train = np.arange(n_train) % 4
    y_test = np.arange(n_test) % 4
    x_train = np.zeros((n_train, 5, 5), np.uint8)
    x_test = np.zeros((n_test, 5, 5), np.uint8)
    for x, y in ((x_train, y_train), (x_test, y_test)):
        x[np.arange(len(y)), y, :] = 255
        x += rng.integers(0, 30, x.shape, dtype=np.uint8)
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    arrays.update(override)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def pipeline_through(data, name, tmp_path, levels=None):
    """preprocess -> train -> eval through the CLI; returns the eval JSON result."""
    extra = ["--levels", levels] if levels else []
    ok("preprocess", "--dataset", name, "--data-dir", data, *extra,
       *(["--output", data / f"{name}-levels.zarr"] if levels else []))
    run = tmp_path / f"run-{name}"
    ok("train", "--dataset", name, "--data-dir", data, "--run-dir", run, *TINY,
       *(["--set", f"levels=[{levels}]", "--store", data / f"{name}-levels.zarr"]
         if levels else []))
    out = ok("eval", run / "checkpoints" / "last.zarr", "--data-dir", data, "--json")
    return json.loads(out)["results"][0], run


# ------------------------------------------------------------------------ CIFAR-10
def test_cifar10_binary_imports_and_runs_end_to_end(tmp_path):
    src, data = make_cifar(tmp_path / "cifar-10-batches-bin"), tmp_path / "data"
    out = ok("import", "cif", src, "--data-dir", data)
    assert "imported cif (cifar10): 20 train + 6 test images of 32 x 32 (1024 receptors)" \
        in out and "official: unknown" in out
    attrs = rawstore.read_attrs(rawstore.raw_path(data, "cif"))
    assert attrs["official"] == "unknown" and attrs["class_names"][9] == "truck"
    assert attrs["sources"]["test_batch.bin"] == hashlib.sha256(
        (src / "test_batch.bin").read_bytes()).hexdigest()
    # gray = ITU-R 601 luma, rounded: check one pixel against the record bytes
    rec = np.frombuffer((src / "data_batch_1.bin").read_bytes(), np.uint8)[:3073]
    r, g, b = (int(rec[1 + c * 1024]) for c in range(3))
    px = zarr.open_group(str(rawstore.raw_path(data, "cif")), mode="r")["train/pixels"][0, 0]
    assert px == round(0.299 * r + 0.587 * g + 0.114 * b)
    average = (r + g + b + 1) // 3
    result, run = pipeline_through(data, "cif", tmp_path)
    assert result["samples"] == 6 and result["dataset"] == "cif"
    assert json.loads((run / "config.toml").read_text().split("receptors = ")[1].split()[0]
                      ) == 1024
    # colour: 3,072 receptors, channel-major; average: the rounded channel mean
    ok("import", "cifc", src, "--color", "color", "--data-dir", data)
    colour = zarr.open_group(str(rawstore.raw_path(data, "cifc")), mode="r")
    assert colour["train/pixels"].shape == (20, 3072)
    assert colour["train/pixels"][0].tolist() == rec[1:].tolist()
    ok("import", "cifa", src, "--color", "average", "--data-dir", data)
    avg = zarr.open_group(str(rawstore.raw_path(data, "cifa")), mode="r")
    assert avg["train/pixels"][0, 0] == average


def test_cifar10_archive_checksum_and_refusals(tmp_path):
    src, data = make_cifar(tmp_path / "cifar-10-batches-bin"), tmp_path / "data"
    tgz = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(src, arcname="cifar-10-batches-bin")
    out = ok("import", "tgz", tgz, "--data-dir", data)
    assert "NOT the official release" in out          # generated, so the MD5 differs
    assert rawstore.read_attrs(rawstore.raw_path(data, "tgz"))["official"] is False
    # the python version (pickles) is refused, never opened
    py = tmp_path / "cifar-10-batches-py"
    py.mkdir()
    for name in ("data_batch_1", "test_batch", "batches.meta"):
        (py / name).write_bytes(b"\x80\x04pickle")
    msg = error_line("import", "py", py, "--data-dir", data)
    assert "python version" in msg and "binary version" in msg
    # a truncated record
    (src / "data_batch_3.bin").write_bytes((src / "data_batch_3.bin").read_bytes()[:-5])
    msg = error_line("import", "cut", src, "--data-dir", data)
    assert "data_batch_3.bin" in msg and "3073-byte records" in msg
    assert nothing_imported(data, "cut") and nothing_imported(data, "py")
    msg = error_line("import", "x", src, "--size", "8x8", "--data-dir", data)
    assert "--size applies to --format folder" in msg


# --------------------------------------------------------------------------- folder
def test_png_folder_imports_trains_evaluates_and_predicts(tmp_path):
    src, data = make_folder(tmp_path / "shapes", rgb=True), tmp_path / "data"
    out = ok("import", "shapes", src, "--data-dir", data, "--test-fraction", "0.34",
             "--seed", "1")
    assert "12 train + 6 test images of 6 x 6 (36 receptors), 3 classes" in out
    attrs = rawstore.read_attrs(rawstore.raw_path(data, "shapes"))
    assert attrs["class_names"] == ["class0", "class1", "class2"]
    assert len(attrs["sources"]) == 18 and attrs["prepare"] == "resize"
    result, run = pipeline_through(data, "shapes", tmp_path)
    assert result["samples"] == 6 and len(result["confusion"]) == 3
    res = runner.invoke(app, ["predict", str(run / "checkpoints" / "last.zarr"),
                              str(src / "class1" / "0.png"), "--json"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)["predictions"][0]["counts"]) == 3
    # the same seed gives the same split; another seed another one
    ok("import", "again", src, "--data-dir", data, "--test-fraction", "0.34", "--seed", "1")
    ok("import", "other", src, "--data-dir", data, "--test-fraction", "0.34", "--seed", "2")
    digest = {n: rawstore.read_attrs(rawstore.raw_path(data, n))["digest"]
              for n in ("shapes", "again", "other")}
    assert digest["shapes"] == digest["again"] != digest["other"]


def test_folder_with_train_and_test_and_resizing(tmp_path):
    src, data = tmp_path / "tt", tmp_path / "data"
    make_folder(src / "train", classes=2, per_class=4)
    make_folder(src / "test", classes=2, per_class=2, size=(12, 12))
    msg = error_line("import", "tt", src, "--data-dir", data)
    assert "differ in size" in msg and "--size HxW" in msg and nothing_imported(data, "tt")
    out = ok("import", "tt", src, "--size", "6x6", "--data-dir", data)
    assert "8 train + 4 test images of 6 x 6" in out
    msg = error_line("import", "tt2", src, "--test-fraction", "0.5", "--data-dir", data)
    assert "drop --test-fraction" in msg


def test_folder_bad_inputs_are_one_line_each(tmp_path):
    data = tmp_path / "data"
    empty = make_folder(tmp_path / "empty", classes=2)
    (empty / "class2").mkdir()
    assert "empty class folder" in error_line("import", "e", empty, "--data-dir", data)
    junk = make_folder(tmp_path / "junk", classes=2)
    (junk / "class0" / "notes.txt").write_text("not an image")
    (junk / "class1" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    msg = error_line("import", "j", junk, "--data-dir", data)
    assert "class0/notes.txt" in msg and "class1/broken.png" in msg
    stray = make_folder(tmp_path / "stray", classes=2)
    (stray / "README").write_text("x")
    assert "outside class folders" in error_line("import", "s", stray, "--data-dir", data)
    one = make_folder(tmp_path / "one", classes=1)
    assert "at least 2 classes" in error_line("import", "o", one, "--data-dir", data)
    gray = make_folder(tmp_path / "gray", classes=2)
    assert "grayscale" in error_line("import", "g", gray, "--color", "color", "--data-dir",
                                     data)
    for bad in ("0", "1.5", "-0.1"):
        assert "--test-fraction" in error_line("import", "f", gray, "--test-fraction", bad,
                                               "--data-dir", data)
    assert "--size" in error_line("import", "z", gray, "--size", "6by6", "--data-dir", data)
    assert "--color" in error_line("import", "c", gray, "--color", "sepia", "--data-dir", data)
    assert "no such file" in error_line("import", "m", tmp_path / "missing", "--data-dir",
                                        data)
    for name in ("e", "j", "s", "o", "g", "f", "z", "c", "m"):
        assert nothing_imported(data, name)


# ------------------------------------------------------------------------------ npz
def test_npz_imports_and_runs_end_to_end(tmp_path):
    data = tmp_path / "data"
    out = ok("import", "arr", make_npz(tmp_path / "a.npz"), "--data-dir", data)
    assert "40 train + 12 test images of 5 x 5 (25 receptors), 4 classes" in out
    result, _ = pipeline_through(data, "arr", tmp_path, levels="200,100,1")
    assert result["samples"] == 12
    # floats in [0, 1] and flat (n, d) arrays
    flat = make_npz(tmp_path / "f.npz", x_train=np.linspace(0, 1, 40 * 7).reshape(40, 7),
                    x_test=np.full((12, 7), 0.5))
    assert "(7 receptors)" in ok("import", "flat", flat, "--data-dir", data)
    g = zarr.open_group(str(rawstore.raw_path(data, "flat")), mode="r")
    assert g["test/pixels"][0, 0] == 128 and g["train/pixels"][-1, -1] == 255


@pytest.mark.parametrize("override, words", [
    ({"y_train": np.arange(40) % 4 + 0.5}, "labels must be integers"),
    ({"y_train": np.arange(40) % 4 - 1}, "out of range"),
    ({"y_test": np.full(12, 9)}, "out of range of the train labels"),
    ({"y_train": np.arange(39) % 4}, "39 labels"),
    ({"x_train": np.full((40, 5, 5), 300)}, "outside 0..255"),
    ({"x_train": np.full((40, 5, 5), 1.5)}, "outside [0, 1]"),
    ({"x_test": np.zeros((12, 4, 4), np.uint8)}, "must match"),
    ({"x_test": None}, "missing array(s) x_test"),
    ({"y_train": np.array([object()] * 40)}, "pickled objects"),
])
def test_npz_bad_inputs_are_one_line_each(tmp_path, override, words):
    data = tmp_path / "data"
    msg = error_line("import", "bad", make_npz(tmp_path / "b.npz", **override), "--data-dir",
                     data)
    assert words in msg, msg
    assert nothing_imported(data, "bad")


def test_names_force_and_clashes(tmp_path):
    data, npz = tmp_path / "data", make_npz(tmp_path / "a.npz")
    ok("import", "mine", npz, "--data-dir", data)
    msg = error_line("import", "mine", npz, "--data-dir", data)
    assert "already exists" in msg and "--force" in msg
    assert "replaced mine" in ok("import", "mine", npz, "--force", "--data-dir", data)
    for builtin in ("mnist", "fashion-mnist", "digits"):
        assert "built-in" in error_line("import", builtin, npz, "--data-dir", data)
    for bad in ("../evil", "a/b", "..", ".hidden", "Upper", "x-levels-1", ""):
        assert "data set name" in error_line("import", bad, npz, "--data-dir", data), bad
    assert not (tmp_path / "evil.zarr").exists() and not (data / "evil.zarr").exists()
    assert "unknown dataset 'nosuch'" in error_line("preprocess", "--dataset", "nosuch",
                                                     "--data-dir", data)
    assert "import" in error_line("train", "--dataset", "nosuch", "--data-dir", data,
                                  "--run-dir", tmp_path / "r")


# --------------------------------------------------------------------------- digits
@pytest.fixture(scope="module")
def digits_run(tmp_path_factory, request):
    """The built-in digits, trained through the CLI: fetch, preprocess, train. Built once
    for both xdist workers (their tests of this module may run on either): the first to
    get here builds it in the session's shared temporary folder under a lock, the other
    waits and finds it. The tests below only read it."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if hasattr(request.config, "workerinput") else base
    tmp = shared / "digits-run"
    data, run = tmp / "data", tmp / "run"
    with open(shared / "digits-run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (tmp / "built").exists():
            shutil.rmtree(tmp, ignore_errors=True)
            assert "1437 train + 360 test images (8 x 8)" in ok(
                "fetch", "--dataset", "digits", "--data-dir", data)
            ok("preprocess", "--dataset", "digits", "--data-dir", data)
            ok("train", "--dataset", "digits", "--data-dir", data, "--run-dir", run,
               "--epochs", 150, "--eval-every", 10, "--checkpoint-every", 1000,
               "--wandb-mode", "disabled", "--seed", 0)
            (tmp / "built").touch()
    return data, run


def test_digits_trains_above_85_percent(digits_run):
    data, run = digits_run
    result = json.loads(ok("eval", run / "checkpoints" / "best.zarr", "--data-dir", data,
                           "--json"))["results"][0]
    assert result["samples"] == 360 and result["accuracy"] > 0.85, result["accuracy"]
    cfg = (run / "config.toml").read_text()
    assert "receptors = 64" in cfg and "columns = 10" in cfg


def test_digits_scaling_and_split_are_as_documented(digits_run):
    from sklearn.datasets import load_digits
    data, _ = digits_run
    d = load_digits()
    g = zarr.open_group(str(data / "digits.zarr"), mode="r")
    expected = (d.data.astype(int) * 255 + 8) // 16
    assert g["train/pixels"][:].tolist() == expected[:1437].tolist()
    assert g["test/labels"][:].tolist() == d.target[1437:].tolist()


def test_checkpoint_finds_or_builds_its_store_on_an_empty_data_dir(digits_run, tmp_path):
    _, run = digits_run
    best = run / "checkpoints" / "best.zarr"
    res = runner.invoke(app, ["eval", str(best), "--data-dir", str(tmp_path / "empty")])
    assert res.exit_code == 0, res.output
    built = [ln for ln in res.stdout.splitlines() if ln.startswith("built ")]
    assert len(built) == 1 and "digits.zarr" in built[0] and "levels 192,128,64,1" in built[0]
    # a second time: found, nothing built
    again = ok("eval", best, "--data-dir", tmp_path / "empty")
    assert "built " not in again
    # mismatches are one line each
    assert "trained on digits" in error_line("eval", best, "--dataset", "mnist",
                                             "--data-dir", tmp_path / "empty")
    npz_data = tmp_path / "npzdata"
    ok("import", "arr", make_npz(tmp_path / "a.npz"), "--data-dir", npz_data)
    ok("preprocess", "--dataset", "arr", "--data-dir", npz_data)
    msg = error_line("eval", best, "--store", npz_data / "arr.zarr")
    assert "holds arr, not digits" in msg
    # a data set re-imported with another image size: the receptor count no longer matches
    run2 = tmp_path / "r2"
    ok("train", "--dataset", "arr", "--data-dir", npz_data, "--run-dir", run2, *TINY)
    big = make_npz(tmp_path / "big.npz", x_train=np.zeros((40, 6, 6), np.uint8),
                   x_test=np.zeros((12, 6, 6), np.uint8))
    ok("import", "arr", big, "--force", "--data-dir", npz_data)
    ok("preprocess", "--dataset", "arr", "--data-dir", npz_data)
    msg = error_line("eval", run2 / "checkpoints" / "last.zarr", "--data-dir", npz_data)
    assert "25 receptors" in msg and "36-pixel images" in msg


def test_resume_on_a_fresh_data_dir_builds_the_store(digits_run, tmp_path):
    data, _ = digits_run
    levels = "200,100,1"
    store = tmp_path / "d3.zarr"
    ok("preprocess", "--dataset", "digits", "--data-dir", data, "--levels", levels,
       "--output", store)
    run = tmp_path / "run"
    ok("train", "--dataset", "digits", "--store", store, "--set", f"levels=[{levels}]",
       "--run-dir", run, *TINY)
    fresh = tmp_path / "fresh"
    res = runner.invoke(app, ["train", "--resume", str(run), "--epochs", "2", "--data-dir",
                              str(fresh), "--wandb-mode", "disabled"])
    assert res.exit_code == 0, res.output
    assert "digits-levels-200-100-1.zarr" in res.output
    assert (fresh / "digits-levels-200-100-1.zarr" / "zarr.json").exists()
    # eval of its checkpoint finds that store (nothing built twice)
    out = ok("eval", run / "checkpoints" / "last.zarr", "--data-dir", fresh)
    assert "built " not in out


def test_reproduce_on_digits_and_resume_on_a_fresh_data_dir(digits_run, tmp_path):
    data, _ = digits_run
    run = tmp_path / "rep"
    out = ok("reproduce", "--dataset", "digits", "--data-dir", data, "--max-samples", 2000,
             "--eval-every-samples", 1000, "--checkpoint-every-samples", 1000, "--run-dir",
             run, "--set", "neurons=50", "--wandb-mode", "disabled", "--target", 101)
    assert "2,000 samples seen" in out
    fresh = tmp_path / "fresh"
    out = ok("reproduce", "--resume", run, "--max-samples", 3000, "--data-dir", fresh,
             "--wandb-mode", "disabled", "--target", 101)
    assert "built " in out and "digits.zarr" in out


def test_predict_prepares_images_the_way_digits_were_made(digits_run, tmp_path):
    from sklearn.datasets import load_digits
    _, run = digits_run
    d = load_digits()
    paths = []
    for i in range(1437, 1447):            # test images, scaled up as a user might draw them
        img = Image.fromarray(((d.images[i] * 255 + 8) // 16).astype(np.uint8))
        p = tmp_path / f"{i}.png"
        img.resize((64, 64), Image.Resampling.NEAREST).save(p)
        paths.append(p)
    res = runner.invoke(app, ["predict", str(run / "checkpoints" / "best.zarr"),
                              *map(str, paths), "--json", "--show"])
    assert res.exit_code == 0, res.output
    got = [p["label"] for p in json.loads(res.stdout)["predictions"]]
    assert sum(g == t for g, t in zip(got, d.target[1437:1447], strict=True)) >= 7
    assert (tmp_path / "1437.8x8.png").exists()


def test_fresh_clone_dataset_without_store_says_how(tmp_path):
    msg = error_line("train", "--dataset", "digits", "--data-dir", tmp_path / "d",
                     "--run-dir", tmp_path / "r")
    assert "snnpipe preprocess --dataset digits" in msg


def test_copy_of_raw_store_is_enough(digits_run, tmp_path):
    data, _ = digits_run
    shutil.copytree(rawstore.raw_path(data, "digits"), rawstore.raw_path(tmp_path, "digits"))
    assert "cache" in ok("fetch", "--dataset", "digits", "--data-dir", tmp_path)


# folder under docs/plus -> (its data set, the preset of its model)
WINNERS = {"mnist": ("mnist", "mnist-scale"), "mnist-792": ("mnist", "mnist-plus"),
           "fashion-mnist": ("fashion-mnist", "fashion-scale-7920"),
           "fashion-mnist-792-30m": ("fashion-mnist", "fashion-scale"),
           "fashion-mnist-792": ("fashion-mnist", "fashion-plus")}
# a spec that trains a winner's test seeds -> the preset it trains
WINNER_SPECS = {"scale-mnist": "mnist-scale", "scale-fashion": "fashion-scale",
                "scale-fashion-7920": "fashion-scale-7920"}


def _eval(checkpoints: list, data) -> tuple[list[dict], str]:
    res = runner.invoke(app, ["eval", *map(str, checkpoints), "--data-dir", str(data), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)["results"], res.stderr


def _winners_score_as_recorded(name: str, data) -> str:
    """docs/plus/NAME/ holds a winner's checkpoints (seed-N/best.zarr) and the test
    evaluation its figures come from (test.json): each scores exactly as recorded."""
    folder = ROOT / "docs" / "plus" / name
    recorded = json.loads((folder / "test.json").read_text())["results"]
    members = sorted(folder.glob("seed-*/best.zarr"))
    assert len(members) == len(recorded) >= 3, folder
    got, stderr = _eval(members, data)
    assert [r["accuracy"] for r in got] == [r["accuracy"] for r in recorded], folder
    assert [r["checkpoint"] for r in recorded] == [str(m.relative_to(ROOT)) for m in members]
    return stderr


def test_every_committed_winner_has_its_data_set_here():
    every = {p.name for p in (ROOT / "docs" / "plus").iterdir() if (p / "test.json").is_file()}
    assert every == set(WINNERS)                  # a new winner gets its data set here


def test_a_winners_preset_is_its_committed_model_and_the_spec_that_trains_it():
    """`--preset P` gives what was selected and tested: each committed checkpoint's model is
    the preset's (a vote stacks as many networks of the preset's size as its `snapshots`),
    and each winner spec trains exactly the preset."""
    from snnpipe.engine import Config
    from snnpipe.pipeline.training.configuration import PRESET_SNAPSHOTS
    from snnpipe.pipeline.training.sweep import expand, read_spec
    from snnpipe.stores.checkpoint import model_fields
    for name, (dataset, preset) in WINNERS.items():
        model = Config.preset(preset).to_dict()
        members = sorted((ROOT / "docs" / "plus" / name).glob("seed-*/best.zarr"))
        assert len(members) >= 3, name
        for member in members:
            attrs = json.loads((member / "zarr.json").read_text())["attributes"]
            sizes = attrs.get("ensemble", {}).get("neurons", [attrs["config"]["neurons"]])
            assert len(sizes) == max(1, PRESET_SNAPSHOTS.get(preset, 0)), member
            assert set(sizes) == {model["neurons"]} and attrs["dataset"] == dataset, member
            stored = model_fields(attrs["config"])
            if stored["anneal_steps"] == 0:       # no schedule: its start has no effect
                stored["anneal_start"] = 0        # (fashion-mnist-792/seed-0 has 50,000)
            assert stored == {**model, "neurons": sum(sizes)}, member
    for name, preset in WINNER_SPECS.items():
        run = {"snapshots": PRESET_SNAPSHOTS.get(preset, 0)}
        trials = expand(read_spec(ROOT / "docs" / "sweeps" / f"{name}.toml"))
        assert len(trials) == 3 and all(t["config"] == {**Config.preset(preset).to_dict(),
                                                        **run} for t in trials), name


def test_committed_mnist_checkpoints_score_from_an_empty_data_dir(mnist_raw, tmp_path):
    """The committed MNIST checkpoints need no other step: on a data folder that holds only
    the raw download (copied from the cache, as a fresh folder's fetch leaves it), the first
    `eval` of each level set builds its store, and the next ones use it."""
    from snnpipe.stores import checkpoint as ckpt
    data = tmp_path / "empty"
    shutil.copytree(mnist_raw[1], data / "raw" / "mnist")
    best = ROOT / "docs" / "reproduce" / "best.zarr"
    got, stderr = _eval([best], data)
    assert got[0]["accuracy"] == ckpt.load(best).metrics["test_accuracy"]
    assert stderr.startswith(f"built {data / 'mnist.zarr'}")
    assert "built" not in _winners_score_as_recorded("mnist", data)        # the same 4 planes
    stderr = _winners_score_as_recorded("mnist-792", data)                  # 8 planes
    assert stderr.startswith(f"built {data / 'mnist-levels-224-192-160-128-96-64-32-1.zarr'}")


def test_committed_fashion_checkpoints_score_from_an_empty_data_dir(tmp_path, monkeypatch):
    """The same for Fashion-MNIST, its raw data downloaded from the Debian package
    (`apt-get download`), as on a machine where it is not installed."""
    from snnpipe.pipeline.datasets import fetch as fetch_module
    data = tmp_path / "empty"
    monkeypatch.setattr(fetch_module, "DEBIAN_FASHION_DIR", tmp_path / "not-installed")
    got, stderr = _eval([ROOT / "docs" / "fashion" / "best" / "best.zarr"], data)
    assert stderr.startswith(
        f"built {data / 'fashion-mnist-levels-224-192-160-128-96-64-32-1.zarr'}")
    assert "Debian package dataset-fashion-mnist (apt-get download)" in stderr
    assert got[0]["accuracy"] > 0.83
    for name in ("fashion-mnist-792-30m", "fashion-mnist-792"):            # the same 8 planes
        assert "built" not in _winners_score_as_recorded(name, data)


def test_committed_fashion_winner_scores_from_an_empty_data_dir(tmp_path):
    """The Fashion-MNIST winner (4 planes, three 79,200-neuron votes) on an empty data
    folder: its first `eval` fetches the raw data and builds the 4-plane store. Apart from
    the 8-plane checkpoints above, so that the two run side by side."""
    data = tmp_path / "empty"
    stderr = _winners_score_as_recorded("fashion-mnist", data)
    assert f"built {data / 'fashion-mnist.zarr'}" in stderr


def test_store_records_its_source(tmp_path):
    data = tmp_path / "data"
    npz = make_npz(tmp_path / "a.npz", class_names=np.array(["n", "e", "s", "w"]))
    ok("import", "named", npz, "--data-dir", data)
    attrs = rawstore.read_attrs(rawstore.raw_path(data, "named"))
    assert attrs["source_format"] == "npz" and attrs["class_names"] == ["n", "e", "s", "w"]
    assert attrs["sources"]["a.npz"] == hashlib.sha256(npz.read_bytes()).hexdigest()


# ------------------------------------------------------------------ with integrity
def test_imported_data_carries_checksums_and_a_damaged_one_is_refused(tmp_path):
    from snnpipe.stores import dataset
    data = tmp_path / "d"
    npz = make_npz(tmp_path / "a.npz")
    ok("import", "arr", npz, "--data-dir", data)
    raw = rawstore.raw_path(data, "arr")
    assert rawstore.verify(raw, rawstore.read_attrs(raw), "")      # verified, not legacy
    (raw / "train" / "pixels" / "c" / "0" / "0").unlink()
    msg = error_line("preprocess", "--dataset", "arr", "--data-dir", data)
    assert "chunk c/0/0 of array train/pixels is missing" in msg
    assert f"snnpipe import arr {npz.resolve()} --force --data-dir {data}" in msg
    assert not (data / "arr.zarr").exists()
    ok("import", "arr", npz, "--force", "--data-dir", data)
    ok("preprocess", "--dataset", "arr", "--data-dir", data)
    store = data / "arr.zarr"
    assert dataset.verify(store, dataset.read_attrs(store))


def test_a_damaged_digits_cache_is_written_again(tmp_path):
    ok("fetch", "--dataset", "digits", "--data-dir", tmp_path)
    raw = rawstore.raw_path(tmp_path, "digits")
    assert "cache" in ok("fetch", "--dataset", "digits", "--data-dir", tmp_path)
    (raw / "test" / "labels" / "c" / "0").write_bytes(b"garbage")
    assert "scikit-learn" in ok("fetch", "--dataset", "digits", "--data-dir", tmp_path)
    assert rawstore.verify(raw, rawstore.read_attrs(raw), "")


@pytest.mark.parametrize("override, words", [("receptors=100", "receptors must be 25"),
                                             ("columns=5", "columns must be 4")])
def test_a_wrong_network_override_on_imported_data_is_refused(override, words, tmp_path):
    """The store sets receptors and columns (adapt_config); an explicit override that does
    not fit is refused in one line, before a run folder is written."""
    data = tmp_path / "d"
    ok("import", "arr", make_npz(tmp_path / "a.npz"), "--data-dir", data)
    ok("preprocess", "--dataset", "arr", "--data-dir", data)
    msg = error_line("train", "--dataset", "arr", "--data-dir", data, *TINY, "--set", override,
                     "--run-dir", tmp_path / "r")
    assert words in msg and "drop the override" in msg
    assert not (tmp_path / "r").exists()
    ok("train", "--dataset", "arr", "--data-dir", data, *TINY, "--run-dir", tmp_path / "r")
    cfg = json.loads((tmp_path / "r" / "run.json").read_text())
    assert cfg["kind"] == "train"


def test_reproduce_resume_refuses_another_dataset(tmp_path):
    msg = error_line("reproduce", "--resume", tmp_path / "rp", "--dataset", "digits")
    assert "drop --dataset" in msg
