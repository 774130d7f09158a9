"""Every hyperparameter of the SONN in one frozen, validated dataclass.

The fields, their defaults and the rules that read them: docs/model.md#configuration-and-defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field and the fix."""


@dataclass(frozen=True)
class Config:
    """D𝜋's 98.65 % configuration by default; `Config.preset("dpi-98.9")` for the large one."""

    columns: int = 10
    neurons: int = 792
    slots: int = 10
    receptors: int = 784
    levels: tuple[int, ...] = (192, 128, 64, 1)
    spike_threshold: int = 1_000_000
    learn_low: int = 300_000
    learn_high: int = 1_200_000
    prune_below: int = 97_000
    new_weight_divisor: int = 10
    reinforce_positive: int = 500
    reinforce_negative: int = -500
    grow_count: int = 10
    decay_amount: int = 20
    decay_every: int = 100
    batch_size: int = 200
    positive_up: int = 19
    positive_down: int = 1
    positive_denominator: int = 100
    negative_up: int = 150
    negative_down: int = 1
    negative_denominator: int = 900
    prime_forced_positive: bool = True
    prime_negative_cap: bool = True
    # How faithfully to follow D𝜋's own program (docs/model.md, rules F1-F6).
    # The defaults are the exact rules (E1-E12); preset `dpi-program` switches all four.
    quantilizer: str = "exact"          # exact | binary32 (his float quantilizers)
    generator: str = "pcg64"            # pcg64 | glibc (his srand/rand)
    growth: str = "uniform"             # uniform | dpi-walk (his free-slot walk)
    sampling: str = "permutation"       # permutation | independent | redraw (his batches)
    # Variants beyond D𝜋 (docs/variants.md). Each is off by default: D𝜋's rules, bit for bit.
    anneal_steps: int = 0               # > 0: reinforcement and decay shrink (engine/schedule)
    anneal_start: int = 0               # ...once this many positive steps have passed

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", _int_levels(self.levels))
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.integer | np.bool_):       # np.int64(79) is 79
                value = value.item()
                object.__setattr__(self, f.name, value)
            if f.type in ("int", int) and (isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigError(f"{f.name} must be an integer, got {value!r}")
            if f.type in ("bool", bool) and not isinstance(value, bool):
                raise ConfigError(f"{f.name} must be true or false, got {value!r}")
            if f.name in CHOICES and value not in CHOICES[f.name]:
                raise ConfigError(f"{f.name} must be one of {', '.join(CHOICES[f.name])}, "
                                  f"got {value!r}")
        self._validate()

    def _validate(self) -> None:
        for name in ("columns", "neurons", "slots", "receptors", "spike_threshold",
                     "new_weight_divisor", "decay_every", "batch_size",
                     "positive_up", "positive_down", "positive_denominator",
                     "negative_up", "negative_down", "negative_denominator"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("learn_low", "prune_below", "grow_count", "decay_amount", "anneal_steps",
                     "anneal_start"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.columns < 2:
            raise ConfigError(f"columns must be >= 2 (one per class), got {self.columns}")
        if not self.levels:
            raise ConfigError("levels must hold at least one level, e.g. [192, 128, 64, 1]")
        bad = [v for v in self.levels if not 1 <= v <= 255]
        if bad:
            raise ConfigError(f"levels must lie in 1..255, got {bad[0]} in "
                              f"{level_list(self.levels)}")
        for a, b in zip(self.levels, self.levels[1:], strict=False):
            if a <= b:
                raise ConfigError(f"levels must be strictly descending, got {a} before {b} "
                                  f"in {level_list(self.levels)}")
        if not self.learn_low < self.learn_high:
            raise ConfigError(
                f"learn_low ({self.learn_low}) must be < learn_high ({self.learn_high})")
        if self.reinforce_positive < 0:
            raise ConfigError(f"reinforce_positive must be >= 0, got {self.reinforce_positive}")
        if self.reinforce_negative > 0:
            raise ConfigError(f"reinforce_negative must be <= 0, got {self.reinforce_negative}")
        if self.initial_weight < self.prune_below:
            raise ConfigError(
                f"spike_threshold / new_weight_divisor ({self.initial_weight}) must be >= "
                f"prune_below ({self.prune_below}), or new connections are born pruned")
        if self.generator == "glibc" and self.sampling != "redraw":
            raise ConfigError(f"generator = glibc draws batches only as D𝜋 did: set sampling "
                              f"= redraw (got {self.sampling!r})")
        if self.receptors > 2**31 - 1 or self.columns * self.neurons * self.slots > 2**31 - 1:
            raise ConfigError("network too large: columns * neurons * slots must fit in int32")
        self._validate_limits()

    def _validate_limits(self) -> None:
        """Ranges the engine's integer arithmetic honours (see LIMITS); outside them a
        kernel would wrap around silently, so they are refused before anything runs."""
        if len(self.levels) > MAX_LEVELS:
            raise ConfigError(f"levels: {len(self.levels)} intensity levels; at most "
                              f"{MAX_LEVELS} (a receptor's cycles are packed in 64 bits)")
        for name in COUNTS:
            if getattr(self, name) > MAX_COUNT:
                raise ConfigError(f"{name} must be <= {MAX_COUNT:,}, got {getattr(self, name)}")
        if self.spike_threshold > MAX_THRESHOLD // (2 * self.slots):
            raise ConfigError(
                f"spike_threshold ({self.spike_threshold}) is too large for {self.slots} "
                f"slots: a potential reaches 2 * slots * spike_threshold, which must stay "
                f"below 2**62; use spike_threshold <= {MAX_THRESHOLD // (2 * self.slots):,}")
        for name in ("learn_low", "learn_high", "prune_below"):
            if getattr(self, name) > MAX_THRESHOLD:
                raise ConfigError(f"{name} must be <= 2**62, got {getattr(self, name)}")
        for name in ("reinforce_positive", "reinforce_negative", "decay_amount"):
            if abs(getattr(self, name)) > self.spike_threshold:
                raise ConfigError(f"{name} ({getattr(self, name)}) must not exceed "
                                  f"spike_threshold ({self.spike_threshold}) in size: no "
                                  "weight may reach the threshold")
        if self.anneal_steps * self.spike_threshold > MAX_THRESHOLD:
            raise ConfigError(f"anneal_steps ({self.anneal_steps}) * spike_threshold must stay "
                              f"below 2**62; use anneal_steps <= "
                              f"{MAX_THRESHOLD // self.spike_threshold:,}")
        scale = self.neurons * len(self.levels) * max(self.positive_denominator,
                                                      self.negative_denominator)
        if scale > MAX_THRESHOLD:
            raise ConfigError(f"neurons * levels * quantilizer denominator is {scale:,}: a "
                              "column's spike count in quantilizer units must stay below "
                              "2**62; use smaller denominators")
        if self.initial_weight < 1:
            raise ConfigError(
                f"spike_threshold / new_weight_divisor is {self.initial_weight}: new "
                "connections would be born free; use new_weight_divisor <= spike_threshold")

    @property
    def initial_weight(self) -> int:
        """w0: the magnitude of a newly grown connection."""
        return self.spike_threshold // self.new_weight_divisor

    @property
    def weight_dtype(self) -> str:
        """Smallest integer type that holds every weight and every neuron's accumulator.

        |w| < spike_threshold and t <= 2 * slots * max|w|, so int32 is exact only while
        2 * slots * spike_threshold < 2**31; otherwise int64.
        """
        return "int32" if 2 * self.slots * self.spike_threshold < 2**31 else "int64"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (lists, ints, bools) for TOML, checkpoints and wandb."""
        out = {}
        for f in fields(self):
            if f.name.startswith("_"):
                continue
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls) if not f.name.startswith("_")]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        """Build from a plain dict; unknown keys are rejected with the list of valid ones."""
        unknown = sorted(set(data) - set(cls.field_names()))
        if unknown:
            raise ConfigError(
                f"unknown config key(s) {', '.join(unknown)}; valid keys: "
                + ", ".join(cls.field_names()))
        return cls(**data)

    def replace(self, **changes: Any) -> Config:
        return Config.from_dict({**self.to_dict(), **changes})

    @classmethod
    def preset(cls, name: str) -> Config:
        """Named configurations: `default` (98.65 %), `dpi-98.9` (the large variant), and
        `dpi-program` / `dpi-program-98.9`: the same with all of D𝜋's program rules."""
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
        return cls.from_dict(PRESETS[name])


# The engine's limits (engine/forward.py, engine/learning.py). A receptor's on/off state
# over the cycles is packed in a uint64 and the event kernel keeps a cycle index in an
# int8, so at most 64 levels; a neuron's potential stays below 2 * slots * spike_threshold,
# held in int64 with a factor 2 of headroom, so 2 * slots * spike_threshold <= 2**62;
# counts (sizes, steps, quantilizer units) stay int32.
MAX_LEVELS = 64


def level_list(levels: Any, head: int = 4, tail: int = 3) -> str:
    """A list of levels for a message: whole when short, `[255, 254, 253, 252, …, 194, 193,
    192] (64 levels)` when long, so a refusal never echoes 64 numbers."""
    values = list(levels)
    if len(values) <= head + tail + 1:
        return str(values)
    shown = [*map(str, values[:head]), "…", *map(str, values[-tail:])]
    return f"[{', '.join(shown)}] ({len(values)} levels)"
MAX_THRESHOLD = 2**62
MAX_COUNT = 2**31 - 1
COUNTS = ("columns", "neurons", "slots", "receptors", "new_weight_divisor", "grow_count",
          "anneal_steps", "anneal_start",
          "decay_every", "batch_size", "positive_up", "positive_down", "positive_denominator",
          "negative_up", "negative_down", "negative_denominator")


def _int_levels(levels: Any) -> tuple[int, ...]:
    """Levels are a list of integers, strictly: 1.5, true or "x" are refused, not truncated."""
    if not isinstance(levels, list | tuple) or any(
            isinstance(v, bool) or not isinstance(v, int | np.integer) for v in levels):
        raise ConfigError(f"levels must be a list of integers like [192, 128, 64, 1], "
                          f"got {levels!r}")
    return tuple(int(v) for v in levels)


CHOICES: dict[str, tuple[str, ...]] = {
    "quantilizer": ("exact", "binary32"),
    "generator": ("pcg64", "glibc"),
    "growth": ("uniform", "dpi-walk"),
    "sampling": ("permutation", "independent", "redraw"),
}

FIELD_HELP: dict[str, str] = {
    "quantilizer": "exact (spec: integer units) | binary32 (D𝜋's program: float32 q)",
    "generator": "pcg64 (numpy) | glibc (D𝜋's program: srand(seed), rand())",
    "growth": "uniform (spec) | dpi-walk (D𝜋's program: his free-slot walk)",
    "sampling": "permutation (per epoch) | independent | redraw (D𝜋's: rnd(n), redraw repeats)",
    "anneal_steps": "variant, 0 = off (D𝜋): > 0 shrinks reinforcement and decay as "
                    "amount * a / (a + positive steps); docs/variants.md",
    "anneal_start": "variant: positive steps before the schedule starts (no effect while "
                    "anneal_steps = 0)",
}

_LARGE = {"neurons": 7920, "reinforce_positive": 1000, "reinforce_negative": -1000,
          "grow_count": 20, "decay_amount": 10}
_PROGRAM = {"quantilizer": "binary32", "generator": "glibc", "growth": "dpi-walk",
            "sampling": "redraw"}

# Fashion-MNIST, found by docs/sweeps/fashion-search.toml + fashion-refine.toml (selected on
# validation): 8 intensity planes, 20 slots, fast growth and decay. README, "Fashion-MNIST".
_EIGHT_PLANES = (224, 192, 160, 128, 96, 64, 32, 1)
_FASHION = {"levels": _EIGHT_PLANES, "slots": 20, "grow_count": 20,
            "decay_amount": 31, "reinforce_positive": 699}

# Beyond D𝜋 (docs/variants.md): the winners of the search, selected on validation
# (docs/sweeps/plus-*.toml): on MNIST, 8 intensity planes instead of D𝜋's 4. Their training
# runs also vote with a snapshot ensemble, an option of the run, not of the model
# (pipeline/training/configuration.py, PRESET_SNAPSHOTS).
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "dpi-98.9": _LARGE,
    "dpi-program": _PROGRAM,
    "dpi-program-98.9": {**_LARGE, **_PROGRAM},
    "fashion": _FASHION,
    "fashion-plus": _FASHION,
    "mnist-plus": {"levels": _EIGHT_PLANES},
    # The scaling study's MNIST winner (docs/scaling.md), selected on validation among 792,
    # 2,376 and 7,920 neurons with 4 and 8 planes: D𝜋's large network as it stands.
    "mnist-scale": _LARGE,
    # Its Fashion-MNIST winner, selected the same way among 792 and 7,920 neurons: preset
    # `fashion`'s rules at 7,920 neurons with D𝜋's 4 planes, trained for 30 M samples and
    # voting with its last 10 epochs. `fashion-scale` is the first winner, at 792 neurons.
    "fashion-scale-7920": {**_FASHION, "neurons": 7920, "levels": (192, 128, 64, 1)},
    "fashion-scale": _FASHION,
}

__all__ = ["CHOICES", "Config", "ConfigError", "FIELD_HELP", "PRESETS"]
