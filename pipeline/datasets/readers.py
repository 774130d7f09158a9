"""Format readers: files on disk -> image arrays and labels, validated, nothing written.

Each reader returns a `Parsed`: images as uint8 (n, h, w, c) with c = 1 or 3 (or (n, d) for
flat arrays), integer labels, class names, the SHA-256 of every file it read, and what it
knows about the source. Every problem is one PipelineError line naming the file and the fix.
Nothing here unpickles: CIFAR-10's python version is refused, npz is read with
`allow_pickle=False`.
"""

from __future__ import annotations

import hashlib
import io
import lzma
import math
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from snnpipe.pipeline.datasets.bounded import (
    CHUNK,
    TooLarge,
    checked_size,
    read_bounded,
    read_stream,
    too_large,
)
from snnpipe.pipeline.errors import PipelineError
from snnpipe.pipeline.resources import memory_budget

MAX_PIXELS = 40_000_000
MAX_IMAGE_BYTES = 256 << 20      # an image file: 40 megapixels of RGBA, uncompressed, fit

# --------------------------------------------------------------------------- CIFAR-10
CIFAR_TRAIN = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR_TEST = "test_batch.bin"
CIFAR_META = "batches.meta.txt"
CIFAR_RECORD = 1 + 3 * 32 * 32
CIFAR_DIR = "cifar-10-batches-bin"
# The MD5 the CIFAR-10 authors publish for cifar-10-binary.tar.gz (their download page).
# Per-file checksums of the .bin files are not published: a folder is recorded as
# `official: unknown`, with the SHA-256 of every file.
CIFAR_BINARY_TAR_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
PYTHON_VERSION_FILES = ("data_batch_1", "test_batch", "batches.meta")
# A batch holds 10,000 records; the class names are a few dozen bytes; the official archive
# is 170 MB (162 MiB). Anything far bigger is refused by its size before it is read.
CIFAR_MAX_BATCH = 10_000 * CIFAR_RECORD
CIFAR_MAX_META = 1 << 16
CIFAR_MAX_ARCHIVE = 512 << 20
CIFAR_TOO_BIG = ("bytes, the size of a whole CIFAR-10 batch (10,000 records of 3,073 bytes); "
                 "the file is damaged or not CIFAR-10's binary version — download it again")
ARCHIVE_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")     # gzip, bzip2, xz
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm", ".ppm", ".pbm", ".pnm",
                  ".tif", ".tiff", ".webp")


@dataclass
class Parsed:
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    class_names: list[str]
    sources: dict[str, str] = field(default_factory=dict)
    info: dict = field(default_factory=dict)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _python_version_hint(where: str) -> PipelineError:
    return PipelineError(
        f"{where} is CIFAR-10's python version (pickled batches), which snnpipe never "
        "unpickles; download the binary version (cifar-10-binary.tar.gz) and import its "
        f"{CIFAR_DIR} folder or the .tar.gz itself")


