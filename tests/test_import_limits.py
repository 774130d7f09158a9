"""Big or damaged input files are refused before they are read: each reader that takes a
user's file checks its size with `stat` (and an npz member's declared shape) first, then
reads in bounded chunks. A truncated archive is one line saying so. The size limits are
tested in real processes (tests/forkrun.py) under a 6 GiB address-space cap (what a
`ulimit -v` gives), with sparse 10 GB files that cost no disk; everything else in-process."""

import io
import tarfile
import zipfile
from pathlib import Path

import forkrun
import numpy as np
import pytest
from inprocess import error_line
from test_import import make_cifar, make_folder, make_npz, nothing_imported

ROOT = Path(__file__).resolve().parents[1]
HUGE = 3073 * 3_254_150          # 10.0 GB, a whole number of CIFAR-10 records


def sparse(path: Path, size: int = HUGE) -> Path:
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def capped(*args) -> forkrun.Finished:
    """`snnpipe ARGS` in a real (forked) process that may map at most 6 GiB in all."""
    return forkrun.snnpipe(*args, timeout=300, address_space=6 << 30)


def one_line(res: forkrun.Finished) -> str:
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 1 and len(lines) == 1 and lines[0].startswith("error:"), (
        res.returncode, res.stderr[-2000:])
    return lines[0]


def test_a_10_gb_cifar_batch_or_archive_is_refused_by_its_size(tmp_path):
    src, data = make_cifar(tmp_path / "cifar-10-batches-bin"), tmp_path / "data"
    sparse(src / "data_batch_1.bin")
    msg = one_line(capped("import", "big", src, "--data-dir", data))
    assert "data_batch_1.bin" in msg and "10,000,002,950 bytes" in msg
    assert "30,730,000" in msg and "download it again" in msg
    tgz = sparse(tmp_path / "cifar-10-binary.tar.gz")
    msg = one_line(capped("import", "big", tgz, "--data-dir", data))
    assert "cifar-10-binary.tar.gz" in msg and "10,000,002,950 bytes" in msg
    assert nothing_imported(data, "big")


def test_a_10_gb_image_in_a_folder_is_refused_by_its_size(tmp_path):
    src, data = make_folder(tmp_path / "shapes", classes=2), tmp_path / "data"
    sparse(src / "class1" / "huge.png")
    msg = one_line(capped("import", "big", src, "--data-dir", data))
    assert "class1/huge.png" in msg and "10,000,002,950 bytes" in msg
    assert nothing_imported(data, "big")


def test_10_gb_idx_files_are_refused_by_their_size(tmp_path):
    idx = sparse(tmp_path / "t10k-images-idx3-ubyte")
    msg = one_line(capped("predict", ROOT / "docs" / "reproduce" / "best.zarr", "--idx", idx))
    assert "10,000,002,950 bytes" in msg and "--idx" in msg
    source = tmp_path / "source"
    source.mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        sparse(source / name)
    msg = one_line(capped("fetch", "--source", source, "--data-dir", tmp_path / "data"))
    assert "10,000,002,950 bytes" in msg


def _npz_with_member(path: Path, key: str, header_shape: tuple, payload: bytes) -> Path:
    """An npz whose member `key` declares `header_shape` (uint8) but holds `payload`."""
    good = np.load(make_npz(path.with_suffix(".src.npz")))
    with zipfile.ZipFile(path, "w") as z:
        for name in ("x_train", "y_train", "x_test", "y_test"):
            buf = io.BytesIO()
            if name == key:
                np.lib.format.write_array_header_1_0(buf, {"descr": "|u1", "fortran_order":
                                                           False, "shape": header_shape})
                buf.write(payload)
            else:
                np.save(buf, good[name])
            z.writestr(f"{name}.npy", buf.getvalue())
    return path


def test_an_npz_member_declaring_10_gb_is_refused_before_it_is_read(tmp_path):
    data = tmp_path / "data"
    lie = _npz_with_member(tmp_path / "lie.npz", "x_train", (333_334, 100, 100, 3),
                           b"\0" * 1000)
    msg = one_line(capped("import", "big", lie, "--data-dir", data))
    assert "x_train" in msg and "10,000,020,000 bytes" in msg
    assert nothing_imported(data, "big")


def test_an_npz_larger_than_memory_allows_is_refused_before_it_is_read(tmp_path, monkeypatch):
    from snnpipe.pipeline.datasets import readers
    data = tmp_path / "data"
    npz = make_npz(tmp_path / "a.npz")
    monkeypatch.setattr(readers, "memory_budget", lambda: 1500)
    msg = error_line("import", "arr", npz, "--data-dir", data)
    assert "x_train" in msg and "1,500 bytes" in msg and "memory" in msg
    assert nothing_imported(data, "arr")


@pytest.mark.parametrize("name, fmt", [("cifar-10-binary.tar.gz", "cifar10"),
                                       ("cifar-10-binary.tar.gz", "auto"),
                                       ("download.tar.gz", "auto"),
                                       ("cifar-10-binary.tar.gz.part", "cifar10")])
def test_a_truncated_cifar_archive_is_one_line_saying_so(tmp_path, name, fmt):
    src, data = make_cifar(tmp_path / "cifar-10-batches-bin"), tmp_path / "data"
    whole = tmp_path / "whole.tar.gz"
    with tarfile.open(whole, "w:gz") as tar:
        tar.add(src, arcname="cifar-10-batches-bin")
    blob = whole.read_bytes()
    for cut in (len(blob) // 2, 100):
        cut_path = tmp_path / f"cut{cut}" / name
        cut_path.parent.mkdir()
        cut_path.write_bytes(blob[:cut])
        msg = error_line("import", "cut", cut_path, "--format", fmt, "--data-dir", data)
        assert "truncated or damaged" in msg and "download it again" in msg, msg
        assert "--format" not in msg
    assert nothing_imported(data, "cut")
