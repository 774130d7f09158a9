"""The predict stage: show a trained network your own digits.

An image is prepared the way MNIST was made (LeCun et al.): grayscale; inverted when the
background is light (MNIST is white ink on black); the background level subtracted; cropped
to the ink; scaled, keeping the aspect ratio, so that its longer side is 20 pixels
(anti-aliased); stretched to full contrast; and placed in a 28 x 28 frame so that its centre
of mass is at the centre. An image that is already 28 x 28 on a dark background is MNIST's
own format and is used as it is (`prepare="auto"`; "always" / "never" force it).
Each image gets its own result; a bad one is one error, and the others are still predicted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from snnpipe.pipeline.datasets.bounded import read_bounded
from snnpipe.pipeline.datasets.idx import MAX_IDX_BYTES, decompress, parse_images
from snnpipe.pipeline.errors import PipelineError
from snnpipe.stores import checkpoint as ckpt

MAX_PIXELS = 40_000_000          # 40 megapixels: a photo is fine, a decompression bomb is not
BOX, FRAME = 20, 28
PREPARE_MODES = ("auto", "always", "never")


@dataclass
class Prediction:
    source: str
    label: int | str | None = None
    counts: list[int] = field(default_factory=list)
    no_decision: bool = False
    tied: list = field(default_factory=list)
    shown: str | None = None
    error: str | None = None


def load_gray(path: Path) -> np.ndarray:
    """A PNG/JPEG/PGM/... file as a 2-D uint8 grayscale array; one clear error if not."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    try:
        with Image.open(path) as img:
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise PipelineError(f"{path}: image too large ({w} x {h} pixels; the limit is "
                                    f"{MAX_PIXELS // 1_000_000} megapixels); shrink it first")
            if w == 0 or h == 0:
                raise PipelineError(f"{path}: image is empty (0 pixels)")
            if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
                # transparent pixels are background: put the image on the colour that
                # contrasts with its ink (its most opaque pixels), not on black
                rgba = img.convert("RGBA")
                alpha = np.asarray(rgba.getchannel("A"), dtype=np.float64) / 255.0
                gray = np.asarray(rgba.convert("L"), dtype=np.float64)
                ink = float(np.median(gray[alpha > 0.5])) if (alpha > 0.5).any() else 0.0
                paper = 255.0 if ink < 128 else 0.0
                return np.rint(gray * alpha + paper * (1 - alpha)).astype(np.uint8)
            return np.asarray(img.convert("L"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError) as exc:
        raise PipelineError(f"{path}: not a readable image ({type(exc).__name__}); use PNG, "
                            "JPEG or PGM") from None


def prepare(gray: np.ndarray, mode: str = "auto", frame: int = FRAME, box_side: int = BOX
            ) -> np.ndarray:
    """A grayscale image -> the (frame, frame) uint8 MNIST-style image the network reads
    (MNIST: its longer side scaled to 20 in a 28 x 28 frame; digits: 8 in 8 x 8)."""
    a = gray.astype(np.float64)
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    background = float(np.median(border))
    if mode == "never" and a.shape != (frame, frame):
        raise PipelineError(f"--prepare never reads the image as it is, but it is "
                            f"{a.shape[1]} x {a.shape[0]} pixels, not {frame} x {frame}; "
                            "use --prepare auto or always")
    if mode == "never" or (mode == "auto" and a.shape == (frame, frame) and background < 128):
        return gray.astype(np.uint8)
    if background >= 128:                       # dark ink on a light background
        a, background = 255.0 - a, 255.0 - background
    a = np.clip(a - background, 0, None)
    peak = a.max()
    if peak < 16:
        raise PipelineError("no ink: the image is blank (or has no contrast)")
    rows = np.flatnonzero((a >= 0.25 * peak).any(axis=1))
    cols = np.flatnonzero((a >= 0.25 * peak).any(axis=0))
    crop = a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    scale = box_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    box = np.asarray(Image.fromarray(np.uint8(np.clip(crop * 255 / peak, 0, 255)))
                     .resize(size, Image.Resampling.LANCZOS), dtype=np.float64)
    box = np.clip(box * 255 / max(box.max(), 1), 0, 255)
    ys, xs = np.indices(box.shape)
    total = box.sum()
    cy, cx = (ys * box).sum() / total, (xs * box).sum() / total
    top = int(np.clip(round(frame / 2 - cy), 0, frame - box.shape[0]))
    left = int(np.clip(round(frame / 2 - cx), 0, frame - box.shape[1]))
    out = np.zeros((frame, frame), dtype=np.uint8)
    out[top:top + box.shape[0], left:left + box.shape[1]] = np.rint(box).astype(np.uint8)
    return out


def image_info(checkpoint: Path, receptors: int) -> dict:
    """How the checkpoint's data set made its images: recorded in the checkpoint (since
    imports exist), known for the built-in data sets, else MNIST's when it reads 784."""
    from snnpipe.pipeline.datasets.sources import BUILTIN_INFO
    cp = ckpt.load(checkpoint)
    info = cp.attrs.get("data") or BUILTIN_INFO.get(cp.dataset)
    if not info and receptors == FRAME * FRAME:
        info = BUILTIN_INFO["mnist"]
    shape = (info or {}).get("image_shape", [])
    if len(shape) < 2 or int(np.prod(shape)) != receptors:
        raise PipelineError(f"{checkpoint} reads {receptors} receptors and records no image "
                            "shape (a data set imported from flat arrays?); predict needs "
                            "images of a known shape")
    return dict(info)


def prepare_for(path: Path, info: dict, mode: str) -> np.ndarray:
    """An image file -> what the network reads, the way its data set was made: MNIST-style
    centring for digit sets, else a plain resize to the data set's shape and colour mode."""
    shape = info["image_shape"]
    h, w = shape[-2:]
    if info.get("prepare") == "centre":
        if h != w:
            raise PipelineError(f"centring needs a square frame, the data set is {h} x {w}")
        return prepare(load_gray(path), mode, h, info.get("box", BOX if h == FRAME else h))
    from snnpipe.pipeline.datasets.importer import colour_to_receptors
    rgb = load_rgb(path)
    if mode == "never" and rgb.shape[:2] != (h, w):
        raise PipelineError(f"{path}: the image is {rgb.shape[0]} x {rgb.shape[1]}, the data "
                            f"set's are {h} x {w}; drop --prepare never")
    if rgb.shape[:2] != (h, w):
        rgb = np.asarray(Image.fromarray(rgb).resize((w, h), Image.Resampling.LANCZOS))
    color = info.get("color", "gray") if len(shape) == 2 else "color"
    flat = colour_to_receptors(rgb[None], color)[0]
    return flat.reshape(shape)


def load_rgb(path: Path) -> np.ndarray:
    """An image file as (h, w, 3) uint8, as `snnpipe import` reads one."""
    load_gray(path)                              # the same checks and error lines
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8)


