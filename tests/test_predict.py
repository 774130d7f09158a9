"""`snnpipe predict` on real files: MNIST digits as PNG, font-drawn digits, bad images."""

import json
from pathlib import Path

import forkrun
import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from snnpipe.engine import Network
from snnpipe.stores import checkpoint as ckpt

ROOT = Path(__file__).resolve().parents[1]
BEST = ROOT / "docs" / "reproduce" / "best.zarr"
FONT = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def predict(*args):
    return forkrun.snnpipe("predict", *args)


def draw_digit(d: int, path: Path) -> Path:
    """A digit in thick strokes (DejaVu Sans + a 2-pixel outline, the TrueType font that the
    matplotlib package installs), black on white, off-centre, 200 x 200."""
    img = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(img).text((25 + 9 * (d % 4), 15 + 7 * (d % 3)), str(d),
                             font=ImageFont.truetype(str(FONT), 110), fill=0, stroke_width=2,
                             stroke_fill=0)
    img.save(path)
    return path


def test_mnist_digits_as_png_predict_like_eval(mnist_store, tmp_path):
    from snnpipe.stores.dataset import open_dataset
    test = open_dataset(mnist_store).load("test", 40)
    paths = []
    for i, pixels in enumerate(test.pixels):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(pixels.reshape(28, 28)).save(paths[-1])
    res = predict(BEST, *paths, "--json")
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)["predictions"]
    cp = ckpt.load(BEST)
    counts = Network.from_arrays(cp.cfg, cp.arrays["receptors"], cp.arrays["weights"]
                                 ).spike_counts(test.planes)          # what eval computes
    assert [p["counts"] for p in got] == counts.tolist()
    assert sum(p["label"] == int(y) for p, y in zip(got, test.labels, strict=True)) >= 38
    # re-prepared from scratch (crop, 20 x 20, centre of mass) they still read the same
    again = json.loads(predict(BEST, *paths, "--json", "--prepare", "always").stdout)
    same = sum(a["label"] == b["label"] for a, b in zip(again["predictions"], got, strict=True))
    assert same >= 34


def test_font_digits_are_recognised(tmp_path):
    paths = [draw_digit(d, tmp_path / f"{d}.png") for d in range(10)]
    res = predict(BEST, *paths, "--json", "--show")
    assert res.returncode == 0, res.stderr
    labels = [p["label"] for p in json.loads(res.stdout)["predictions"]]
    assert sum(label == d for d, label in enumerate(labels)) >= 7, labels
    seen = np.asarray(Image.open(tmp_path / "3.28x28.png"))
    assert seen.shape == (112, 112) and seen.max() == 255 and seen[0].max() == 0


def test_bad_images_are_one_error_each_and_the_rest_still_predicted(tmp_path):
    good = draw_digit(7, tmp_path / "seven.png")
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"not an image at all")
    blank = tmp_path / "blank.png"
    Image.new("L", (64, 64), 255).save(blank)
    huge = tmp_path / "huge.png"
    Image.new("L", (8000, 6000), 0).save(huge)
    res = predict(BEST, garbage, good, blank, huge, tmp_path / "missing.png")
    assert res.returncode == 1
    errors = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(errors) == 4 and all(ln.startswith("error:") for ln in errors), res.stderr
    assert "garbage.png: not a readable image" in errors[0]
    assert "blank.png" in errors[1] and "no ink" in errors[1]
    assert "huge.png: image too large" in errors[2]
    assert "missing.png: no such file" in errors[3]
    assert res.stdout.startswith(f"{good}: 7 ")


def test_idx_file_and_foreign_checkpoints(mnist_store, tmp_path):
    from snnpipe.stores.dataset import open_dataset
    test = open_dataset(mnist_store).load("test", 5)
    idx = tmp_path / "five.idx"
    idx.write_bytes(np.array([0x803, 5, 28, 28], ">u4").tobytes() + test.pixels.tobytes())
    res = predict(BEST, "--idx", idx, "--json")
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)["predictions"]
    assert [p["source"] for p in got] == [f"{idx}[{i}]" for i in range(5)]
    assert [p["label"] for p in got] == [7, 2, 1, 0, 4] == test.labels.tolist()
    bad = predict(BEST, "--idx", tmp_path / "five.idx", "--prepare", "sideways")
    assert bad.returncode == 1 and "--prepare 'sideways'" in bad.stderr