def is_archive(path: Path) -> bool:
    """A tar archive (gzip, bzip2, xz or plain), by its first bytes, whatever its name: a
    damaged download is still recognised as the archive it was meant to be."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return False
    return head.startswith(ARCHIVE_MAGIC) or head[257:262] == b"ustar"


def looks_like_cifar(path: Path) -> bool:
    """True for a CIFAR-10 folder or archive, either version (so `auto` can refuse the
    python one clearly)."""
    path = Path(path)
    if path.is_dir():
        names = {p.name for p in path.iterdir()}
        return bool(names & {*CIFAR_TRAIN, CIFAR_TEST, CIFAR_META, *PYTHON_VERSION_FILES})
    return (path.name.startswith("cifar-10")
            and path.name.endswith((".tar.gz", ".tgz", ".tar"))) or is_archive(path)


def _cifar_records(name: str, data: bytes) -> tuple[np.ndarray, np.ndarray]:
    if len(data) == 0 or len(data) % CIFAR_RECORD:
        raise PipelineError(
            f"{name}: {len(data):,} bytes is not a whole number of {CIFAR_RECORD}-byte "
            "records (1 label byte + 3,072 pixel bytes); the file is truncated or not "
            "CIFAR-10's binary version — download it again")
    rec = np.frombuffer(data, np.uint8).reshape(-1, CIFAR_RECORD)
    labels = rec[:, 0].copy()
    if labels.max() > 9:
        raise PipelineError(f"{name}: label {int(labels.max())} out of range 0..9 in record "
                            f"{int(np.argmax(labels > 9))}; not a CIFAR-10 binary file")
    # channel-major (R plane, G plane, B plane), rows of 32: -> (n, 32, 32, 3)
    images = rec[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels


def _cifar_files(path: Path) -> tuple[dict[str, bytes], str, dict]:
    """The CIFAR-10 files from a folder or a .tar(.gz), and where they came from."""
    wanted = (*CIFAR_TRAIN, CIFAR_TEST, CIFAR_META)
    if path.is_dir():
        names = {p.name for p in path.iterdir()}
        if (path / CIFAR_DIR).is_dir() and not names & set(wanted):
            return _cifar_files(path / CIFAR_DIR)
        if not names & set(wanted) and names & set(PYTHON_VERSION_FILES):
            raise _python_version_hint(str(path))
        missing = [n for n in wanted if n not in names]
        if missing:
            raise PipelineError(f"{path}: missing {', '.join(missing)}; a CIFAR-10 binary "
                                f"folder holds {', '.join(wanted)}")
        return ({n: read_bounded(path / n, _cifar_limit(n), CIFAR_TOO_BIG) for n in wanted},
                str(path), {"official": "unknown"})
    return _cifar_archive(path, wanted)


def _cifar_limit(name: str) -> int:
    return CIFAR_MAX_META if name == CIFAR_META else CIFAR_MAX_BATCH


def _damaged(path: Path, why: str) -> PipelineError:
    return PipelineError(f"{path}: the archive is truncated or damaged ({why}); download it "
                         "again (cifar-10-binary.tar.gz, 170,052,171 bytes)")


def _scan_archive(path: Path) -> tuple[str, str]:
    """MD5 and SHA-256 of the archive, read in chunks; a gzip archive is also inflated to
    its end (output discarded), so a truncated download is caught here, by its missing
    end-of-stream marker or CRC, rather than taken for an archive of too few files."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as f:
        head = f.read(2)
        f.seek(0)
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if head == b"\x1f\x8b" else None
        for chunk in iter(lambda: f.read(CHUNK), b""):
            md5.update(chunk)
            sha.update(chunk)
            if inflate is not None and not inflate.eof:
                try:
                    data = chunk
                    while data and not inflate.eof:      # bounded output per call
                        inflate.decompress(data, CHUNK)
                        data = inflate.unconsumed_tail
                except zlib.error as exc:
                    raise _damaged(path, f"gzip: {exc}") from None
    if inflate is not None and not inflate.eof:
        raise _damaged(path, "the gzip stream ends before its end-of-stream marker")
    return md5.hexdigest(), sha.hexdigest()


