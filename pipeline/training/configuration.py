"""The effective Config: a preset, then a TOML file, then `--set key=value` overrides.

The same sources may also set `snapshots`, an option of the training run rather than of the
model (the presets `mnist-plus` and `fashion-plus` do; `train --snapshots K` wins over them):
`build_config` hands it back beside the Config."""

from __future__ import annotations

import tomllib
from pathlib import Path

from snnpipe.engine import PRESETS, Config, ConfigError
from snnpipe.engine.config import CHOICES, MAX_COUNT
from snnpipe.pipeline.errors import PipelineError
from snnpipe.stores.checkpoint import MOVED_TO_RUN

# Keys a config file, `--set` or a sweep spec may hold beside the Config fields: options of
# the training run (earlier versions kept them in Config; their checkpoints still load).
RUN_KEYS = MOVED_TO_RUN

# A preset may also set options of the training run, which are not the model's: the seed
# its runs default to (D𝜋's program called srand(1000)), and `snapshots`, the snapshot
# ensemble of the last K epochs that `train` writes at its end (docs/variants.md).
PRESET_SEEDS: dict[str, int] = {"dpi-program": 1000, "dpi-program-98.9": 1000}
PRESET_SNAPSHOTS: dict[str, int] = {"fashion-plus": 10, "mnist-plus": 10, "fashion-scale": 10,
                                     "fashion-scale-7920": 10}
RUN_KEY_HELP = {"snapshots": "the training run's (train --snapshots K), 0 = off: it also "
                             "writes and scores the ensemble of its last K epochs "
                             "(checkpoints/snapshots.zarr); docs/variants.md"}


def config_keys() -> list[str]:
    """Every key a config file, `--set` or a sweep spec accepts."""
    return [*Config.field_names(), *RUN_KEYS]


def parse_value(key: str, text: str, option: str | None = None):
    """`--set` values in TOML syntax (ints, true/false, [192, 128]); `a,b,c` lists of
    integers too (no empty items); the rule switches (quantilizer, generator, growth,
    sampling) as bare words. `option` names the flag in errors (default `--set key=`)."""
    text = text.strip()
    where = option or f"--set {key}="
    if key in CHOICES and text in CHOICES[key]:
        return text
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
        pass
    except ValueError:          # an integer of thousands of digits
        raise PipelineError(f"{where}{text[:20]}…: a number of {len(text)} digits; no "
                            "setting takes anything that large") from None
    if "," in text:
        parts = [p.strip() for p in text.split(",")]
        if all(p.lstrip("-").isdigit() for p in parts):
            return [int(p) for p in parts]
        raise PipelineError(f"{where}{text}: every item must be an integer, e.g. 192,128,64,1")
    if key in CHOICES:
        raise PipelineError(f"{where}{text}: choose one of {', '.join(CHOICES[key])}")
    raise PipelineError(f"{where}{text}: cannot read {text!r}; use an integer, true/false "
                        "or a list like [192, 128, 64, 1]")


def parse_levels(text: str) -> list[int]:
    """`--levels 192,128,64,1` (or [192, 128, 64, 1]): strictly a list of integers."""
    value = parse_value("levels", text, "--levels ")
    value = value if isinstance(value, list) else [value]
    if any(isinstance(v, bool) or not isinstance(v, int) for v in value):
        raise PipelineError(f"--levels {text}: levels are integers, e.g. --levels 192,128,64,1")
    return value


def parse_sets(sets: list[str]) -> dict:
    out = {}
    for item in sets:
        if "=" not in item:
            raise PipelineError(f"--set {item!r}: expected key=value, e.g. --set neurons=79")
        key, value = item.split("=", 1)
        key = key.strip().replace("-", "_")
        if key not in config_keys():
            raise PipelineError(f"--set: unknown config key {key!r}; valid keys: "
                                + ", ".join(config_keys()))
        out[key] = parse_value(key, value)
    return out


