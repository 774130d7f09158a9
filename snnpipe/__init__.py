"""The public API of snnpipe in one import: `import snnpipe`.

It only re-exports names that live in `engine/` (the model) and `stores/` (zarr), so users
need not know the internal layout; the logic stays where the layout puts it.
"""

from importlib.metadata import PackageNotFoundError, version

from engine.config import PRESETS, Config
from engine.estimator import SONNClassifier
from engine.network import Network
from stores.checkpoint import load as load_checkpoint
from stores.checkpoint import load_estimator, save_estimator
from stores.checkpoint import save as save_checkpoint
from stores.dataset import open_dataset

try:  # one source of truth: pyproject.toml's `version`, read from the installed metadata
    __version__ = version("snnpipe")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "PRESETS",
    "Config",
    "Network",
    "SONNClassifier",
    "__version__",
    "load_checkpoint",
    "load_estimator",
    "open_dataset",
    "save_checkpoint",
    "save_estimator",
]
