"""Integrity: a damaged store or checkpoint never reads as zeros, run
kinds are explicit, and a resumed run keeps its own settings. In-process through typer's
runner; damage is done by hand at a known place, so every test is deterministic."""

import hashlib
import json
import shutil
import zlib
from pathlib import Path

import google_crc32c
import numpy as np
import pytest
import zarr
from test_crash import PLAIN_TRAIN as TRAIN
from test_crash import snapshot
from test_hostile import error_line
from typer.testing import CliRunner

from snnpipe.pipeline.cli import app
from snnpipe.pipeline.training.reproduce import ReproduceOptions, reproduce
from snnpipe.stores import checkpoint as ckpt
from snnpipe.stores import integrity
from snnpipe.stores.errors import StoreError

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture(scope="module")
def trained(mnist_store, tmp_path_factory):
    """A finished two-epoch train run (never modified: tests copy it)."""
    folder = tmp_path_factory.mktemp("trained") / "run"
    res = runner.invoke(app, [*TRAIN, "--run-dir", str(folder)])
    assert res.exit_code == 0, res.output
    return folder


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


# ------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("array", ["weights", "receptors"])
def test_a_missing_checkpoint_chunk_is_refused_everywhere(trained, tmp_path, array):
    bad = _copy(trained / "checkpoints" / "last.zarr", tmp_path / "k25.zarr")
    (bad / array / "c" / "0" / "0" / "0").unlink()
    msg = error_line("eval", bad, "--limit", 10)
    assert f"chunk c/0/0/0 of array {array} is missing" in msg and "k25.zarr" in msg
    assert "chunk c/0/0/0" in error_line("predict", bad, ROOT / "docs/predict/four.png")
    with pytest.raises(StoreError, match="missing"):
        ckpt.load_estimator(bad)


def test_a_garbage_checkpoint_chunk_fails_its_checksum(trained, tmp_path):
    bad = _copy(trained / "checkpoints" / "last.zarr", tmp_path / "garbage.zarr")
    (bad / "weights" / "c" / "0" / "0" / "0").write_bytes(b"\x00garbage" * 50)
    assert "fails its checksum" in error_line("eval", bad, "--limit", 10)


def test_legacy_checkpoints_load_unverified_but_complete(tmp_path):
    cp = ckpt.load(ROOT / "docs/reproduce/best.zarr")
    assert cp.verified is False and cp.attrs["format_version"] == 1
    bad = _copy(ROOT / "docs/reproduce/best.zarr", tmp_path / "old.zarr")
    (bad / "weights" / "c" / "0" / "0" / "0").unlink()
    with pytest.raises(StoreError, match="chunk c/0/0/0 of array weights is missing"):
        ckpt.load(bad)


def _small_group(folder: Path) -> Path:
    g = zarr.open_group(str(folder), mode="w", zarr_format=3)
    g.create_array("a", data=np.arange(60, dtype=np.int32).reshape(6, 10), chunks=(4, 5))
    g.create_array("b", data=np.arange(7, dtype=np.int64), chunks=(7,))
    return folder


@pytest.mark.parametrize("algorithm, digest", [
    ("crc32", lambda data: f"{zlib.crc32(data):08x}"),          # records before CRC-32C
    ("sha256", lambda data: hashlib.sha256(data).hexdigest()),  # the first builds'
    ("crc32c", lambda data: f"{google_crc32c.value(data):08x}"),
    ("written now", None),                    # crc32c (crc32 without google-crc32c's C build)
])
def test_every_record_algorithm_still_verifies_and_refuses_damage(tmp_path, algorithm,
                                                                  digest):
    root = _small_group(tmp_path / "g.zarr")
    if digest is None:
        record = integrity.digest_arrays(root, ["a", "b"])
        assert record["algorithm"] == integrity.ALGORITHM == (
            "crc32c" if google_crc32c.implementation == "c" else "crc32")
    else:                                     # written by hand, as the older builds did
        record = {"algorithm": algorithm, "arrays": {name: {
            p.relative_to(root / name).as_posix(): digest(p.read_bytes())
            for p in sorted((root / name).rglob("*")) if p.is_file() and p.name != "zarr.json"}
            for name in ("a", "b")}}
    assert sorted(record["arrays"]["a"]) == integrity.expected_chunks(
        json.loads((root / "a" / "zarr.json").read_text()))
    assert integrity.verify_arrays(root, record, ["a", "b"], "g", "fix") is True
    chunk = root / "a" / "c" / "1" / "1"
    good = chunk.read_bytes()
    chunk.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))          # one bit flipped
    with pytest.raises(StoreError, match=r"^g: chunk c/1/1 of array a fails its checksum"):
        integrity.verify_arrays(root, record, ["a", "b"], "g", "fix")
    chunk.unlink()
    with pytest.raises(StoreError, match="chunk c/1/1 of array a is missing"):
        integrity.verify_arrays(root, record, ["a", "b"], "g", "fix")
    chunk.write_bytes(good)
    (root / "b" / "c" / "1").write_bytes(good)
    with pytest.raises(StoreError, match="array b holds a chunk c/1 it was not written with"):
        integrity.verify_arrays(root, record, ["a", "b"], "g", "fix")


