"""Evaluation: accuracy (strict winner), no-decision rate, per-class scores, confusion."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from snnpipe.engine import Network
from snnpipe.engine.config import level_list
from snnpipe.engine.trainer import decided_correct
from snnpipe.pipeline.datasets.data import find_or_build_store, open_store
from snnpipe.pipeline.errors import PipelineError
from snnpipe.stores import checkpoint, runs
from snnpipe.stores.dataset import Dataset, Split
from snnpipe.stores.errors import StoreError

EVAL_BATCH = 4096


def spike_counts(net: Network, split: Split) -> tuple[np.ndarray, float]:
    """All spike counts of a split, and the samples/s achieved (after a warm-up call, so
    the rate measures the engine, not thread-pool start-up)."""
    net.spike_counts(split.planes[:1])
    start = time.perf_counter()
    parts = [net.spike_counts(split.planes[i:i + EVAL_BATCH])
             for i in range(0, len(split), EVAL_BATCH)]
    seconds = time.perf_counter() - start
    counts = np.concatenate(parts) if parts else np.zeros((0, net.cfg.columns), np.int64)
    return counts, len(split) / max(seconds, 1e-9)


def scores(counts: np.ndarray, labels: np.ndarray) -> dict:
    """Metrics of spike counts against labels. Ties at the top are 'no decision' (a miss)."""
    labels = labels.astype(np.int64)
    n, columns = counts.shape
    correct, no_decision = decided_correct(counts, labels)
    predicted = np.where(no_decision, columns, counts.argmax(axis=1))
    # confusion[true, predicted]; the last column counts "no decision"
    confusion = np.zeros((columns, columns + 1), np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    tp = np.diag(confusion[:, :columns]).astype(float)
    predicted_k = confusion[:, :columns].sum(axis=0).astype(float)
    actual_k = confusion.sum(axis=1).astype(float)
    precision = np.divide(tp, predicted_k, out=np.zeros(columns), where=predicted_k > 0)
    recall = np.divide(tp, actual_k, out=np.zeros(columns), where=actual_k > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(columns), where=denom > 0)
    return {
        "samples": int(n),
        "accuracy": float(correct.mean()) if n else 0.0,
        "no_decision": float(no_decision.mean()) if n else 0.0,
        "macro_precision": float(precision.mean()),
        "macro_recall": float(recall.mean()),
        "macro_f1": float(f1.mean()),
        "per_class": {"precision": precision.tolist(), "recall": recall.tolist(),
                      "f1": f1.tolist()},
        "confusion": confusion.tolist(),
    }


def evaluate(net: Network, split: Split) -> dict:
    counts, rate = spike_counts(net, split)
    out = scores(counts, split.labels)
    out["samples_per_s"] = rate
    return out


SPLIT_NAMES = ("test", "train", "validation")


def holdout_of(cp: checkpoint.Checkpoint) -> dict | None:
    """The training images a checkpoint's run held out: `{"validation": N, "limit_train":
    L}` as `train` records it (N = 0: none). Older checkpoints do not record it; if their
    history was scored on validation, N and L are unknown (None); if on test, there was no
    hold-out (None is returned)."""
    recorded = cp.attrs.get("holdout")
    if isinstance(recorded, dict):
        n, limit = recorded.get("validation"), recorded.get("limit_train")
        if not all(v is None or (type(v) is int and v >= 0) for v in (n, limit)):
            raise PipelineError(f"{cp.path}: its holdout record {recorded} is corrupt; "
                                "use another checkpoint of its run")
        return {"validation": n, "limit_train": limit}
    run = cp.attrs.get("run")
    rows = [cp.metrics, *(run.get("history", []) if isinstance(run, dict) else [])]
    if any(isinstance(r, dict) and "validation_accuracy" in r for r in rows):
        return {"validation": None, "limit_train": None}
    return None


def validation_images(cp: checkpoint.Checkpoint, train: Split,
                      requested: int | None) -> Split:
    """The checkpoint's own hold-out: the images its run never trained on. Refused when it
    trained on every training image, or when --validation disagrees with its record."""
    held = holdout_of(cp)
    if held is None or held.get("validation") == 0:
        raise PipelineError(f"{cp.path} was trained on every training image (no validation "
                            "hold-out): a validation score would be a training score; score "
                            "it with --split test, or train with --validation N")
    n, limit = held.get("validation"), held.get("limit_train")
    if n is not None and requested is not None and requested != n:
        raise PipelineError(f"{cp.path} held out the last {n:,} training images; drop "
                            f"--validation or pass --validation {n}")
    n = n if n is not None else (requested or 10_000)   # older checkpoints: as told
    images = train.head(limit)
    if not 0 < n < len(images):
        raise PipelineError(f"--validation {n}: the training split has {len(images)} "
                            "images; hold out fewer")
    return images.split_off(n)[1]


def resolve_checkpoints(paths: list[Path]) -> list[Path]:
    """Checkpoints named directly, or all of a run folder's epoch checkpoints in order."""
    out: list[Path] = []
    for p in paths:
        out += _resolve(Path(p))
    return out


def _resolve(p: Path) -> list[Path]:
    if (p / "checkpoints").is_dir():
        found = runs.epoch_checkpoints(p)
        if not found and (runs.checkpoints_dir(p) / "last.zarr").exists():
            found = [runs.checkpoints_dir(p) / "last.zarr"]
        if not found:
            raise PipelineError(f"{p} has no checkpoints yet; train first")
        return found
    if p.exists():
        return [p]
    raise PipelineError(f"{p}: no such checkpoint or run folder")


def evaluate_checkpoints(paths: list[Path], dataset: str | None, split: str,
                         limit: int | None, data_dir: Path,
                         store: Path | None = None,
                         errors: list[str] | None = None, on_note=None,
                         validation: int | None = None) -> list[dict]:
    """Evaluate each checkpoint on the store it belongs to; refuse mismatched stores. Without
    --store, the store a checkpoint needs (its data set, its levels) is found or built, and
    `on_note` hears one line about what was built. With `errors` (a list), a path that fails
    adds its one line there and the others go on, as `predict` does per image; without it,
    the first failure raises. `split` "validation": each checkpoint's own hold-out (the
    images `train --validation N` and sweeps kept out of training), to select without the
    test set; `validation` only checks (or, for older checkpoints, gives) its size."""
    if limit is not None and limit < 1:
        raise PipelineError(f"--limit {limit}: must be >= 1 (or left out for all images)")
    if split not in SPLIT_NAMES:
        raise PipelineError(f"--split {split!r}: choose one of {', '.join(SPLIT_NAMES)}")
    if validation is not None and split != "validation":
        raise PipelineError(f"--validation {validation} applies to --split validation only; "
                            "drop it or add --split validation")
    if validation is not None and validation < 1:
        raise PipelineError(f"--validation {validation}: must be >= 1")
    results = []
    datasets: dict[tuple, Dataset] = {}
    splits: dict[tuple, Split] = {}
    for given in paths:
        try:
            for path in _resolve(Path(given)):
                results.append(_evaluate_one(path, dataset, split, limit, data_dir, store,
                                             datasets, splits, on_note, validation))
        except (PipelineError, StoreError) as exc:
            if errors is None:
                raise
            errors.append(str(exc))
    return results


def _evaluate_one(path: Path, dataset: str | None, split: str, limit: int | None,
                  data_dir: Path, store: Path | None, datasets: dict, splits: dict,
                  on_note=None, validation: int | None = None) -> dict:
    cp = checkpoint.load(path)                   # verifies every chunk's checksum
    name = dataset or cp.dataset or "mnist"      # "": an estimator's, store unknown
    if dataset and cp.dataset and dataset != cp.dataset:
        raise PipelineError(f"{path} was trained on {cp.dataset}, not {dataset}; drop "
                            f"--dataset or pass --dataset {cp.dataset}")
    key = (name, tuple(cp.levels) if store is None else None)
    if key not in datasets:
        if store is None:
            ds, note = find_or_build_store(name, tuple(cp.levels), data_dir)
            if note and on_note is not None:
                on_note(note)
        else:
            ds = open_store(name, data_dir, store)
        splits[key] = ds.load("train" if split == "validation" else split,
                              None if split == "validation" else limit)
        datasets[key] = ds
    ds = datasets[key]
    images = (validation_images(cp, splits[key], validation).head(limit)
              if split == "validation" else splits[key])
    if cp.dataset and cp.dataset != ds.name:
        raise PipelineError(f"{path} was trained on {cp.dataset}, the store holds "
                            f"{ds.name}; evaluate with --dataset {cp.dataset}")
    if tuple(cp.levels) != ds.levels:
        lv = ",".join(map(str, cp.levels))
        build = ("" if len(cp.levels) > 8 else
                 f", or build one with its levels (`snnpipe preprocess --dataset {ds.name} "
                 f"--levels {lv} --output STORE`) and pass --store STORE")
        raise PipelineError(f"{path} uses levels {level_list(cp.levels)} but {ds.path} holds "
                            f"{level_list(ds.levels)}; drop --store (eval finds or builds the "
                            f"store it needs){build}")
    if cp.cfg.receptors != images.planes.shape[2]:
        raise PipelineError(f"{path} has {cp.cfg.receptors} receptors but {ds.path} holds "
                            f"{images.planes.shape[2]}-pixel images")
    labels = images.labels
    if len(labels) and int(labels.max()) >= cp.cfg.columns:
        raise PipelineError(f"{path} has {cp.cfg.columns} columns (classes) but {ds.path} "
                            f"holds label {int(labels.max())}; it was not trained on this data")
    classes = cp.attrs.get("classes")
    if classes is not None and classes != list(range(cp.cfg.columns)):
        raise PipelineError(f"{path} predicts the classes {classes[:10]}, not the store's "
                            "digit labels; score it with SONNClassifier.score instead")
    # last: the shape checks above name a mismatch more precisely
    if cp.checksums and ds.checksums and cp.checksums != ds.checksums:
        raise PipelineError(f"{path} was trained on a store built from other source files "
                            f"than {ds.path} (their checksums differ, whatever its dataset "
                            "attribute says); evaluate it on the store it was trained on")
    net = Network.from_arrays(cp.cfg, cp.arrays["receptors"], cp.arrays["weights"])
    res = evaluate(net, images)
    if split == "validation":
        res["validation_images"] = len(images)
    res.update(checkpoint=str(path), epoch=cp.epoch, dataset=ds.name, split=split,
               recorded_test_accuracy=cp.metrics.get("test_accuracy"))
    return res
