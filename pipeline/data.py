"""Opening the preprocessed store for a stage, with errors that say how to make it."""

from __future__ import annotations

from pathlib import Path

from engine import Config
from stores.dataset import Dataset, open_dataset

from .errors import PipelineError
from .preprocess import default_store


def preprocess_command(dataset: str, path: Path, levels: tuple[int, ...] | None = None,
                       data_dir: Path = Path("data")) -> str:
    """The `snnpipe preprocess` line that (re)builds the store at `path`: it rebuilds a
    damaged store without --force, and names --output unless it is the default one."""
    parts = ["snnpipe preprocess"]
    if dataset != "mnist":
        parts.append(f"--dataset {dataset}")
    if Path(path) != default_store(data_dir, dataset):
        parts.append(f"--output {path}")
    if levels and tuple(levels) != Config().levels:
        parts.append(f"--levels {','.join(map(str, levels))}")
    return " ".join(parts)


def open_store(dataset: str, data_dir: Path, store: Path | None) -> Dataset:
    path = Path(store) if store is not None else default_store(data_dir, dataset)
    hint = ("make preprocess" if dataset == "mnist" and store is None
            else preprocess_command(dataset, path, None, data_dir))
    ds = open_dataset(path, hint=hint)
    ds.hint = preprocess_command(ds.name, path, ds.levels, data_dir)
    if ds.name != dataset:
        raise PipelineError(f"{path} holds {ds.name}, not {dataset}; pass --dataset "
                            f"{ds.name}, or a --store of {dataset}")
    return ds


def check_levels(cfg: Config, ds: Dataset, store_option: bool = True) -> None:
    """The config's levels must be the store's; the fix builds a second store beside the
    default one instead of replacing it."""
    if tuple(cfg.levels) != ds.levels:
        lv = ",".join(map(str, cfg.levels))
        other = ds.path.with_name(f"{ds.path.stem}-{len(cfg.levels)}-levels.zarr")
        fix = (f"build a store with them (`snnpipe preprocess --dataset {ds.name} --levels "
               f"{lv} --output {other}`) and pass --store {other}" if store_option else
               "this command reads the default MNIST store only; use `snnpipe train` with "
               "--store for other levels")
        raise PipelineError(
            f"config levels {list(cfg.levels)} differ from the store's {list(ds.levels)}; "
            f"{fix}")


def check_network_fits(cfg: Config, ds: Dataset, split) -> None:
    """A config whose receptors or columns do not match the data can never succeed:
    refused before a run folder is written."""
    width = split.planes.shape[2]
    if cfg.receptors != width:
        raise PipelineError(f"receptors = {cfg.receptors}, but {ds.path} holds {width}-pixel "
                            f"images; drop the override (receptors must be {width})")
    classes = int(split.labels.max()) + 1 if len(split) else cfg.columns
    if cfg.columns != max(classes, 10 if ds.name in ("mnist", "fashion-mnist") else classes):
        n = max(classes, 10 if ds.name in ("mnist", "fashion-mnist") else classes)
        raise PipelineError(f"columns = {cfg.columns}, but {ds.name} has {n} classes (one "
                            f"column per class); drop the override (columns must be {n})")