def test_resume_falls_back_past_a_damaged_last_zarr(trained, tmp_path):
    run = _copy(trained, tmp_path / "r16")
    (run / "checkpoints" / "last.zarr" / "weights" / "c" / "0" / "0" / "0").unlink()
    res = runner.invoke(app, ["train", "--resume", str(run), "--epochs", "3"])
    assert res.exit_code == 0, res.output
    assert "is missing" in res.stderr and "resuming from" in res.stderr
    assert "epoch-0002.zarr" in res.stderr
    straight = tmp_path / "straight"
    args = [a if a != "2" else "3" for a in TRAIN]
    assert runner.invoke(app, [*args, "--run-dir", str(straight)]).exit_code == 0
    assert snapshot(run) == snapshot(straight)


@pytest.mark.parametrize("attr, value, words", [
    ("epoch", "abc", "attribute epoch"), ("metrics", "x", "attribute metrics"),
    ("classes", ["a", "b", "c"], "3 class labels for 10 columns"),
    ("classes", [{"x": 1}] * 10, "attribute classes"), ("state", [], "attribute state"),
])
def test_edited_checkpoint_attributes_are_one_line(trained, tmp_path, attr, value, words):
    bad = _copy(trained / "checkpoints" / "last.zarr", tmp_path / "k.zarr")
    zarr.open_group(str(bad), mode="r+").attrs[attr] = value
    assert words in error_line("eval", bad, "--limit", 10)
    assert words in error_line("predict", bad, ROOT / "docs/predict/four.png")


def test_uint64_weights_holding_two_to_the_63_are_refused(trained, tmp_path):
    bad = _copy(trained / "checkpoints" / "last.zarr", tmp_path / "k16.zarr")
    g = zarr.open_group(str(bad), mode="r+")
    w = g["weights"][...].astype(np.uint64)
    w[0, 0, 0] = np.uint64(2**63)
    del g["weights"]
    g.create_array("weights", data=w)
    g.attrs["integrity"] = integrity.digest_arrays(bad, ckpt.ARRAYS)
    assert "out of range" in error_line("eval", bad, "--limit", 10)


def test_eval_compares_the_store_checksums_and_reports_per_path(trained, tmp_path):
    lie = _copy(trained / "checkpoints" / "last.zarr", tmp_path / "k09.zarr")
    g = zarr.open_group(str(lie), mode="r+")
    g.attrs["checksums"] = {**g.attrs["checksums"], "t10k-images-idx3-ubyte": "0" * 64}
    res = runner.invoke(app, ["eval", str(trained / "checkpoints" / "best.zarr"), str(lie),
                              str(tmp_path / "nothing"), "--limit", "50", "--json"])
    assert res.exit_code == 1
    errors = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(errors) == 2 and all(ln.startswith("error:") for ln in errors)
    assert "checksums differ" in errors[0] and "nothing" in errors[1]
    doc = json.loads(res.stdout)              # the good path still got its result
    assert [r["checkpoint"] for r in doc["results"]] == [
        str(trained / "checkpoints" / "best.zarr")] and len(doc["errors"]) == 2


