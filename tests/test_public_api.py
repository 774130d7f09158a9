"""A newcomer's way in: `import snnpipe` re-exports the real objects and holds no logic;
`snnpipe --version` and `snnpipe` alone answer, with exit code 0."""

import ast
import os
import re
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import forkrun

import snnpipe

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = {"SONNClassifier", "Config", "Network", "load_checkpoint", "save_checkpoint",
          "load_estimator", "save_estimator", "open_dataset", "PRESETS", "__version__"}


def run(*args):
    env = {**os.environ, "WANDB_MODE": "disabled"}
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120, env=env,
                          cwd=ROOT)


def test_import_snnpipe_prints_the_version_of_pyproject():
    res = run(sys.executable, "-c", "import snnpipe; print(snnpipe.__version__)")
    assert res.returncode == 0, res.stderr
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert res.stdout.strip() == snnpipe.__version__ == version("snnpipe") == pyproject


def test_the_public_names_are_the_real_objects():
    from snnpipe.engine.config import PRESETS, Config
    from snnpipe.engine.estimator import SONNClassifier
    from snnpipe.engine.network import Network
    from snnpipe.stores import checkpoint
    from snnpipe.stores.dataset import open_dataset
    assert set(snnpipe.__all__) == PUBLIC - {"__version__"}
    assert snnpipe.SONNClassifier is SONNClassifier
    assert snnpipe.Config is Config and snnpipe.PRESETS is PRESETS
    assert snnpipe.Network is Network
    assert snnpipe.load_checkpoint is checkpoint.load
    assert snnpipe.save_checkpoint is checkpoint.save
    assert snnpipe.load_estimator is checkpoint.load_estimator
    assert snnpipe.save_estimator is checkpoint.save_estimator
    assert snnpipe.open_dataset is open_dataset


def test_snnpipe_holds_no_logic():
    """Only a docstring, the table of exports, `__all__`, and PEP 562's two module hooks
    (`__getattr__` looks a name up in the table; `__dir__` lists it): no other function, no
    class, no import at the top."""
    tree = ast.parse(Path(snnpipe.__file__).read_text())
    for node in tree.body:
        if isinstance(node, ast.Expr):
            assert isinstance(node.value, ast.Constant), ast.dump(node)   # the docstring
        elif isinstance(node, ast.FunctionDef):
            assert node.name in {"__getattr__", "__dir__"}, node.name
        else:
            assert isinstance(node, ast.Assign), f"logic in snnpipe/__init__.py: {ast.dump(node)}"
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef | ast.Lambda)]


def test_import_snnpipe_loads_nothing_until_a_name_is_used():
    """The console script lives under `snnpipe`, so `import snnpipe` must stay instant: its
    signal handlers go in before numpy, numba, zarr or dask are loaded."""
    code = ("import sys, snnpipe; heavy = ('numpy', 'numba', 'zarr', 'dask', 'snnpipe.engine');"
            "print(sorted(m for m in sys.modules if m.startswith(heavy)));"
            "snnpipe.Config; print('snnpipe.engine' in sys.modules)")
    res = run(sys.executable, "-c", code)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split("\n")[:2] == ["[]", "True"], res.stdout
    assert PUBLIC <= set(dir(snnpipe)) and "__path__" in dir(snnpipe)


def test_version_flag():
    res = run(sys.executable, "-m", "snnpipe.pipeline.cli", "--version")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"snnpipe {version('snnpipe')}"
    assert re.fullmatch(r"snnpipe \d+\.\d+\.\d+\S*", res.stdout.strip())


def test_no_arguments_prints_the_first_commands_in_order():
    res = forkrun.snnpipe()
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    order = [next(i for i, ln in enumerate(lines) if ln.strip().startswith(f"snnpipe {cmd}"))
             for cmd in ("fetch", "preprocess", "train", "eval")]
    assert order == sorted(order)
    assert "--help" in res.stdout and "docs/cli.md" in res.stdout
    assert (ROOT / "docs" / "cli.md").exists()