def predict(checkpoint: Path, images: list[Path], idx: Path | None = None,
            show: bool = False, mode: str = "auto") -> list[Prediction]:
    """Predict every image (and every image of an IDX file); errors stay per image."""
    if mode not in PREPARE_MODES:
        raise PipelineError(f"--prepare {mode!r}: choose one of {', '.join(PREPARE_MODES)}")
    if not images and idx is None:
        raise PipelineError("give image files, or --idx FILE")
    model = ckpt.load_estimator(checkpoint)
    info = image_info(checkpoint, model.n_features_in_)
    shape = info["image_shape"]
    results: list[Prediction] = []
    ready: list[tuple[Prediction, np.ndarray]] = []
    for path in images:
        res = Prediction(str(path))
        results.append(res)
        try:
            img = prepare_for(path, info, mode)
            if show:
                h, w = shape[-2:]
                shown = Path(path).with_name(Path(path).stem + f".{h}x{w}.png")
                view = img if img.ndim == 2 else img.transpose(1, 2, 0)
                Image.fromarray(view).resize((w * 4, h * 4), Image.Resampling.NEAREST
                                             ).save(shown)
                res.shown = str(shown)
            ready.append((res, img))
        except PipelineError as exc:
            res.error = str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}"
        except OSError as exc:
            res.error = f"{path}: cannot write the --show image ({exc.strerror})"
    if idx is not None:
        try:
            raw = read_bounded(Path(idx), MAX_IDX_BYTES, "bytes (the most an IDX file of "
                               "images may hold here); split it into smaller files",
                               f"--idx {idx}")
        except OSError as exc:
            raise PipelineError(f"--idx {idx}: cannot read ({exc.strerror})") from None
        data = parse_images(f"--idx {idx}", decompress(f"--idx {idx}", raw))
        if data.shape[1] != FRAME * FRAME or model.n_features_in_ != FRAME * FRAME:
            raise PipelineError(f"--idx {idx}: expected {FRAME} x {FRAME} images, got "
                                f"{data.shape[1]} pixels each")
        for i, img in enumerate(data.reshape(-1, FRAME, FRAME)):
            res = Prediction(f"{idx}[{i}]")
            results.append(res)
            ready.append((res, img))
    if ready:
        counts = model.spike_counts(np.stack([img.reshape(-1) for _, img in ready]))
        for (res, _), row in zip(ready, counts, strict=True):
            top = row.max()
            winners = np.flatnonzero(row == top)
            res.counts = row.tolist()
            res.no_decision = len(winners) > 1
            res.tied = [model.classes_[w].item() for w in winners] if res.no_decision else []
            res.label = None if res.no_decision else model.classes_[winners[0]].item()
    return results