# ------------------------------------------------------------------ data set stores
@pytest.fixture()
def store_copy(mnist_store, tmp_path):
    return _copy(Path(mnist_store), tmp_path / "st.zarr")


def test_a_damaged_store_is_refused_and_preprocess_rebuilds_it(store_copy, tmp_path):
    (store_copy / "test" / "planes" / "c" / "0" / "0" / "0").unlink()
    msg = error_line("train", *TRAIN[1:], "--epochs", 1, "--store", store_copy,
                     "--run-dir", tmp_path / "t16")
    assert "chunk c/0/0/0 of array test/planes is missing" in msg
    assert f"snnpipe preprocess --output {store_copy}" in msg
    assert not (tmp_path / "t16").exists()                 # refused: no folder left
    msg = error_line("eval", ROOT / "docs/reproduce/best.zarr", "--store", store_copy)
    assert "test/planes is missing" in msg
    res = runner.invoke(app, ["preprocess", "--output", str(store_copy)])
    assert res.exit_code == 0 and "is missing" in res.stderr and "wrote" in res.stdout
    again = runner.invoke(app, ["preprocess", "--output", str(store_copy)])
    assert "up to date" in again.stdout


def test_a_store_with_a_garbage_chunk_or_no_array_is_one_line(store_copy, tmp_path):
    (store_copy / "train" / "planes" / "c" / "1" / "0" / "0").write_bytes(b"junk" * 100)
    assert "fails its checksum" in error_line("train", *TRAIN[1:], "--store", store_copy,
                                              "--run-dir", tmp_path / "t17")
    shutil.rmtree(store_copy / "train" / "planes")
    assert "array train/planes is missing" in error_line(
        "train", *TRAIN[1:], "--store", store_copy, "--run-dir", tmp_path / "t13")
    assert not (tmp_path / "t13").exists()


# ------------------------------------------------------------------------ run kinds
def _fake_reproduce_run(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"kind": "reproduce", "options": {
        "dataset": "mnist", "seed": 0, "eval_every_samples": 200}}))
    return folder


def test_resume_accepts_only_its_own_kind_and_latest_picks_the_same_kind(
        trained, tmp_path, monkeypatch):
    rep = _fake_reproduce_run(tmp_path / "runs" / "zz-reproduce")
    msg = error_line("train", "--resume", rep, "--epochs", 3)
    assert "is a reproduce run" in msg and f"snnpipe reproduce --resume {rep}" in msg
    msg = error_line("reproduce", "--resume", trained)
    assert "is a train run" in msg and "snnpipe train --resume" in msg
    _copy(trained, tmp_path / "runs" / "aa-train")
    (tmp_path / "runs" / "aa-train" / "run.json").touch()
    rep.joinpath("run.json").touch()                       # the reproduce run is newer
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["train", "--resume", "latest", "--epochs", "3",
                              "--data-dir", str(ROOT / "data")])
    assert res.exit_code == 0, res.output
    assert "aa-train" in res.stdout and not (rep / "checkpoints").exists()


@pytest.mark.parametrize("option", [["--limit-train", "500"], ["--validation", "100"],
                                    ["--eval-every", "2"], ["--limit-test", "100"]])
def test_train_resume_refuses_options_the_run_fixed(trained, option):
    msg = error_line("train", "--resume", trained, "--epochs", 3, *option)
    assert option[0] in msg and "drop" in msg


# -------------------------------------------------------- reproduce keeps its settings
def _reproduce(tmp_path: Path, name: str, **kw):
    from snnpipe.engine import Config
    opts = ReproduceOptions(config=Config(neurons=20), eval_every_samples=200,
                            checkpoint_every_samples=200, wandb_mode="disabled",
                            **({"run_dir": tmp_path / name} if "resume" not in kw else {}),
                            **kw)
    return reproduce(opts)