def _cifar_archive(path: Path, wanted: tuple[str, ...]) -> tuple[dict, str, dict]:
    """The CIFAR-10 files from a .tar(.gz), its size checked first and every member read
    in bounded chunks (members are never extracted to disk)."""
    size = checked_size(path, CIFAR_MAX_ARCHIVE, "bytes (the official cifar-10-binary.tar.gz "
                        "is 170,052,171); it is damaged or not CIFAR-10's binary version — "
                        "download it again")
    archive = is_archive(path)
    md5, digest = _scan_archive(path)
    files: dict[str, bytearray] = {}
    names: set[str] = set()
    try:
        with tarfile.open(path, "r|*") as tar:          # one pass, in archive order
            for m in tar:
                name = Path(m.name).name
                if not m.isfile():
                    continue
                names.add(name)
                if name not in wanted or name in files:
                    continue
                label = f"{path}/{m.name}"
                if m.size > _cifar_limit(name):
                    raise too_large(label, m.size, _cifar_limit(name), CIFAR_TOO_BIG)
                f = tar.extractfile(m)
                files[name] = (read_stream(f, m.size, _cifar_limit(name), CIFAR_TOO_BIG, label)
                               if f is not None else bytearray())
                if len(files[name]) != m.size:
                    raise _damaged(path, f"{m.name} stops after {len(files[name]):,} of its "
                                   f"{m.size:,} bytes")
    except PipelineError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError, lzma.LZMAError) as exc:
        if not archive:
            raise PipelineError(f"{path}: not a tar archive; give the CIFAR-10 binary folder "
                                f"({CIFAR_DIR}) or cifar-10-binary.tar.gz") from None
        raise _damaged(path, f"{type(exc).__name__}: {exc}".splitlines()[0]) from None
    if not set(wanted) & names and set(PYTHON_VERSION_FILES) & names:
        raise _python_version_hint(str(path))
    missing = [n for n in wanted if n not in files]
    if missing and archive and not _tar_ends_whole(path, size):
        raise _damaged(path, f"it stops before {', '.join(missing)}")
    if missing:
        raise PipelineError(f"{path}: archive lacks {', '.join(missing)}; it is not "
                            "CIFAR-10's binary version")
    return files, str(path), {"official": md5 == CIFAR_BINARY_TAR_MD5,
                              "archive_sha256": digest}


def _tar_ends_whole(path: Path, size: int) -> bool:
    """A plain tar ends with two zero blocks; a truncated one does not (compressed archives
    are checked by their own end-of-stream marker in `_scan_archive`)."""
    with open(path, "rb") as f:
        if f.read(2) in (b"\x1f\x8b", b"BZ", b"\xfd7"):
            return True
        if size < 1024 or size % 512:
            return False
        f.seek(size - 1024)
        return f.read(1024) == bytes(1024)


def read_cifar10(path: Path) -> Parsed:
    """CIFAR-10, binary version: five train batches, one test batch, the class names."""
    files, origin, info = _cifar_files(Path(path))
    parts = [_cifar_records(f"{origin}/{n}", files[n]) for n in CIFAR_TRAIN]
    test_x, test_y = _cifar_records(f"{origin}/{CIFAR_TEST}", files[CIFAR_TEST])
    try:
        names = [s.strip() for s in files[CIFAR_META].decode("ascii").splitlines() if s.strip()]
    except UnicodeDecodeError:
        raise PipelineError(f"{origin}/{CIFAR_META}: not a text file of class names") from None
    if len(names) < 10:
        raise PipelineError(f"{origin}/{CIFAR_META}: {len(names)} class names, expected 10")
    return Parsed(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                  test_x, test_y, names[:10],
                  {n: sha256(files[n]) for n in files},
                  {"source_format": "cifar10", **info, "split": "the official 50,000 / 10,000"})


# ----------------------------------------------------------------------------- npz
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _npz_pixels(path: Path, key: str, x: np.ndarray) -> np.ndarray:
    if x.ndim not in (2, 3, 4) or (x.ndim == 4 and x.shape[3] not in (1, 3)):
        raise PipelineError(f"{path}: {key} has shape {x.shape}; expected (n, h, w), "
                            "(n, h, w, c) with c = 1 or 3, or (n, d)")
    if x.dtype == np.bool_:
        return np.where(x, 255, 0).astype(np.uint8)
    if np.issubdtype(x.dtype, np.integer):
        if x.size and (x.min() < 0 or x.max() > 255):
            raise PipelineError(f"{path}: {key} holds integers {x.min()}..{x.max()}, outside "
                                "0..255; rescale to 0..255, or to floats in [0, 1]")
        return x.astype(np.uint8)
    if np.issubdtype(x.dtype, np.floating):
        if x.size and not np.isfinite(x).all():
            raise PipelineError(f"{path}: {key} holds NaN or infinite values")
        if x.size and (x.min() < 0 or x.max() > 1):
            raise PipelineError(f"{path}: {key} holds floats {x.min():g}..{x.max():g}, outside "
                                "[0, 1]; scale them to [0, 1], or store integers 0..255")
        return np.rint(x.astype(np.float64) * 255).astype(np.uint8)
    raise PipelineError(f"{path}: {key} has dtype {x.dtype}; expected integers 0..255 or "
                        "floats in [0, 1]")


