"""Opening the preprocessed store for a stage, with errors that say how to make it."""

from __future__ import annotations

from pathlib import Path

from engine import Config
from stores.dataset import Dataset, open_dataset, read_attrs

from .errors import PipelineError
from .preprocess import default_store


def open_store(dataset: str, data_dir: Path, store: Path | None) -> Dataset:
    path = Path(store) if store is not None else default_store(data_dir, dataset)
    hint = ("make preprocess" if dataset == "mnist"
            else f"snnpipe preprocess --dataset {dataset}")
    if store is None and not path.exists():
        from stores.rawstore import raw_path

        from .sources import BUILTIN
        if dataset not in BUILTIN and not raw_path(data_dir, dataset).exists():
            raise PipelineError(f"unknown dataset {dataset!r}: nothing imported under that "
                                f"name in {data_dir} (built in: {', '.join(BUILTIN)}); import "
                                f"it with `snnpipe import {dataset} PATH`, then {hint}")
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


def store_receptors(ds: Dataset) -> int:
    """Receptors per image: the width of the store's pixel arrays."""
    import zarr
    return int(zarr.open_group(str(ds.path), mode="r")["train/pixels"].shape[1])


def store_info(ds: Dataset) -> dict:
    """What the store's images are (shape, colour, class names, how predict prepares one);
    stores written before imports existed get their built-in record."""
    from .sources import BUILTIN_INFO
    return dict(ds.attrs.get("data") or BUILTIN_INFO.get(ds.name, {}))


def adapt_config(cfg: Config, ds: Dataset) -> Config:
    """The receptor count and the number of columns come from the data, not the preset (a
    no-op for MNIST: 784 receptors, 10 classes)."""
    classes = len(store_info(ds).get("class_names", [])) or cfg.columns
    receptors = store_receptors(ds)
    if (cfg.receptors, cfg.columns) == (receptors, classes):
        return cfg
    return cfg.replace(receptors=receptors, columns=max(classes, 2))


def find_or_build_store(dataset: str, levels: tuple[int, ...], data_dir: Path,
                        store: Path | None = None) -> tuple[Dataset, str | None]:
    """The store a checkpoint needs (its data set and levels): an explicit --store as it is;
    else DATA_DIR/<dataset>.zarr or DATA_DIR/<dataset>-levels-....zarr if one holds these
    levels, else build the latter (fetching the raw data if needed). Returns the store and,
    when it was built, one line saying what was fetched or built."""
    from .preprocess import default_store, levels_store, preprocess
    if store is not None:
        return open_store(dataset, data_dir, store), None
    levels = tuple(levels)
    for path in (default_store(data_dir, dataset), levels_store(data_dir, dataset, levels)):
        attrs = read_attrs(path)
        if attrs and attrs.get("dataset") == dataset and tuple(attrs["levels"]) == levels:
            return open_dataset(path), None
    path = levels_store(data_dir, dataset, levels)
    res = preprocess(dataset, data_dir, path, levels)
    note = (f"built {res.path} ({dataset}, levels {','.join(map(str, levels))}) from "
            f"{res.source}" if not res.up_to_date else None)
    return open_dataset(res.path), note
