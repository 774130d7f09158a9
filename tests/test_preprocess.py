"""Planes as a property, and the store: idempotent, --force, atomic, scheduler-independent."""

import hashlib

import numpy as np
import pytest
import zarr
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from strategies import levels as level_sets

from snnpipe.pipeline.datasets.preprocess import build_graph, preprocess
from snnpipe.pipeline.errors import PipelineError
from snnpipe.stores.dataset import open_dataset


@given(arrays(np.uint8, st.tuples(st.integers(1, 30), st.integers(1, 50))), level_sets())
def test_planes_match_definition_and_nest(images, levels):
    planes = build_graph(images, levels).compute(scheduler="sync")
    assert planes.shape == (images.shape[0], len(levels), images.shape[1])
    for c, level in enumerate(levels):
        assert np.array_equal(planes[:, c], images >= level)
    # nested: on at a brighter level implies on at every later (dimmer) level
    assert (planes[:, :-1] <= planes[:, 1:]).all()


def _digest(path):
    """Hash of every array's content and the identity attributes of a store."""
    g = zarr.open_group(str(path), mode="r")
    h = hashlib.sha256()
    for split in ("train", "test"):
        for name in ("planes", "pixels", "labels"):
            h.update(np.ascontiguousarray(g[split][name][...]).tobytes())
    attrs = dict(g.attrs)
    h.update(repr((attrs["levels"], attrs["dataset"], sorted(attrs["checksums"].items())))
             .encode())
    return h.hexdigest()


def test_mnist_store_holds_the_raw_images_and_their_planes(mnist_store, mnist_raw):
    raw, _ = mnist_raw
    ds = open_dataset(mnist_store)
    train = ds.load("train")
    assert train.planes.shape == (60000, 4, 784) and train.planes.dtype == bool
    assert np.array_equal(train.pixels, raw.train_images)
    assert np.array_equal(train.labels, raw.train_labels)
    assert np.array_equal(train.planes[:, 2], raw.train_images >= 64)
    assert ds.attrs["checksums"] == raw.checksums and ds.levels == (192, 128, 64, 1)


def test_store_idempotence_and_force(tmp_path):
    """The same write path for every data set; digits (1,797 images) keeps it fast."""
    data_dir = tmp_path / "d"
    first = preprocess("digits", data_dir)
    assert not first.up_to_date
    mtime = (first.path / "zarr.json").stat().st_mtime_ns
    again = preprocess("digits", data_dir)
    assert again.up_to_date and (first.path / "zarr.json").stat().st_mtime_ns == mtime
    forced = preprocess("digits", data_dir, force=True)
    assert not forced.up_to_date and _digest(forced.path) == _digest(first.path)
    other = preprocess("digits", data_dir, levels=(200, 100))
    assert not other.up_to_date and open_dataset(other.path).levels == (200, 100)


def test_failure_mid_write_leaves_no_store(tmp_path):
    data_dir = tmp_path / "d"

    def crash():
        raise RuntimeError("injected")
    with pytest.raises(RuntimeError, match="injected"):
        preprocess("digits", data_dir, fail_after_write=crash)
    assert not (data_dir / "digits.zarr").exists()
    assert not list(data_dir.glob(".digits.zarr*"))
    # an existing good store survives a failed rebuild untouched
    good = preprocess("digits", data_dir).path
    before = _digest(good)
    with pytest.raises(RuntimeError):
        preprocess("digits", data_dir, force=True, levels=(9, 3), fail_after_write=crash)
    assert _digest(good) == before


def test_bad_levels_are_rejected(tmp_path):
    with pytest.raises(PipelineError, match="strictly descending"):
        preprocess("mnist", tmp_path, levels=(64, 128))
    with pytest.raises(PipelineError, match="1..255"):
        preprocess("mnist", tmp_path, levels=(300, 1))


def test_local_cluster_writes_the_identical_store(tmp_path):
    threaded = preprocess("digits", tmp_path / "a")
    clustered = preprocess("digits", tmp_path / "b", workers=2)
    assert "local dask.distributed cluster" in clustered.scheduler
    assert _digest(threaded.path) == _digest(clustered.path)
