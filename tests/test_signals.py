"""Ctrl-C and SIGTERM at any instant: the console script enters through `snnpipe.pipeline.entry`,
which installs its handlers before it imports anything (exit 130 `interrupted`, 143
`terminated`, no traceback); once the command line is loaded, SIGTERM stops a command like
Ctrl-C, cleaning up what it was writing (tested at every write point of the write-once
commands in tests/test_crash.py). Real processes: the signal and the exit code of the
process are the point; signals are sent at known points (stores/faults.py)."""

import importlib
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def snnpipe(module: str, *args, env=None) -> subprocess.CompletedProcess:
    e = {**os.environ, "WANDB_MODE": "disabled", **(env or {})}
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=ROOT, env=e,
                          capture_output=True, text=True, timeout=300)


def test_the_console_script_enters_through_the_entry_module():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["snnpipe"] == "snnpipe.pipeline.entry:main"
    module, name = scripts["snnpipe"].split(":")
    assert callable(getattr(importlib.import_module(module), name))


def test_the_entry_installs_its_handlers_before_it_imports_anything():
    """What the console script does first (`from snnpipe.pipeline.entry import main`), in a
    process named `snnpipe`: both handlers are in place, and none of the modules that take
    time to import (the `signal` module's enums included) has been imported."""
    probe = ("import sys; sys.argv[0] = '/venv/bin/snnpipe'; before = set(sys.modules); "
             "import snnpipe.pipeline.entry as e, _signal, json; "
             "print(json.dumps({'int': e.is_early(_signal.getsignal(_signal.SIGINT)), "
             "'term': e.is_early(_signal.getsignal(_signal.SIGTERM)), "
             "'new': sorted(set(sys.modules) - before - {'json', 'json.decoder', "
             "'json.scanner', 'json.encoder', '_json'})}))")
    res = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    assert got["int"] and got["term"]
    assert set(got["new"]) <= {"snnpipe", "snnpipe.pipeline", "snnpipe.pipeline.entry"}, got["new"]


@pytest.mark.parametrize("module", ["snnpipe.pipeline.entry", "snnpipe.pipeline.cli"])
@pytest.mark.parametrize("sig, code, word", [("SIGINT", 130, "interrupted"),
                                             ("SIGTERM", 143, "terminated")])
def test_a_signal_while_the_command_line_loads_exits_cleanly(module, sig, code, word):
    res = snnpipe(module, "config", "show", env={"SNNPIPE_FAULT": f"{sig}@import:1"})
    assert res.returncode == code and res.stderr.strip() == word, (res.returncode, res.stderr)
    assert res.stdout == ""


def test_without_a_signal_the_entry_runs_the_command():
    res = snnpipe("snnpipe.pipeline.entry", "config", "show", "--set", "neurons=79")
    assert res.returncode == 0 and "neurons = 79" in res.stdout, res.stderr