def _npz_labels(path: Path, key: str, y: np.ndarray) -> np.ndarray:
    if y.ndim != 1:
        raise PipelineError(f"{path}: {key} has shape {y.shape}; expected (n,) class labels")
    if np.issubdtype(y.dtype, np.floating) or np.issubdtype(y.dtype, np.bool_) \
            or not np.issubdtype(y.dtype, np.integer):
        raise PipelineError(f"{path}: {key} has dtype {y.dtype}; labels must be integers "
                            "0..K-1 (map class names to integers first)")
    if y.size and (y.min() < 0 or y.max() > 255):
        raise PipelineError(f"{path}: {key} holds label {y.min() if y.min() < 0 else y.max()},"
                            " out of range 0..255; labels are class numbers 0..K-1")
    return y.astype(np.uint8)


NPY_MAGIC = b"\x93NUMPY"
PICKLED = ("it holds pickled objects, which snnpipe never loads; save plain numeric arrays")


def _declared_bytes(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str) -> int:
    """What an npz member will take once read, from its .npy header alone (the data is not
    read): refused when the header and the member disagree, or when it holds objects."""
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(f)
        header = f.tell()
    if dtype.hasobject:
        raise PipelineError(f"{path}: {PICKLED}")
    declared = math.prod(shape) * dtype.itemsize
    if declared != info.file_size - header:
        raise PipelineError(f"{path}: {key} declares {declared:,} bytes ({shape} {dtype}) but "
                            f"holds {max(info.file_size - header, 0):,}; the file is damaged "
                            "or was not written by numpy — save it again")
    return declared


def _npz_plan(path: Path) -> list[str]:
    """The arrays to read, checked from the zip directory and the .npy headers before a
    byte of data is read: present, not pickled, consistent, and small enough to hold."""
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            single = f.read(len(NPY_MAGIC)) == NPY_MAGIC
        raise PipelineError(f"{path}: " + (f"a single .npy array, not an .npz archive of "
                                           f"{', '.join(NPZ_KEYS)}" if single else
                                           "not a readable .npz (not a zip archive)"))
    with zipfile.ZipFile(path) as zf:
        infos = {(i.filename[:-4] if i.filename.endswith(".npy") else i.filename): i
                 for i in zf.infolist()}
        missing = [k for k in NPZ_KEYS if k not in infos]
        if missing:
            raise PipelineError(f"{path}: missing array(s) {', '.join(missing)}; an npz "
                                f"data set holds {', '.join(NPZ_KEYS)}")
        keys = [*NPZ_KEYS, *(["class_names"] if "class_names" in infos else [])]
        sizes = {k: _declared_bytes(path, zf, infos[k], k) for k in keys}
    budget, total = memory_budget(), sum(sizes.values())
    if total > budget:
        raise PipelineError(f"{path}: {', '.join(keys)} take {total:,} bytes once read, more "
                            f"than the {budget:,} bytes this import may use (half the memory "
                            "available now); import a smaller file, or free memory")
    return keys


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def read_npz(path: Path) -> Parsed:
    """x_train, y_train, x_test, y_test (and optionally class_names) from an .npz file,
    each array's size checked from its header before it is read."""
    path = Path(path)
    try:
        keys = _npz_plan(path)
        with np.load(path, allow_pickle=False) as z:     # members read lazily, in chunks
            arrays = {k: z[k] for k in keys}
    except PipelineError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        why = PICKLED if "pickle" in str(exc) else f"not a readable .npz ({exc})"
        raise PipelineError(f"{path}: {why}".splitlines()[0]) from None
    names = arrays.get("class_names")
    xs = {k: _npz_pixels(path, k, arrays[k]) for k in ("x_train", "x_test")}
    ys = {k: _npz_labels(path, k, arrays[k]) for k in ("y_train", "y_test")}
    for split in ("train", "test"):
        if len(xs[f"x_{split}"]) != len(ys[f"y_{split}"]):
            raise PipelineError(f"{path}: x_{split} holds {len(xs[f'x_{split}'])} samples but "
                                f"y_{split} {len(ys[f'y_{split}'])} labels; they must match")
    if xs["x_train"].shape[1:] != xs["x_test"].shape[1:]:
        raise PipelineError(f"{path}: x_train samples are {xs['x_train'].shape[1:]} but "
                            f"x_test samples {xs['x_test'].shape[1:]}; they must match")
    if len(ys["y_train"]) == 0 or len(ys["y_test"]) == 0:
        raise PipelineError(f"{path}: x_train and x_test must each hold at least one sample")
    k = int(ys["y_train"].max()) + 1
    if ys["y_test"].max() >= k:
        raise PipelineError(f"{path}: y_test holds label {int(ys['y_test'].max())}, out of "
                            f"range of the train labels 0..{k - 1}")
    if names is not None:
        if names.dtype.kind not in "US" or names.ndim != 1 or len(names) < k:
            raise PipelineError(f"{path}: class_names must be {k} or more strings")
        class_names = [str(s) for s in names.tolist()]
    else:
        class_names = [str(i) for i in range(k)]
    x_train, x_test = xs["x_train"], xs["x_test"]
    if x_train.ndim == 3:
        x_train, x_test = x_train[..., None], x_test[..., None]
    return Parsed(x_train, ys["y_train"], x_test, ys["y_test"], class_names,
                  {path.name: _file_sha256(path)}, {"source_format": "npz", "split": "as given"})


