"""Compile the engine's kernels into numba's cache once, before the test workers start.

On a fresh clone the cache is empty, and every process that first runs a kernel compiles it
(about 45 s of one core for the training kernel alone): both workers' fork servers and both
workers themselves would do it at the same time, over and over. tests/conftest.py runs this
script instead, once per part, the parts side by side on the two cores:

- `stages`: tests/forkserver_warm.py, every stage and every engine variant, as the fork
  server runs them (the training kernel and everything it calls);
- `forward`: both forward passes on int32 and on int64 weights (thresholds beyond int32,
  as the property tests draw them), which no stage uses. (A read-only network, as
  scikit-learn's checks memory-map it, is copied by the engine, so it needs no kernel of
  its own.)

A part that finished marks the cache folder, so the next run skips it in a fraction of a
second; the folder is one per version of the engine's code (engine/_cache.py), unless
NUMBA_CACHE_DIR is set. A stage that fails here is not reported (the warm-up only saves
time): its test reports it.
"""

import os
import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _forward() -> None:
    from strategies import random_pixels, random_state

    from snnpipe.engine import Config, Network
    from snnpipe.engine.encoding import planes_from_pixels
    for threshold in (1_000, 2**40):        # int32 weights, and int64 beyond int32's range
        cfg = Config(columns=2, neurons=3, slots=4, receptors=9, levels=(192, 128, 64, 1),
                     spike_threshold=threshold, learn_low=0, learn_high=threshold + 1,
                     prune_below=0, new_weight_divisor=1, reinforce_positive=0,
                     reinforce_negative=0, decay_amount=0)
        receptors, weights = random_state(cfg, 0)
        net = Network.from_arrays(cfg, receptors, weights)
        planes = planes_from_pixels(random_pixels(cfg, 20, 0), cfg.levels)
        for method in ("blocked", "events"):
            net.spike_counts(planes, method=method)


def _stages() -> None:
    runpy.run_path(str(HERE / "forkserver_warm.py"), run_name="forkserver_warm")


PARTS = {"stages": _stages, "forward": _forward}


def main(part: str) -> int:
    import snnpipe.engine  # noqa: F401  (sets NUMBA_CACHE_DIR, one folder per engine version)
    mark = Path(os.environ["NUMBA_CACHE_DIR"]) / f".warm-{part}"
    if not mark.is_file():
        sys.path.insert(0, str(HERE))
        PARTS[part]()
        mark.parent.mkdir(parents=True, exist_ok=True)
        mark.touch()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
