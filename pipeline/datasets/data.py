"""Opening the preprocessed store for a stage, with errors that say how to make it."""

from __future__ import annotations

from pathlib import Path

from snnpipe.engine import Config
from snnpipe.pipeline.datasets.preprocess import default_store
from snnpipe.pipeline.errors import PipelineError
from snnpipe.stores.dataset import Dataset, open_dataset, read_attrs
from snnpipe.stores.locks import waiting


def preprocess_command(dataset: str, path: Path, levels: tuple[int, ...] | None = None,
                       data_dir: Path = Path("data")) -> str:
    """The `snnpipe preprocess` line that (re)builds the store at `path`: it rebuilds a
    damaged store without --force, and names --output unless it is the default one. It is
    the same line for an imported data set (preprocess reads DATA_DIR/raw/NAME.zarr)."""
    parts = ["snnpipe preprocess"]
    if dataset != "mnist":
        parts.append(f"--dataset {dataset}")
    if Path(data_dir) != Path("data"):
        parts.append(f"--data-dir {data_dir}")
    if Path(path) != default_store(data_dir, dataset):
        parts.append(f"--output {path}")
    if levels and tuple(levels) != Config().levels:
        parts.append(f"--levels {','.join(map(str, levels))}")
    return " ".join(parts)


def open_store(dataset: str, data_dir: Path, store: Path | None) -> Dataset:
    path = Path(store) if store is not None else default_store(data_dir, dataset)
    hint = ("make preprocess" if dataset == "mnist" and store is None
            and Path(data_dir) == Path("data")
            else preprocess_command(dataset, path, None, data_dir))
    if store is None and not path.exists():
        from snnpipe.pipeline.datasets.names import BUILTIN
        from snnpipe.stores.rawstore import raw_path
        if dataset not in BUILTIN and not raw_path(data_dir, dataset).exists():
            raise PipelineError(f"unknown dataset {dataset!r}: nothing imported under that "
                                f"name in {data_dir} (built in: {', '.join(BUILTIN)}); import "
                                f"it with `snnpipe import {dataset} PATH`, then {hint}")
    ds = open_dataset(path, hint=hint)
    ds.hint = preprocess_command(ds.name, path, ds.levels, data_dir)
    if ds.name != dataset:
        raise PipelineError(f"{path} holds {ds.name}, not {dataset}; pass --dataset "
                            f"{ds.name}, or a --store of {dataset}")
    stale = stale_import(ds, data_dir)
    if stale:
        raise PipelineError(f"{stale}; rebuild it with `{ds.hint}`")
    return ds


def _import_digest(ds_name: str, data_dir: Path) -> tuple[Path, str | None] | None:
    """The registered import behind a data set name (imports and digits: a raw store in
    DATA_DIR/raw), and its current digest; None for the IDX data sets."""
    from snnpipe.stores.rawstore import raw_path
    from snnpipe.stores.rawstore import read_attrs as raw_attrs
    raw = raw_path(data_dir, ds_name)
    if not raw.parent.is_dir():
        return None
    attrs = raw_attrs(raw)
    return raw, (attrs or {}).get("digest")


def stale_import(ds: Dataset, data_dir: Path) -> str | None:
    """Why a store in DATA_DIR of an imported data set is stale, or None: it records the
    digest of the import it was built from, and NAME was imported again since. Stores
    elsewhere (an --output of your own) are left as they are."""
    key = f"{ds.name}.raw"
    if key not in ds.checksums or Path(ds.path).resolve().parent != Path(data_dir).resolve():
        return None
    found = _import_digest(ds.name, data_dir)
    if found is None or found[1] is None or found[1] == ds.checksums[key]:
        return None
    return (f"{ds.path} was built from an earlier import of {ds.name}; {found[0]} was "
            "imported again since")


def source_mismatch(what: str, recorded: dict, ds: Dataset, data_dir: Path) -> PipelineError:
    """The refusal for a checkpoint trained on other source files than the store holds;
    for an import, it names the re-import and the way back."""
    key = f"{ds.name}.raw"
    if key in recorded and key in ds.checksums:
        found = _import_digest(ds.name, data_dir)
        raw = found[0] if found else f"DATA_DIR/raw/{ds.name}.zarr"
        return PipelineError(f"{what} was trained on an earlier import of {ds.name}, not on "
                             f"what {raw} holds now (imported again since); to go on with it, "
                             f"import its data again (`snnpipe import {ds.name} PATH --force`"
                             "), or import the new data under another NAME")
    return PipelineError(f"{ds.path} was built from other source files than {what}; use the "
                         "store it was trained on")


def check_levels(cfg: Config, ds: Dataset, store_option: bool = True) -> None:
    """The config's levels must be the store's; the fix builds a second store beside the
    default one (named as `find_or_build_store` looks for it) instead of replacing it. Long
    lists are abbreviated, and then the fix is to drop --store (the command finds or
    builds the store itself) rather than a command line of 64 numbers."""
    if tuple(cfg.levels) != ds.levels:
        from snnpipe.engine.config import level_list
        from snnpipe.pipeline.datasets.preprocess import levels_store
        lv = ",".join(map(str, cfg.levels))
        other = levels_store(ds.path.parent, ds.name, cfg.levels)
        if other == ds.path:
            other = ds.path.with_name(f"{ds.path.stem}-{len(cfg.levels)}-levels.zarr")
        if not store_option:
            fix = ("this command reads the default store only; use `snnpipe train` with "
                   "--store for other levels")
        elif len(cfg.levels) > 8:
            fix = ("drop --store: train then finds the store with these levels in DATA_DIR, "
                   "or builds it")
        else:
            fix = (f"build a store with them (`snnpipe preprocess --dataset {ds.name} --levels "
                   f"{lv} --output {other}`) and pass --store {other}")
        raise PipelineError(
            f"config levels {level_list(cfg.levels)} differ from the store's "
            f"{level_list(ds.levels)}; {fix}")