def test_reproduce_resume_keeps_max_samples_and_target_and_stops_truthfully(tmp_path):
    first = _reproduce(tmp_path, "rp", max_samples=400, target=101.0)
    run = first.run_dir
    assert first.points[-1]["samples_seen"] == 400
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    # the saved --max-samples is kept; one below what was seen stops at once, unchanged
    for max_samples in (None, 200):
        res = _reproduce(tmp_path, "rp", resume=run, max_samples=max_samples)
        assert not res.changed and "already seen 400 samples" in res.stopped_by
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()} == before
    # a larger one overrides, from now on
    res = _reproduce(tmp_path, "rp", resume=run, max_samples=600)
    assert res.points[-1]["samples_seen"] == 600
    assert json.loads((run / "run.json").read_text())["options"]["max_samples"] == 600
    # the saved target is kept too
    low = _reproduce(tmp_path, "low", max_samples=400, target=1.0)
    assert low.stopped_by == "target 1.0 % reached"
    res = _reproduce(tmp_path, "low", resume=low.run_dir, max_samples=10_000)
    assert not res.changed and "already reached" in res.stopped_by


@pytest.mark.parametrize("args, words", [
    (["--hours", "-1"], "--hours -1.0"), (["--hours", "nan"], "--hours nan"),
    (["--target", "nan"], "--target nan"), (["--target", "-5"], "--target -5.0")])
def test_reproduce_refuses_nonsense_budgets_before_writing(args, words, tmp_path):
    assert words in error_line("reproduce", *args, "--run-dir", tmp_path / "rp")
    assert not (tmp_path / "rp").exists()


def test_reproduce_refuses_another_levels_preset_in_one_line_and_no_folder(tmp_path):
    msg = error_line("reproduce", "--preset", "fashion", "--max-samples", 1000,
                     "--run-dir", tmp_path / "rp20")
    assert "levels" in msg and "--force" not in msg
    assert not (tmp_path / "rp20").exists()


# ----------------------------------------------------------------------- estimator
def test_estimator_takes_numpy_integers_and_never_clips_silently(tmp_path):
    from sklearn.base import clone
    from sklearn.exceptions import DataConversionWarning, NotFittedError

    from snnpipe.engine.estimator import SONNClassifier
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (60, 16)).astype(np.uint8)
    y = np.arange(60) % 3
    est = clone(SONNClassifier(neurons=np.int64(5), slots=np.int32(4), max_samples=np.int64(120),
                               random_state=np.int64(1)))
    a = est.fit(X, y).spike_counts(X)
    with pytest.warns(DataConversionWarning, match=r"0\.\.255|got 0"):
        b = clone(est).fit(X.astype(float), y).spike_counts(X)   # 0..255 floats: said so
    assert a.shape == b.shape
    with pytest.raises(ValueError, match="levels must be a list of integers"):
        SONNClassifier(levels=np.array([192.5, 1.0]), max_samples=10).fit(X, y)
    with pytest.raises(NotFittedError):
        ckpt.save_estimator(tmp_path / "e.zarr", SONNClassifier())


def test_resume_refuses_a_run_json_of_the_wrong_types(trained, tmp_path):
    run = _copy(trained, tmp_path / "r06")
    info = json.loads((run / "run.json").read_text())
    info["options"].update(limit_train=[1, 2], seed="abc")
    (run / "run.json").write_text(json.dumps(info))
    assert "of the wrong type" in error_line("train", "--resume", run, "--epochs", 3)


def test_predict_never_on_a_large_image_and_transparent_ink(tmp_path):
    from PIL import Image
    big = tmp_path / "big.png"
    Image.new("L", (200, 200), 0).save(big)
    assert "200 x 200" in error_line("predict", ROOT / "docs/reproduce/best.zarr", big,
                                     "--prepare", "never")
    from snnpipe.pipeline.results.predict import load_gray
    rgba = np.zeros((28, 28, 4), np.uint8)              # black "1" on transparent
    rgba[4:24, 13:15] = (0, 0, 0, 255)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "one.png")
    gray = load_gray(tmp_path / "one.png")
    assert gray[0, 0] == 255 and gray[10, 13] == 0       # paper is white, ink stays black


def test_a_store_without_its_train_pixels_is_one_line(store_copy, tmp_path):
    """adapt_config reads the store's width before anything else: still one line."""
    shutil.rmtree(store_copy / "train" / "pixels")
    msg = error_line("train", *TRAIN[1:], "--store", store_copy, "--run-dir", tmp_path / "t")
    assert "train/pixels" in msg and f"snnpipe preprocess --output {store_copy}" in msg
    assert not (tmp_path / "t").exists()