# -------------------------------------------------------------------------- folder
def _classes(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def _load_image(path: Path, size: tuple[int, int] | None) -> tuple[np.ndarray, bytes]:
    """(h, w, 3) uint8 RGB (resized to `size` = (h, w) if given) and the file's bytes (its
    size checked first: no image file is larger than MAX_IMAGE_BYTES)."""
    blob = read_bounded(path, MAX_IMAGE_BYTES, "bytes (no image of at most 40 megapixels "
                        "is larger)")
    with Image.open(io.BytesIO(blob)) as img:
        w, h = img.size
        if w * h > MAX_PIXELS or w == 0 or h == 0:
            raise ValueError(f"{w} x {h} pixels")
        img.load()
        rgb = img.convert("RGB")
    if size is not None and rgb.size != (size[1], size[0]):
        rgb = rgb.resize((size[1], size[0]), Image.Resampling.LANCZOS)
    return np.asarray(rgb, dtype=np.uint8), blob


def _read_class_folders(root: Path, classes: list[str], size, where: str):
    images, labels, sources, bad, shapes = [], [], {}, [], {}
    for k, name in enumerate(classes):
        folder = root / name
        files = _files(folder) if folder.is_dir() else []
        if folder.is_dir() and not files:
            raise PipelineError(f"{folder}: empty class folder; add images of class "
                                f"{name!r} or remove the folder")
        for f in files:
            rel = str(f.relative_to(where))
            if f.is_dir():
                bad.append(f"{rel} (a folder)")
                continue
            try:
                img, blob = _load_image(f, size)
            except TooLarge as exc:
                bad.append(f"{rel} ({exc.size:,} bytes, more than {exc.limit:,})")
                continue
            except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError,
                    SyntaxError) as exc:
                bad.append(f"{rel} ({type(exc).__name__})")
                continue
            shapes.setdefault(img.shape[:2], rel)
            images.append(img)
            labels.append(k)
            sources[rel] = sha256(blob)
    if bad:
        more = f" and {len(bad) - 8} more" if len(bad) > 8 else ""
        raise PipelineError(f"{where}: cannot read {len(bad)} file(s) as images: "
                            f"{', '.join(bad[:8])}{more}; remove them or convert them to PNG")
    return images, labels, sources, shapes


