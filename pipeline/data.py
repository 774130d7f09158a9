"""Opening the preprocessed store for a stage, with errors that say how to make it."""

from __future__ import annotations

from pathlib import Path

from engine import Config
from stores.dataset import Dataset, open_dataset

from .errors import PipelineError
from .preprocess import default_store


def open_store(dataset: str, data_dir: Path, store: Path | None) -> Dataset:
    path = Path(store) if store is not None else default_store(data_dir, dataset)
    hint = ("make preprocess" if dataset == "mnist"
            else f"snnpipe preprocess --dataset {dataset}")
    ds = open_dataset(path, hint=hint)
    if ds.name != dataset:
        raise PipelineError(f"{path} holds {ds.name}, not {dataset}; pass the right --dataset")
    return ds


def check_levels(cfg: Config, ds: Dataset) -> None:
    if tuple(cfg.levels) != ds.levels:
        raise PipelineError(
            f"config levels {list(cfg.levels)} differ from the store's {list(ds.levels)}; "
            f"rebuild it with `snnpipe preprocess --levels {','.join(map(str, cfg.levels))} "
            "--force` or drop the levels override")
