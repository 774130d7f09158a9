"""Pictures of a run: learning curves, counters, confusion matrix, receptive fields.

Works on both kinds of run folder: `snnpipe train` (metrics.jsonl, one row per epoch) and
`snnpipe reproduce` (results.jsonl, one row per evaluation point).
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from snnpipe.engine import Network  # noqa: E402
from snnpipe.pipeline.errors import PipelineError  # noqa: E402
from snnpipe.pipeline.results.summary import load_points, summary_lines  # noqa: E402
from snnpipe.stores import checkpoint as ckpt  # noqa: E402
from snnpipe.stores import runs  # noqa: E402

DPI_TARGET = 98.65
DPI_LARGE_TARGET = 98.9          # his claim for 7,920 neurons per class
# D𝜋's own program's printout, default configuration, seed 1000 (docs/model.md, rule F5).
DPI_POINTS = [(1_025_400, 66.45)]


def draw(run_dir: Path, output: Path | None, against: list[str], label: str,
         bands: list[str]) -> list[str]:
    """Stage `plot`: a run's PNGs, or with `against` (LABEL=RUN_DIR each) one comparison
    plot; then the summary lines for `bands`. Returns the lines to print."""
    for folder in [run_dir, *(a.split("=", 1)[-1] for a in against)]:
        if not Path(folder).is_dir():
            raise PipelineError(f"{folder}: no such run folder")
    if any("=" not in a for a in against):
        raise PipelineError("--against takes LABEL=RUN_DIR, e.g. --against exact=docs/plateau")
    pairs = [(a.split("=", 1)[0], Path(a.split("=", 1)[1])) for a in against]
    labels = [label, *(name for name, _ in pairs)]
    repeated = sorted({n for n in labels if labels.count(n) > 1})
    if repeated:
        raise PipelineError(f"label {repeated[0]!r} is used twice (--label and --against "
                            "labels name one run each); give every run its own label")
    runs_by_label = {label: Path(run_dir), **dict(pairs)}
    if against:
        target = Path(output or Path(run_dir) / "plots") / "comparison.png"
        drawn = [plot_comparison(runs_by_label, target)]
        key = comparison_key({k: load_points(v) for k, v in runs_by_label.items()})
        if key != "test_accuracy":       # first reach, best and bands judge test claims
            if bands:
                raise PipelineError("--band summarises test accuracy, and these runs hold "
                                    "out a validation split (drawn: validation accuracy); "
                                    "drop --band")
            return [str(drawn[0]), "drawn: validation accuracy (every run holds out a "
                                   "validation split)"]
    else:
        drawn = plot_run(run_dir, output)
    return [*map(str, drawn), *summary_lines(runs_by_label, bands)]


def _accuracy(ax, x, points, xlabel):
    test = [(xi, 100 * p["test_accuracy"]) for xi, p in zip(x, points, strict=True)
            if p.get("test_accuracy") is not None]
    train = [(xi, 100 * p["train_accuracy"]) for xi, p in zip(x, points, strict=True)
             if p.get("train_accuracy") is not None]
    if test:
        ax.plot(*zip(*test, strict=True), "o-", ms=3, label="test")
    if train:
        ax.plot(*zip(*train, strict=True), ".-", ms=2, alpha=0.7, label="train")
    ax.axhline(DPI_TARGET, color="crimson", ls="--", lw=1, label=f"Dπ reported: {DPI_TARGET} %")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy (%)")
    lo = min([v for _, v in test + train] + [DPI_TARGET])
    ax.set_ylim(max(0, lo - 2), 100)
    ax.grid(alpha=0.3)


def plot_curves(points: list[dict], out: Path) -> list[Path]:
    samples = [p["samples_seen"] / 1e6 for p in points]
    minutes = [p["wall_seconds"] / 60 for p in points]
    paths = []

    fig, ax = plt.subplots(figsize=(8, 4.5))
    _accuracy(ax, samples, points, "samples seen (millions)")
    ax.plot([s / 1e6 for s, _ in DPI_POINTS], [a for _, a in DPI_POINTS], "k*", ms=10,
            label="Dπ's program's printout")
    ax.set_ylim(min(ax.get_ylim()[0], min(a for _, a in DPI_POINTS) - 3), 100)
    if samples and samples[-1] / max(samples[0], 1e-9) > 50:
        ax.set_xscale("log")                # long runs: keep the early curve readable
    ax.legend(loc="lower right")
    ax.set_title("Accuracy vs samples seen")
    paths.append(_save(fig, out / "accuracy_vs_samples.png"))

    fig, ax = plt.subplots(figsize=(8, 4.5))
    _accuracy(ax, minutes, points, "wall time (minutes, this machine)")
    if minutes and minutes[-1] / max(minutes[0], 1e-9) > 50:
        ax.set_xscale("log")
    ax.legend(loc="lower right")
    ax.set_title("Accuracy vs wall time")
    paths.append(_save(fig, out / "accuracy_vs_time.png"))

    late = [(x, 100 * p["test_accuracy"]) for x, p in zip(samples, points, strict=True)
            if p.get("test_accuracy") is not None and x >= samples[-1] / 4]
    if len(late) >= 8:                      # the plateau, where D𝜋's figure is decided
        fig, ax = plt.subplots(figsize=(8, 4))
        xs, ys = zip(*late, strict=True)
        ax.plot(xs, ys, ".-", ms=3, lw=0.8, label="test")
        window = max(1, len(ys) // 10)
        smooth = np.convolve(ys, np.ones(window) / window, mode="valid")
        ax.plot(xs[window - 1:], smooth, lw=2, label=f"running mean of {window}")
        ax.axhline(DPI_TARGET, color="crimson", ls="--", lw=1,
                   label=f"Dπ reported: {DPI_TARGET} %")
        ax.set_xlabel("samples seen (millions)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title("The plateau (last three quarters of the run)")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
        paths.append(_save(fig, out / "accuracy_plateau.png"))

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, title in ((axes[0], "{}_learns", "Learning steps (cumulative)"),
                           (axes[1], "live_{}", "Live connections")):
        for sign in ("positive", "negative"):
            ax.plot(samples, [p[key.format(sign)] for p in points], label=sign)
        ax.set_title(title)
        ax.set_xlabel("samples seen (millions)")
        ax.legend()
        ax.grid(alpha=0.3)
    paths.append(_save(fig, out / "learning_and_connections.png"))
    return paths


def plot_confusion(confusion: np.ndarray, title: str, path: Path) -> Path:
    confusion = np.asarray(confusion)
    fig, ax = plt.subplots(figsize=(7, 6))
    rates = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    ax.imshow(np.log1p(confusion), cmap="Blues")
    n_rows, n_cols = confusion.shape
    for i in range(n_rows):
        for j in range(n_cols):
            if confusion[i, j]:
                ax.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(n_cols), [str(j) for j in range(n_cols - 1)] + ["?"])
    ax.set_yticks(range(n_rows))
    ax.set_xlabel("predicted (? = no decision: tie at the top)")
    ax.set_ylabel("true class")
    ax.set_title(title)
    return _save(fig, path)


def plot_receptive_fields(net: Network, path: Path, side: int = 28) -> Path:
    """Per column: sum of positive and of negative weights on each receptor (28 x 28)."""
    cfg = net.cfg
    w, r = net.weights.astype(np.int64), net.receptors
    fig, axes = plt.subplots(2, cfg.columns, figsize=(1.6 * cfg.columns, 3.6))
    axes = np.asarray(axes).reshape(2, cfg.columns)
    for c in range(cfg.columns):
        for row, sign, cmap in ((0, 1, "Greens"), (1, -1, "Reds")):
            mask = sign * w[c] > 0
            field = np.bincount(r[c][mask], weights=np.abs(w[c][mask]),
                                minlength=cfg.receptors)
            ax = axes[row, c]
            if cfg.receptors == side * side:
                ax.imshow(field.reshape(side, side), cmap=cmap)
            else:
                ax.plot(field)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"column {c}", fontsize=9)
        axes[0, 0].set_ylabel("positive")
        axes[1, 0].set_ylabel("negative")
    fig.suptitle("Receptive fields: summed |weight| per receptor")
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_run(run_dir: Path, out: Path | None = None) -> list[Path]:
    """All pictures of a run into RUN_DIR/plots (or `out`)."""
    from snnpipe.pipeline.datasets.data import open_store
    from snnpipe.pipeline.results.evaluate import evaluate
    run_dir = Path(run_dir)
    out = Path(out) if out else run_dir / "plots"
    paths = plot_curves(load_points(run_dir), out)
    folder = runs.checkpoints_dir(run_dir)
    best = folder / "best.zarr" if (folder / "best.zarr").exists() else folder / "last.zarr"
    if best.exists():
        cp = ckpt.load(best)
        net = Network.from_arrays(cp.cfg, cp.arrays["receptors"], cp.arrays["weights"])
        confusion = cp.metrics.get("confusion")
        if confusion is None:
            ds = open_store(cp.dataset, Path("data"), None)
            confusion = evaluate(net, ds.load("test"))["confusion"]
        acc = cp.metrics.get("test_accuracy")
        title = "Confusion, best checkpoint" + (f" ({100 * acc:.2f} %)" if acc else "")
        paths.append(plot_confusion(np.asarray(confusion), title, out / "confusion.png"))
        paths.append(plot_receptive_fields(net, out / "receptive_fields.png"))
    return paths


def comparison_key(loaded: dict[str, list[dict]], paths: dict[str, Path] | None = None) -> str:
    """Test accuracy, or validation accuracy when every run was selected on a validation
    split (train --validation, sweeps): one split for all curves, never a mix."""
    has = {k: [label for label, pts in loaded.items() if any(p.get(k) is not None for p in pts)]
           for k in ("test_accuracy", "validation_accuracy")}
    for key in has:
        if len(has[key]) == len(loaded):
            return key
    missing = sorted(set(loaded) - set(has["test_accuracy"]))[0]
    where = (paths or {}).get(missing, missing)
    raise PipelineError(f"{where} ({missing}) has no test accuracy to compare with the others (a "
                        "run selected on --validation is scored on test once, by `snnpipe "
                        "eval`); compare runs that share a split, or leave it out of --against")


def plot_comparison(runs_by_label: dict[str, Path], path: Path,
                    title: str | None = None) -> Path:
    """Test (or, for runs with a validation split, validation) accuracy of several runs on
    the same axes, against samples seen and against positive learning steps (log x): e.g.
    D𝜋's program (faithful mode) against the exact rules. Only the runs' scheduled
    evaluation points are drawn."""
    loaded = {label: load_points(run_dir) for label, run_dir in runs_by_label.items()}
    key = comparison_key(loaded, runs_by_label)
    split = key.split("_")[0]
    title = title or f"{split.capitalize()} accuracy of the runs, same data, same evaluation"
    fig, grid = plt.subplots(2, 2, figsize=(13, 9), sharex="col")
    axes, zoom = grid[0], grid[1]
    lowest = DPI_TARGET
    for label, points in loaded.items():
        points = [p for p in points if p.get(key) is not None]
        scheduled = [p for p in points if p.get("mid_batch", True)] if any(
            p.get("mid_batch") for p in points) else points
        acc = [100 * p[key] for p in scheduled]
        lowest = min(lowest, min(acc))
        for row in (axes, zoom):
            row[0].plot([p["samples_seen"] / 1e6 for p in scheduled], acc, ".-", ms=3, lw=0.8,
                        label=label)
            row[1].plot([p["positive_learns"] for p in scheduled], acc, ".-", ms=3, lw=0.8,
                        label=label)
    for ax, xlabel in zip([*axes, *zoom], ("samples seen (millions, log)",
                                           "positive learning steps (log)") * 2, strict=True):
        ax.axhline(DPI_TARGET, color="crimson", ls="--", lw=1,
                   label=f"Dπ reported: {DPI_TARGET} %")
        ax.axhline(DPI_LARGE_TARGET, color="purple", ls=":", lw=1,
                   label=f"Dπ reported, 7,920 neurons: {DPI_LARGE_TARGET} %")
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3, which="both")
    if key == "test_accuracy":                    # his printout scored the test set
        axes[0].plot([s / 1e6 for s, _ in DPI_POINTS], [a for _, a in DPI_POINTS], "k*",
                     ms=10, label="Dπ's program's printout")
    axes[0].set_ylabel(f"{split} accuracy (%)")
    axes[0].set_ylim(max(0, lowest - 2), 100)
    axes[0].legend(loc="lower right", fontsize=8)
    zoom[0].set_ylabel(f"{split} accuracy (%), the plateau")
    for ax in zoom:
        ax.set_ylim(97.8, 99.1)
    fig.suptitle(title)
    return _save(fig, Path(path))


def plot_sweep(folder: Path, rows: list[dict], swept: list[str], top: int = 5) -> list[Path]:
    """The metric against each swept parameter (one PNG each), and the accuracy curves of
    the top trials against samples."""
    folder = Path(folder)
    ok = [r for r in rows if r.get("status") == "ok" and r.get("metric") is not None]
    paths = []
    if not ok:
        return paths
    name = ok[0].get("metric_name", "metric").replace("_", " ")
    for param in swept:
        fig, ax = plt.subplots(figsize=(5, 3.6))
        xs = [r["params"].get(param) for r in ok]
        labels = sorted({json.dumps(x) for x in xs})
        numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x in xs)
        pos = xs if numeric else [labels.index(json.dumps(x)) for x in xs]
        ax.scatter(pos, [100 * r["metric"] for r in ok], s=18, alpha=0.8)
        if not numeric:
            ax.set_xticks(range(len(labels)), labels, rotation=20, fontsize=7)
        ax.set_xlabel(param)
        ax.set_ylabel(f"{name} (%)")
        ax.grid(alpha=0.3)
        paths.append(_save(fig, folder / f"metric-vs-{param}.png"))
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for r in sorted(ok, key=lambda r: -r["metric"])[:top]:
        metrics = runs.read_metrics(Path(r["run_dir"]))
        key = r.get("metric_name", "validation_accuracy")
        pts = [(m["samples_seen"], 100 * m[key]) for m in metrics if m.get(key) is not None]
        if pts:
            ax.plot(*zip(*pts, strict=True), marker=".", label=f"{r['id']} seed {r['seed']}")
    ax.set_xlabel("samples seen")
    ax.set_ylabel(f"{name} (%)")
    ax.set_title(f"top {min(top, len(ok))} trials")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    paths.append(_save(fig, folder / "top-trials.png"))
    return paths