def read_folder(path: Path, size: tuple[int, int] | None, test_fraction: float | None,
                seed: int) -> Parsed:
    """PATH/<class>/<image>, or PATH/train/<class>/... and PATH/test/<class>/...; without
    train/ and test/, a seeded fraction of each class is held out for test."""
    path = Path(path)
    split_given = (path / "train").is_dir() and (path / "test").is_dir()
    if split_given and test_fraction is not None:
        raise PipelineError(f"{path} has train/ and test/ subfolders, which fix the split; "
                            "drop --test-fraction")
    root = path / "train" if split_given else path
    classes = [p.name for p in _classes(root)]
    if not classes:
        raise PipelineError(f"{root}: no class folders; lay images out as "
                            f"{root}/<class>/<image>.png")
    stray = [p.name for p in _files(root) if p.is_file()]
    if stray:
        raise PipelineError(f"{root}: files outside class folders ({', '.join(stray[:5])}); "
                            "move each image into a folder named after its class")
    if len(classes) > 256:
        raise PipelineError(f"{root}: {len(classes)} class folders; at most 256 are supported")
    x, y, sources, shapes = _read_class_folders(root, classes, size, str(path))
    if split_given:
        extra = sorted({p.name for p in _classes(path / "test")} - set(classes))
        if extra:
            raise PipelineError(f"{path}/test has class folder(s) {', '.join(extra)} that "
                                f"{path}/train lacks; the classes must be the same")
        tx, ty, tsources, tshapes = _read_class_folders(path / "test", classes, size, str(path))
        sources.update(tsources)
        for shape, rel in tshapes.items():
            shapes.setdefault(shape, rel)
    if len(shapes) > 1:
        listed = ", ".join(f"{h}x{w} ({rel})" for (h, w), rel in list(shapes.items())[:4])
        raise PipelineError(f"{path}: images differ in size: {listed}; pass --size HxW to "
                            "resize them all to one size")
    x_all, y_all = np.stack(x), np.asarray(y, np.uint8)
    if split_given:
        if not tx:
            raise PipelineError(f"{path}/test holds no images")
        train_x, train_y, test_x, test_y = x_all, y_all, np.stack(tx), np.asarray(ty, np.uint8)
        how = "the train/ and test/ subfolders"
    else:
        fraction = 0.2 if test_fraction is None else test_fraction
        test = held_out(y_all, fraction, seed)
        if not test.any() or test.all():
            raise PipelineError(f"--test-fraction {fraction} leaves no "
                                f"{'test' if not test.any() else 'train'} images out of "
                                f"{len(y_all)}; choose a fraction that leaves both")
        train_x, train_y, test_x, test_y = x_all[~test], y_all[~test], x_all[test], y_all[test]
        how = f"seeded held-out fraction {fraction} per class (seed {seed})"
    return Parsed(train_x, train_y, test_x, test_y, classes, sources,
                  {"source_format": "folder", "split": how})


def held_out(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A boolean test mask: in each class (in file order), a seeded permutation picks
    round(fraction * n) images for test."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), bool)
    for k in np.unique(labels):
        idx = np.flatnonzero(labels == k)
        take = int(round(fraction * len(idx)))
        test[rng.permutation(idx)[:take]] = True
    return test


# -------------------------------------------------------------------------- digits
DIGITS_TRAIN = 1437           # the first 1,437 images train, the last 360 test


def read_digits() -> Parsed:
    """scikit-learn's bundled 8 x 8 digits (1,797 images, 0..16), scaled to 0..255 as
    (v * 255 + 8) // 16 (round half up: 8 -> 128, 16 -> 255); no download."""
    from sklearn.datasets import load_digits
    d = load_digits()
    v = d.data.astype(np.int64)
    pixels = ((v * 255 + 8) // 16).astype(np.uint8).reshape(-1, 8, 8, 1)
    labels = d.target.astype(np.uint8)
    return Parsed(pixels[:DIGITS_TRAIN], labels[:DIGITS_TRAIN], pixels[DIGITS_TRAIN:],
                  labels[DIGITS_TRAIN:], [str(i) for i in range(10)],
                  {"sklearn.datasets.load_digits": sha256(d.data.tobytes()
                                                          + d.target.tobytes())},
                  {"source_format": "digits", "split": f"first {DIGITS_TRAIN:,} train / last "
                   f"{len(labels) - DIGITS_TRAIN} test (file order)"})
