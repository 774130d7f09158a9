"""The SONN model of shared/SONN.md: arrays in, arrays out, no I/O."""

from .config import PRESETS, Config, ConfigError
from .network import Network

__all__ = ["Config", "ConfigError", "Network", "PRESETS"]