def check_validation(validation: int, n_train: int, batch_size: int,
                     option: str = "--validation ", set_batch: str = "--set batch_size={}"
                     ) -> None:
    """A hold-out must leave training at least one whole batch (and the hold-out at least one
    image). A data set with no more images than one batch has no such hold-out at all: the
    refusal then says so and how to set `batch_size` (`set_batch`, formatted with the
    largest batch that fits), instead of an empty range."""
    if validation <= 0:
        return
    if validation >= n_train:
        raise PipelineError(f"{option}{validation}: the data set holds {n_train:,} training "
                            "images; hold out fewer than that")
    if n_train - validation >= batch_size:
        return
    if n_train - batch_size >= 1:
        raise PipelineError(f"{option}{validation}: must be between 1 and {n_train - batch_size:,}"
                            f" (the {n_train:,} training images less one batch of "
                            f"{batch_size:,}, which training needs)")
    fits = n_train - validation
    raise PipelineError(f"{option}{validation}: the data set holds {n_train:,} training images, "
                        f"fewer than one batch (batch_size = {batch_size:,}) plus the images "
                        f"held out, and training needs a whole batch; set batch_size to at "
                        f"most {fits:,} ({set_batch.format(fits)}) to hold out {validation}")


def store_receptors(ds: Dataset) -> int:
    """Receptors per image: the width of the store's pixel arrays."""
    import zarr

    from snnpipe.stores.errors import StoreError
    try:
        return int(zarr.open_group(str(ds.path), mode="r")["train/pixels"].shape[1])
    except Exception:                     # a missing or damaged array: one line, as on load
        raise StoreError(f"data set store {ds.path}: array train/pixels is missing or "
                         f"unreadable; rebuild it with `{ds.hint}`") from None


def store_info(ds: Dataset) -> dict:
    """What the store's images are (shape, colour, class names, how predict prepares one);
    stores written before imports existed get their built-in record."""
    from snnpipe.pipeline.datasets.sources import BUILTIN_INFO
    return dict(ds.attrs.get("data") or BUILTIN_INFO.get(ds.name, {}))


def store_classes(ds: Dataset, split=None) -> int:
    """Columns the data needs: one per class the store names (at least the labels seen in
    `split`, and at least 2)."""
    named = len(store_info(ds).get("class_names", []))
    seen = int(split.labels.max()) + 1 if split is not None and len(split) else 0
    return max(named, seen, 2)


def adapt_config(cfg: Config, ds: Dataset) -> Config:
    """The receptor count and the number of columns come from the data, not the preset (a
    no-op for MNIST: 784 receptors, 10 classes). Only values left at Config's defaults are
    adapted: an explicit `--set receptors=`/`columns=` is kept, so that `check_network_fits`
    refuses it in one line when it does not fit the data."""
    default = Config()
    changes = {}
    receptors = store_receptors(ds)
    if cfg.receptors == default.receptors and cfg.receptors != receptors:
        changes["receptors"] = receptors
    classes = store_classes(ds)
    if cfg.columns == default.columns and cfg.columns != classes:
        changes["columns"] = classes
    return cfg.replace(**changes) if changes else cfg


def check_network_fits(cfg: Config, ds: Dataset, split) -> None:
    """A config whose receptors or columns do not match the data can never succeed:
    refused before a run folder is written."""
    width = split.planes.shape[2]
    if cfg.receptors != width:
        raise PipelineError(f"receptors = {cfg.receptors}, but {ds.path} holds {width}-pixel "
                            f"images; drop the override (receptors must be {width})")
    n = store_classes(ds, split)
    if cfg.columns != n:
        raise PipelineError(f"columns = {cfg.columns}, but {ds.name} has {n} classes (one "
                            f"column per class); drop the override (columns must be {n})")


def find_or_build_store(dataset: str, levels: tuple[int, ...], data_dir: Path,
                        store: Path | None = None) -> tuple[Dataset, str | None]:
    """The store a checkpoint needs (its data set and levels): an explicit --store as it is;
    else DATA_DIR/<dataset>.zarr or DATA_DIR/<dataset>-levels-....zarr if one holds these
    levels, else build the latter (fetching the raw data if needed; `preprocess` also
    rebuilds one that fails its checksums). Returns the store and, when it was built, one
    line saying what was fetched or built."""
    from snnpipe.pipeline.datasets.preprocess import default_store, levels_store, preprocess
    if store is not None:
        return open_store(dataset, data_dir, store), None
    levels = tuple(levels)
    stale = None
    for path in (default_store(data_dir, dataset), levels_store(data_dir, dataset, levels)):
        attrs = read_attrs(path)
        if attrs and attrs.get("dataset") == dataset and tuple(attrs["levels"]) == levels:
            ds = open_dataset(path)
            ds.hint = preprocess_command(dataset, path, levels, data_dir)
            if stale_import(ds, data_dir):      # rebuilt below, from the current import
                stale = stale or path
                continue
            return ds, None
    path = stale or levels_store(data_dir, dataset, levels)
    with waiting():               # another command building this store: wait and use it
        res = preprocess(dataset, data_dir, path, levels)
    note = (f"{'rebuilt' if stale else 'built'} {res.path} ({dataset}, levels "
            f"{','.join(map(str, levels))}) from {res.source}"
            + (f": {dataset} was imported again since it was built" if stale else "")
            if not res.up_to_date else None)
    ds = open_dataset(res.path)
    ds.hint = preprocess_command(dataset, res.path, levels, data_dir)
    return ds, note
