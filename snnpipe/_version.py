"""The installed version: one source of truth, pyproject.toml's `version`."""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _installed

try:
    version = _installed("snnpipe")
except PackageNotFoundError:  # a source tree that was never installed
    version = "0+unknown"
