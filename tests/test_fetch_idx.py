"""IDX parsing and fetching: good files load, broken ones fail in one clear line, and a
failure leaves nothing behind in the cache or the store."""

import gzip
import shutil

import forkrun
import numpy as np
import pytest

from snnpipe.pipeline.datasets.fetch import CHECKSUMS, FILES
from snnpipe.pipeline.datasets.idx import parse_images, parse_labels, parse_split
from snnpipe.pipeline.errors import PipelineError


def idx_images(n, rows=28, cols=28, magic=0x803):
    header = np.array([magic, n, rows, cols], ">u4").tobytes()
    return header + np.arange(n * rows * cols, dtype=np.uint8).tobytes()


def idx_labels(n, magic=0x801):
    return np.array([magic, n], ">u4").tobytes() + (np.arange(n) % 10).astype(np.uint8).tobytes()


def test_parse_good_files():
    x, y = parse_split("img", idx_images(5), "lab", idx_labels(5))
    assert x.shape == (5, 784) and x.dtype == np.uint8
    assert y.tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("data,pattern", [
    (idx_images(3)[:-1], "file is 2367 bytes but its header .* needs 2368"),
    (idx_images(3)[:10], "truncated IDX header"),
    (idx_images(3, magic=0x801), "wrong magic number 0x00000801"),
])
def test_parse_broken_images(data, pattern):
    with pytest.raises(PipelineError, match=pattern):
        parse_images("train-images-idx3-ubyte", data)


def test_parse_broken_labels_and_count_mismatch():
    with pytest.raises(PipelineError, match="wrong magic"):
        parse_labels("l", idx_labels(3, magic=0x803))
    with pytest.raises(PipelineError, match="holds 3 images but .* holds 4 labels"):
        parse_split("i", idx_images(3), "l", idx_labels(4))


def run_cli(*args, cwd):
    return forkrun.snnpipe(*args, cwd=cwd, timeout=300)


def _copy_source(src_cache, dst, gz=False):
    dst.mkdir()
    for name in FILES:
        data = (src_cache / name).read_bytes()
        if gz:
            (dst / f"{name}.gz").write_bytes(gzip.compress(data, compresslevel=1))
        else:
            (dst / name).write_bytes(data)


@pytest.mark.parametrize("damage,message", [
    ("checksum", "SHA-256 .* does not match"),
    ("truncate", "file is .* bytes but its header"),
    ("magic", "wrong magic number"),
])
def test_fetch_rejects_broken_source_and_writes_nothing(tmp_path, mnist_raw, damage, message):
    _, cache = mnist_raw
    src = tmp_path / "src"
    _copy_source(cache, src)
    target = src / "t10k-labels-idx1-ubyte"
    data = bytearray(target.read_bytes())
    if damage == "checksum":
        data[100] = (data[100] + 1) % 10         # still a valid label file
    elif damage == "truncate":
        data = data[:-5]
    else:
        data[3] = 0x03
    target.write_bytes(bytes(data))
    work = tmp_path / "work"
    work.mkdir()
    res = run_cli("preprocess", "--source", str(src), "--data-dir", "d", cwd=work)
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    import re
    assert re.search(message, lines[0]) and "t10k-labels-idx1-ubyte" in lines[0]
    assert not (work / "d").exists() or not any((work / "d").rglob("*"))


def test_fetch_from_gz_source_fills_cache(tmp_path, mnist_raw):
    from snnpipe.pipeline.datasets.fetch import fetch
    _, cache = mnist_raw
    src = tmp_path / "src"
    _copy_source(cache, src, gz=True)
    raw = fetch("mnist", tmp_path / "d", source=src)
    assert raw.checksums == CHECKSUMS["mnist"]
    assert raw.train_images.shape == (60000, 784) and raw.test_labels.shape == (10000,)
    assert sorted(p.name for p in (tmp_path / "d" / "raw" / "mnist").iterdir()) == sorted(FILES)
    # the cache is now the first source
    assert fetch("mnist", tmp_path / "d").source.startswith("cache")
    shutil.rmtree(tmp_path / "d")


def test_unknown_dataset_is_one_line(tmp_path):
    res = run_cli("fetch", "--dataset", "cifar", cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr.strip().startswith("error: unknown dataset 'cifar'")
