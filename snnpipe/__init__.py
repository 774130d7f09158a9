"""The public API of snnpipe in one import: `import snnpipe`.

It only re-exports names that live in `snnpipe.engine` (the model) and `snnpipe.stores`
(zarr), so users need not know the internal layout; the logic stays where the layout puts
it. The names load on first use (PEP 562): importing `snnpipe` itself loads nothing, so the
console script (`snnpipe.pipeline.entry`) installs its signal handlers before numba, zarr
or dask are imported.
"""

# public name -> (module, attribute)
_EXPORTS = {
    "PRESETS": ("snnpipe.engine.config", "PRESETS"),
    "Config": ("snnpipe.engine.config", "Config"),
    "Network": ("snnpipe.engine.network", "Network"),
    "SONNClassifier": ("snnpipe.engine.estimator", "SONNClassifier"),
    "load_checkpoint": ("snnpipe.stores.checkpoint", "load"),
    "save_checkpoint": ("snnpipe.stores.checkpoint", "save"),
    "load_estimator": ("snnpipe.stores.checkpoint", "load_estimator"),
    "save_estimator": ("snnpipe.stores.checkpoint", "save_estimator"),
    "open_dataset": ("snnpipe.stores.dataset", "open_dataset"),
    "__version__": ("snnpipe._version", "version"),
}

__all__ = sorted(set(_EXPORTS) - {"__version__"})   # `import *` keeps the caller's own


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'snnpipe' has no attribute {name!r}")
    from importlib import import_module
    module, attribute = _EXPORTS[name]
    value = getattr(import_module(module), attribute)
    globals()[name] = value          # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
