"""Run folders in one place (stores/runfolder.py) and a command line that only parses and
prints: the options a resumed run keeps are declared once per kind and refused as declared;
`--resume latest` finds the newest run of its kind; a refused run leaves no folder; cli.py
raises no error of its own; no function in pipeline/ or stores/ grows past ~100 lines."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest
import typer
from inprocess import error_line

from snnpipe.pipeline.cli import app
from snnpipe.stores import runfolder
from snnpipe.stores.errors import StoreError

ROOT = Path(__file__).resolve().parents[1]


def options_of(command: str) -> set[str]:
    group = typer.main.get_command(app)
    return {o for p in group.commands[command].params for o in p.opts}


@pytest.mark.parametrize("kind", ["train", "reproduce"])
def test_every_option_a_resumed_run_keeps_is_refused_in_the_declared_order(kind, tmp_path):
    kept = runfolder.KEPT_ON_RESUME[kind]
    assert set(kept) <= options_of(kind)
    given = [a for flag in reversed(kept) for a in (flag, "7")]   # any order on the line
    msg = error_line(kind, "--resume", tmp_path / "run", *given)
    assert msg == (f"error: --resume continues with the run's own settings; drop "
                   f"{'/'.join(kept)} (the run fixed them when it began)")
    for flag in kept:                    # each one alone is seen as given
        assert error_line(kind, "--resume", tmp_path / "run", flag, "7").endswith(
            f"drop {flag} (the run fixed them when it began)")


@pytest.mark.parametrize("kind", ["train", "reproduce"])
def test_default_values_and_other_options_are_not_refused_on_resume(kind, tmp_path):
    missing = tmp_path / "nowhere"
    msg = error_line(kind, "--resume", missing, "--preset", "default", "--dataset", "mnist",
                     "--validation", "0", "--wandb-mode", "disabled")
    assert msg == f"error: {missing}: no such run folder"


def _run(folder: Path, kind: str | None, mtime: float) -> Path:
    folder.mkdir(parents=True)
    info = {"options": {"dataset": "mnist"}, **({"kind": kind} if kind else {})}
    (folder / "run.json").write_text(json.dumps(info))
    os.utime(folder, (mtime, mtime))
    return folder


def test_latest_run_is_the_newest_of_its_kind(tmp_path):
    assert runfolder.latest_run(tmp_path, "train") is None
    old_train = _run(tmp_path / "a", None, 1_000)          # before kinds: a train run
    _run(tmp_path / "b", "reproduce", 2_000)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "run.json").write_text("{not json")
    os.utime(tmp_path / "c", (3_000, 3_000))
    assert runfolder.latest_run(tmp_path, "train") == old_train
    assert runfolder.latest_run(tmp_path, "reproduce") == tmp_path / "b"
    newer = _run(tmp_path / "d", "train", 4_000)
    assert runfolder.latest_run(tmp_path, "train") == newer


def test_run_json_is_read_by_kind(tmp_path):
    run = _run(tmp_path / "r", "reproduce", 1_000)
    assert runfolder.read_info(run, "reproduce")["kind"] == "reproduce"
    with pytest.raises(StoreError, match=r"is a reproduce run; continue it with `snnpipe "
                                         r"reproduce --resume"):
        runfolder.read_info(run, "train")
    with pytest.raises(StoreError, match=r"not an snnpipe run folder \(no run.json\)"):
        runfolder.read_info(tmp_path, "train")
    (run / "run.json").write_text("[1]")
    for kind, fix in (("train", "start a new run with another --run-dir"),
                      ("reproduce", "start a new run")):
        with pytest.raises(StoreError) as exc:
            runfolder.read_info(run, kind)
        assert str(exc.value) == f"{run / 'run.json'} is corrupt; {fix}"


def test_a_refused_run_leaves_no_folder_it_created(tmp_path):
    new = tmp_path / "new" / "run"
    with pytest.raises(RuntimeError), runfolder.locked(new):
        assert (new / ".lock").exists()
        raise RuntimeError("refused")
    assert not new.exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    with pytest.raises(RuntimeError), runfolder.locked(kept):
        raise RuntimeError("refused")
    assert kept.is_dir() and not any(kept.iterdir())       # not ours: only the lock went
    begun = tmp_path / "begun"
    with pytest.raises(RuntimeError), runfolder.locked(begun, begun="spec.json"):
        (begun / "spec.json").write_text("{}")
        raise RuntimeError("stopped")
    assert (begun / "spec.json").exists()


def test_the_cli_raises_no_error_of_its_own():
    """cli.py parses and prints: every check is in a stage or a shared helper."""
    tree = ast.parse((ROOT / "pipeline" / "cli.py").read_text())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert "PipelineError" not in names
    raised = [ast.unparse(n.exc) for n in ast.walk(tree) if isinstance(n, ast.Raise) and n.exc]
    assert all(r.startswith("typer.Exit") or r == "Terminated" for r in raised), raised


def test_no_function_in_pipeline_or_stores_is_longer_than_100_lines():
    long = []
    for folder in ("pipeline", "stores"):
        for path in sorted((ROOT / folder).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    lines = node.end_lineno - node.lineno + 1
                    if lines > 100:
                        long.append(f"{folder}/{path.name}:{node.name} ({lines} lines)")
    assert not long, long
