"""The SONN model of docs/model.md: arrays in, arrays out, no I/O."""

from ._cache import use_versioned_cache

use_versioned_cache()

from .config import PRESETS, Config, ConfigError  # noqa: E402  (after the cache is set)
from .network import Network  # noqa: E402

__all__ = ["Config", "ConfigError", "Network", "PRESETS"]