def load_toml(path: Path, label: str) -> dict:
    """A UTF-8 TOML file as a dict; a missing, non-UTF-8 or invalid file is one
    PipelineError line starting with `label` (e.g. "--config FILE")."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{label}: no such file")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise PipelineError(f"{label}: not UTF-8 text; save it as UTF-8 TOML") from None
    except tomllib.TOMLDecodeError as exc:
        raise PipelineError(f"{label}: invalid TOML ({exc})") from None
    except RecursionError:
        raise PipelineError(f"{label}: nested too deeply to read; a config is a flat table "
                            "of fields") from None
    except ValueError as exc:       # e.g. an integer beyond Python's digit limit
        raise PipelineError(f"{label}: invalid TOML ({str(exc)[:120]})") from None


def read_toml(path: Path) -> dict:
    """Config fields, flat or under a [config] table; never both, never anything else
    beside the table (silently ignored keys are how a setting gets lost)."""
    data = load_toml(path, f"--config {path}")
    if "config" in data:
        others = sorted(k for k in data if k != "config")
        if others:
            raise PipelineError(f"--config {path}: keys beside the [config] table would be "
                                f"ignored ({', '.join(others)[:200]}); put every field "
                                "inside [config], or write the file flat without it")
    data = data.get("config", data)
    if not isinstance(data, dict):
        raise PipelineError(f"--config {path}: [config] must be a table of Config fields, "
                            f"got {data!r}")
    return data


def split_run_keys(data: dict, where: str) -> tuple[dict, dict]:
    """(Config fields, run options) of a flat table; `snapshots` is checked here, as the
    Config checked it when it was a field."""
    fields = {k: v for k, v in data.items() if k not in RUN_KEYS}
    run = {k: data[k] for k in RUN_KEYS if k in data}
    value = run.get("snapshots", 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise PipelineError(f"{where}: snapshots must be an integer >= 0 (0 = off), got "
                            f"{value!r}")
    return fields, run


def read_config_file(path: Path) -> Config:
    """A TOML file (a run's config.toml) as a Config, without the run's options; any
    problem is one PipelineError."""
    fields, _ = split_run_keys(read_toml(path), str(path))
    try:
        return Config.from_dict(fields)
    except ConfigError as exc:
        raise PipelineError(f"{path}: invalid configuration ({exc})") from None


def run_keys_set(run: dict) -> dict:
    """The run options worth writing into a config file: those not at their default (0),
    so that a run folder's config.toml, fed back with --config, trains the same way."""
    return {k: v for k, v in run.items() if v}


def read_run_keys(path: Path) -> dict:
    """The run options a TOML file holds (a run's config.toml from before they moved)."""
    return split_run_keys(read_toml(path), str(path))[1]


def build_config(preset: str = "default", config_file: Path | None = None,
                 sets: list[str] | None = None) -> tuple[Config, dict]:
    """The Config, and the run options (`snapshots`) the same sources set: the preset's,
    then the file's, then `--set`'s."""
    if preset not in PRESETS:
        raise PipelineError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    data = {**Config.preset(preset).to_dict(), "snapshots": PRESET_SNAPSHOTS.get(preset, 0)}
    if config_file is not None:
        data.update(read_toml(config_file))
    data.update(parse_sets(sets or []))
    fields, run = split_run_keys(data, "invalid configuration")
    try:
        return Config.from_dict(fields), run
    except ConfigError as exc:
        raise PipelineError(f"invalid configuration: {exc}") from None


MAX_SEED = 2**32 - 1      # what every generator takes (glibc's srand: an unsigned int)


def preset_seed(preset: str, seed: int | None) -> int:
    """The run's seed: as given, else the preset's (dpi-program: D𝜋's srand(1000)), else 0."""
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise PipelineError(f"--seed {seed}: must be in 0..{MAX_SEED}")
    return seed if seed is not None else PRESET_SEEDS.get(preset, 0)


# What a preset costs, as measured (`snnpipe config show` prints it): the network's size,
# what it reached and in how many samples and minutes, and the peak memory of a `train`
# run (about 0.6 GB with 4 planes and 0.75-0.8 GB with 8, mostly the data set in memory;
# measured with /usr/bin/time on the 2-core AMD EPYC, AVX2, of 2026-12-02). Times name the
# machine and the day they were measured on; docs/results.md, docs/variants.md and
# docs/scaling.md give the commands.
PRESET_COSTS: dict[str, str] = {
    "default": "792 neurons per column, 4 planes: 98.65 % test at 48.75 M samples in 14.8 "
               "min on 2 threads (2-core AMD EPYC, AVX2, 2026-11-26); memory about 0.6 GB",
    "dpi-98.9": "7,920 neurons per column, 4 planes: a 98.80 % test level from 10 M samples; "
                "about 6 k samples/s on 1 thread (docs/scaling.md, 2026-12-02) and 10 k on "
                "2 (make bench, 2026-11-26), so 17-30 min per 10 M samples; memory about "
                "0.6-0.75 GB",
    "dpi-program": "792 neurons per column, 4 planes, D𝜋's program's rules: 98.66 % once at "
                   "43.3 M samples, plateau 98.57 % (docs/results.md); memory about 0.6 GB",
    "dpi-program-98.9": "7,920 neurons per column, D𝜋's program's rules: 98.73 % first at "
                        "10.1 M samples, level 98.82 % over 50-100 M (docs/results.md); "
                        "memory about 0.6-0.75 GB",
    "fashion": "792 neurons per column, 8 planes: 84.07 ± 0.07 % test (3 seeds) at 3 M "
               "samples, about 14 min of one worker (docs/variants.md); memory about 0.8 GB",
    "fashion-plus": "792 neurons trained, 8 planes, the last 10 epochs vote (7,920): "
                    "84.84 ± 0.80 % test (3 seeds) at 3 M samples, about 14 min of one "
                    "worker (docs/variants.md); memory about 0.8 GB",
    "mnist-plus": "792 neurons trained, 8 planes, the last 10 epochs vote (7,920): "
                  "98.49 ± 0.09 % test (3 seeds) at 10 M samples, about 20 min of one "
                  "worker (docs/variants.md); memory about 0.75 GB",
    "mnist-scale": "7,920 neurons per column, 4 planes (the scaling study's winner): "
                   "98.73 ± 0.05 % test (3 seeds) at 30 M samples, about 68 min per seed "
                   "on one thread, two seeds side by side (2-core AMD EPYC, AVX2, "
                   "2026-12-03; docs/scaling.md); memory about 0.5 GB per worker",
    "fashion-scale-7920": "7,920 neurons trained, 4 planes, the last 10 epochs vote (79,200) "
                          "(the scaling study's winner): 88.42 ± 0.25 % test (3 seeds) at "
                          "30 M samples (--epochs 600 --validation 10000), about 2.6 h per "
                          "seed on one thread, two seeds side by side, or 80 min alone on "
                          "two (2-core AMD EPYC, AVX2, 2026-12-05; docs/scaling.md); memory "
                          "about 1.1 GB per worker",
    "fashion-scale": "792 neurons trained, 8 planes, the last 10 epochs vote (7,920): "
                     "87.74 ± 0.25 % test (3 seeds) at 30 M samples (--epochs 600 "
                     "--validation 10000), about 57 min of one thread, 68 min of "
                     "training beside other runs (2-core AMD EPYC, AVX2, 2026-12-03; "
                     "docs/scaling.md); memory about 0.75 GB per worker",
}
