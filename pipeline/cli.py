"""`snnpipe`: the command line. It only parses options and prints; stages do the work."""

from __future__ import annotations

import os
import sys

from snnpipe.pipeline import entry

# `python -m snnpipe.pipeline.cli`: the start-up handlers go in before the imports below
# (numba, zarr, dask take a while), so Ctrl-C or SIGTERM from the first instant exits 130
# or 143 without a traceback. `main` hands over after them. Only in the `snnpipe` process
# itself, never in one that imports this module (tests); the console script installed them
# already (snnpipe.pipeline.entry).
if (__name__ == "__main__" or os.path.basename(sys.argv[0]) == "snnpipe") and entry.install():
    from snnpipe.stores import faults as _faults  # tests signal at this known point
    _faults.hit("import", 1)

import contextlib  # noqa: E402
import errno  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import signal  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Annotated  # noqa: E402

import typer  # noqa: E402
from rich.table import Table  # noqa: E402
from typer.core import TyperGroup  # noqa: E402

try:                                   # typer >= 0.24 carries its own copy of click
    from typer._click import exceptions as click_errors  # noqa: E402
except ImportError:                    # pragma: no cover
    from click import exceptions as click_errors  # noqa: E402

from snnpipe.engine import PRESETS  # noqa: E402
from snnpipe.pipeline.errors import Terminated, user_error_types  # noqa: E402
from snnpipe.pipeline.training.report import RichReporter, err, one_line, out, print_error  # noqa: E402
from snnpipe.pipeline.training.reproduce import ReproduceOptions  # noqa: E402


def _terminate(signum, frame) -> None:
    raise Terminated


@contextlib.contextmanager
def terminate_raises():
    """SIGTERM stops a command the way Ctrl-C does: an exception, so every write in progress
    cleans up after itself (temporary copies, locks) and the exit code is 143. `train`,
    `reproduce` and `sweep` put their own handler in place while they run (finish the batch,
    cancel the trials). Only in the main thread, and restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old if old is not None else signal.SIG_DFL)


def stopped(exc: BaseException | None) -> None:
    """Leave after a signal: `interrupted`, 130 for Ctrl-C; `terminated`, 143 for SIGTERM."""
    if isinstance(exc, Terminated):
        err.print("terminated")
        sys.exit(143)
    err.print("interrupted")
    sys.exit(130)


class OneLineErrors(TyperGroup):
    """Option-parsing errors in the same style as every other: one `error:` line naming
    the problem and where to look, exit code 2; Ctrl-C exits 130 and SIGTERM 143 whatever
    runs."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra):
        if entry.is_early(signal.getsignal(signal.SIGINT)):
            signal.signal(signal.SIGINT, signal.default_int_handler)
        with terminate_raises():
            return self._main(args, prog_name, complete_var, standalone_mode, **extra)

    def _main(self, args, prog_name, complete_var, standalone_mode, **extra):
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click_errors.NoArgsIsHelpError as exc:
            if exc.ctx is not None:
                sys.stderr.write(exc.ctx.get_help() + "\n")
            sys.exit(2)
        except click_errors.UsageError as exc:
            path = exc.ctx.command_path.split()[1:] if exc.ctx else []
            where = " ".join(["snnpipe", *path])
            print_error(f"{one_line(exc.format_message())} (see `{where} --help`)")
            sys.exit(2)
        except click_errors.ClickException as exc:
            print_error(exc.format_message())
            sys.exit(exc.exit_code or 1)
        except (getattr(click_errors, "Abort", KeyboardInterrupt), KeyboardInterrupt) as exc:
            stopped(exc if isinstance(exc, KeyboardInterrupt) else exc.__cause__)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(help="Reproduce and explore D𝜋's Self-Organised Neural Network on MNIST.",
                  add_completion=False, pretty_exceptions_enable=False, cls=OneLineErrors)
config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")

START_HERE = """snnpipe: D𝜋's Self-Organised Neural Network on MNIST. Start with, in order:
  snnpipe fetch                           get MNIST and verify its checksums
  snnpipe preprocess                      build the store data/mnist.zarr
  snnpipe train --epochs 30               train; prints the run folder
  snnpipe eval docs/reproduce/best.zarr   evaluate a checkpoint (or a run folder)
More: snnpipe --help, snnpipe COMMAND --help, README.md and docs/cli.md."""


@app.callback(invoke_without_command=True)
def root(ctx: typer.Context, show_version: Annotated[bool, typer.Option(
        "--version", help="Print the version and exit.", is_eager=True)] = False) -> None:
    """Reproduce and explore D𝜋's Self-Organised Neural Network on MNIST."""
    if show_version:
        from snnpipe._version import version
        out.print(f"snnpipe {version}", markup=False, highlight=False)
        raise typer.Exit(0)
    if ctx.invoked_subcommand is None:  # a newcomer's first call: the way in, not an error
        out.print(START_HERE, markup=False, highlight=False)


DataDir = Annotated[Path, typer.Option(help="Folder for raw downloads and stores.")]
DatasetOpt = Annotated[str, typer.Option(
    help="mnist, fashion-mnist, digits, or a NAME given to `snnpipe import`.")]
PresetOpt = Annotated[str, typer.Option(help=f"Named configuration: {', '.join(PRESETS)}.")]
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", help="Override a Config field, e.g. --set neurons=79 (repeatable).")]
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", help="TOML file of Config fields (flat, or under a \\[config] table).")]
SeedOpt = Annotated[int | None, typer.Option(
    help="Seed of the run's one random generator (default: the preset's, else 0; "
         "dpi-program: 1000).")]
SamplingOpt = Annotated[str | None, typer.Option(
    help="permutation (fresh permutation per epoch), independent (each batch drawn on its "
         "own) or redraw (D𝜋's rnd(n) with redraw on repeats); default: the config's.")]


_OS_FIXES = {
    errno.ENOSPC: "free some space", errno.EDQUOT: "free some space (disk quota)",
    errno.EACCES: "fix its permissions or choose a writable path",
    errno.EPERM: "fix its permissions or choose a writable path",
    errno.EROFS: "the file system is read-only; choose a writable path",
    errno.ENOTDIR: "a part of the path is a file, not a folder; choose another path",
    errno.EISDIR: "it is a folder where a file was expected; choose another path",
    errno.EEXIST: "something is in the way; move it or choose another path",
    errno.ENOENT: "no such file or folder; check the path",
    errno.ENAMETOOLONG: "the name is too long; choose a shorter path",
    errno.EMFILE: "too many open files; raise the limit (ulimit -n)",
}


def os_error_line(exc: OSError) -> str:
    """One line for a file-system error: the path, what happened, and a fix that fits."""
    where = exc.filename or exc.filename2 or ""
    what = exc.strerror or type(exc).__name__
    fix = _OS_FIXES.get(exc.errno or -1, "fix the cause")
    return (f"{where + ': ' if where else ''}{what}; {fix}, then run the command again "
            "(nothing incomplete was kept)")


def user_errors(fn):
    """Turn expected failures into one 'error:' line on stderr and exit code 1: our own
    errors, and the file system's (read-only, disk full, not a directory), naming the path.
    Ctrl-C before a stage has its own handler in place exits 130 with nothing written."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except user_error_types() as exc:
            print_error(str(exc))
            raise typer.Exit(1) from None
        except OSError as exc:
            print_error(os_error_line(exc))
            raise typer.Exit(1) from None
        except KeyboardInterrupt as exc:
            terminated = isinstance(exc, Terminated)
            err.print("terminated" if terminated else "interrupted")
            raise typer.Exit(143 if terminated else 130) from None
    return wrapper


# ------------------------------------------------------------------- data stages
@app.command()
@user_errors
def fetch(dataset: DatasetOpt = "mnist", data_dir: DataDir = Path("data"),
          source: Annotated[Path | None, typer.Option(
              help="Folder holding the four IDX files (raw or .gz).")] = None) -> None:
    """Get the raw files (IDX; digits from scikit-learn), verify them, cache in DATA_DIR/raw/."""
    from snnpipe.pipeline.datasets.sources import fetch_line
    out.print(fetch_line(dataset, data_dir, source))


@app.command("import")
@user_errors
def import_(
    name: Annotated[str, typer.Argument(help="Name for the data set (then --dataset NAME).")],
    path: Annotated[Path, typer.Argument(help="CIFAR-10 binary folder or .tar.gz, a folder "
                                              "of class folders, or an .npz file.")],
    format_: Annotated[str, typer.Option("--format", help="auto, cifar10, folder or npz.")
                       ] = "auto",
    color: Annotated[str, typer.Option(
        help="Colour images: gray (luma), average (channel mean) or color (3 planes).")
                     ] = "gray",
    test_fraction: Annotated[float | None, typer.Option(
        help="folder without train/ and test/: fraction of each class held out for test "
             "(default 0.2).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of that held-out split (default 0)."
                                             )] = None,
    size: Annotated[str | None, typer.Option(help="folder: resize every image to HxW.")
                    ] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing data set NAME.")] = False,
    data_dir: DataDir = Path("data"),
) -> None:
    """Register your own data set (CIFAR-10 binary, image folders, npz) under DATA_DIR."""
    from snnpipe.pipeline.datasets.importer import import_dataset
    res = import_dataset(name, path, data_dir, format_, color, test_fraction, seed, size, force)
    shape = " x ".join(map(str, res.image_shape))
    official = {True: "; official release (checksum matched)",
                False: "; NOT the official release (checksum differs)",
                "unknown": "; official: unknown (SHA-256 of each file recorded)"}.get(
        res.official, "")
    out.print(f"{'replaced' if res.replaced else 'imported'} {res.name} ({res.format}): "
              f"{res.sizes['train']} train + {res.sizes['test']} test images of {shape} "
              f"({res.receptors} receptors), {len(res.class_names)} classes{official} -> "
              f"{res.path}; next: snnpipe preprocess --dataset {res.name}")


@app.command()
@user_errors
def preprocess(
    dataset: DatasetOpt = "mnist",
    data_dir: DataDir = Path("data"),
    output: Annotated[Path | None, typer.Option(
        help="Store path (default DATA_DIR/<dataset>.zarr).")] = None,
    levels: Annotated[str, typer.Option(
        help="Intensity levels, strictly descending, 1..255.")] = "192,128,64,1",
    force: Annotated[bool, typer.Option(help="Rebuild even if the store is up to date.")] = False,
    source: Annotated[Path | None, typer.Option(
        help="Folder holding the four IDX files (raw or .gz).")] = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Address of an existing dask.distributed scheduler.")] = None,
    workers: Annotated[int | None, typer.Option(
        help="Start a local dask.distributed cluster with N workers.")] = None,
) -> None:
    """Turn every image into its intensity planes with Dask and store them in zarr."""
    from snnpipe.pipeline.datasets.preprocess import preprocess as run
    from snnpipe.pipeline.options import check_workers
    from snnpipe.pipeline.training.configuration import parse_levels
    lv = parse_levels(levels)
    check_workers(workers)
    res = run(dataset, data_dir, output, lv, force, source, scheduler, workers)
    if res.rebuilt_because:
        err.print(res.rebuilt_because, markup=False, soft_wrap=True)
    if res.up_to_date:
        out.print(f"{res.path} is up to date ({dataset}, levels {lv}); --force rebuilds it")
    else:
        out.print(f"wrote {res.path}: {res.sizes['train']} train + {res.sizes['test']} test "
                  f"samples, levels {lv}, in {res.seconds:.2f} s with the {res.scheduler} "
                  f"(data from {res.source})")


# ------------------------------------------------------------------------ config
@config_app.command("show")
@user_errors
def config_show(preset: PresetOpt = "default", config: ConfigOpt = None,
                set_: SetOpt = None) -> None:
    """Print the effective configuration as TOML (D𝜋's program switches explained)."""
    from snnpipe.engine.config import FIELD_HELP
    from snnpipe.pipeline.training.configuration import (
        PRESET_COSTS,
        RUN_KEY_HELP,
        build_config,
        preset_seed,
        run_keys_set,
    )
    from snnpipe.stores.runs import to_toml
    cfg, run = build_config(preset, config, set_)
    out.print(to_toml({**cfg.to_dict(), **run_keys_set(run)}, {**FIELD_HELP, **RUN_KEY_HELP}),
              end="")
    out.print(f"# runs of this preset default to --seed {preset_seed(preset, None)}")
    if config is None and not set_ and preset in PRESET_COSTS:
        out.print(f"# cost of preset {preset}: {PRESET_COSTS[preset]}", soft_wrap=True)


# ------------------------------------------------------------------------- train
def _given(ctx: typer.Context) -> list[str]:
    """The options given a value other than their default, as `snnpipe` spells them."""
    given = []
    for param in ctx.command.params:
        value, default = ctx.params.get(param.name), param.default
        if value not in (None, "", [], ()) if default is None else value != default:
            given.extend(o for o in param.opts if o.startswith("--"))
    return given


@app.command()
@user_errors
def train(
    ctx: typer.Context,
    epochs: Annotated[int, typer.Option(help="Epochs to train (in total, when resuming).")] = 30,
    dataset: DatasetOpt = "mnist",
    config: ConfigOpt = None,
    preset: PresetOpt = "default",
    set_: SetOpt = None,
    seed: SeedOpt = None,
    run_dir: Annotated[Path | None, typer.Option(
        help="Run folder (default runs/<dataset>-<timestamp>).")] = None,
    sampling: SamplingOpt = None,
    limit_train: Annotated[int | None, typer.Option(help="Use the first N train images.")] = None,
    limit_test: Annotated[int | None, typer.Option(help="Use the first N test images.")] = None,
    eval_every: Annotated[int, typer.Option(help="Test-set accuracy every E epochs.")] = 1,
    validation: Annotated[int, typer.Option(
        help="Hold out the last N training images; evaluate and pick best.zarr on them, "
             "never on test (then: snnpipe eval RUN, once).")] = 0,
    checkpoint_every: Annotated[int, typer.Option(
        help="Keep checkpoints/epoch-NNNN.zarr every E epochs.")] = 1,
    snapshots: Annotated[int | None, typer.Option(
        help="At the end, also write and score the ensemble of the last K epochs' networks "
             "(checkpoints/snapshots.zarr); 0 = off (default: the preset's, else 0).")] = None,
    resume: Annotated[Path | None, typer.Option(
        help="Continue RUN_DIR from its last.zarr ('latest' = newest run).")] = None,
    wandb_mode: Annotated[str | None, typer.Option(
        help="online, offline or disabled (default: $WANDB_MODE, else offline).")] = None,
    data_dir: DataDir = Path("data"),
    store: Annotated[Path | None, typer.Option(help="Dataset store to read.")] = None,
) -> None:
    """Train the SONN; metrics to RUN_DIR/metrics.jsonl and wandb, checkpoints in zarr."""
    from snnpipe.pipeline.options import resume_folder
    from snnpipe.pipeline.training.configuration import build_config, preset_seed
    from snnpipe.pipeline.training.tracking import wandb_mode as checked_wandb_mode
    from snnpipe.pipeline.training.train import TrainOptions
    from snnpipe.pipeline.training.train import train as run
    mode = checked_wandb_mode(wandb_mode)
    resume = resume_folder("train", resume, _given(ctx))
    cfg, run_opts = build_config(preset, config, [*(set_ or []), *([f"sampling={sampling}"]
                                                                    if sampling else [])])
    opts = TrainOptions(config=cfg, snapshots=run_opts.get("snapshots", 0) if snapshots is None
                        else snapshots, epochs=epochs, dataset=dataset, data_dir=data_dir,
                        store=store, seed=preset_seed(preset, seed), run_dir=run_dir,
                        sampling=cfg.sampling,
                        limit_train=limit_train, limit_test=limit_test, eval_every=eval_every,
                        checkpoint_every=checkpoint_every, resume=resume, wandb_mode=mode,
                        validation=validation)
    result = run(opts, RichReporter())
    if result.interrupted:
        if (result.run_dir / "checkpoints" / "last.zarr").exists():
            err.print(f"interrupted: checkpoint written to {result.run_dir}/checkpoints/"
                      f"last.zarr; resume with: snnpipe train --resume {result.run_dir} "
                      f"--epochs {epochs}")
        else:
            err.print(f"interrupted before the first batch; nothing trained. Run the same "
                      f"command again (or snnpipe train --resume {result.run_dir})")
        raise typer.Exit(130)
    from snnpipe.pipeline.training.train import selection_key
    key = selection_key(result.rows[0] if result.rows else {})
    best = [r[key] for r in result.rows if r.get(key) is not None]
    if best:
        name = key.replace("_accuracy", "")
        out.print(f"done: best {name} accuracy {100 * max(best):.2f} % — run folder "
                  f"{result.run_dir}; evaluate with: snnpipe eval {result.run_dir}")
        last = result.rows[-1] if result.rows else {}
        if last.get(f"snapshots_{key}") is not None:
            out.print(f"snapshots: the last {last['snapshots']} epochs' networks together "
                      f"score {100 * last[f'snapshots_{key}']:.2f} % {name} — "
                      f"{result.run_dir}/checkpoints/snapshots.zarr")


# -------------------------------------------------------------------------- eval
@app.command("eval")
@user_errors
def eval_(
    paths: Annotated[list[Path], typer.Argument(help="Checkpoints or run folders.")],
    dataset: Annotated[str | None, typer.Option(
        help="Dataset store to use (default: the checkpoint's).")] = None,
    split: Annotated[str, typer.Option(
        help="test, train, or validation (the last --validation training images).")] = "test",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    limit: Annotated[int | None, typer.Option(help="Use the first N images.")] = None,
    data_dir: DataDir = Path("data"),
    store: Annotated[Path | None, typer.Option(help="Dataset store to read.")] = None,
    validation: Annotated[int | None, typer.Option(
        help="With --split validation: the hold-out's size, checked against the "
             "checkpoint's record (older checkpoints: taken as given; default 10,000).")
    ] = None,
) -> None:
    """Evaluate checkpoints: accuracy, no-decision rate, precision / recall / F1."""
    from snnpipe.pipeline.results.evaluate import evaluate_checkpoints
    failed: list[str] = []
    results = evaluate_checkpoints(paths, dataset, split, limit, data_dir, store, failed,
                                   on_note=(err if as_json else out).print,
                                   validation=validation)
    _print_eval(results, split, as_json, failed)
    for line in failed:                 # like predict: every path gets its own answer
        print_error(line)
    if failed:
        raise typer.Exit(1)


def _print_eval(results: list[dict], split: str, as_json: bool, failed: list[str]) -> None:
    if as_json:
        sys.stdout.write(json.dumps({"results": results, "errors": failed}, indent=2) + "\n")
        return
    if not results:
        return
    table = Table(title=f"{split} set")
    for col in ("checkpoint", "epoch", "accuracy %", "no decision %", "macro P", "macro R",
                "macro F1", "samples/s"):
        table.add_column(col, justify="left" if col == "checkpoint" else "right")
    for r in results:
        table.add_row(r["checkpoint"], str(r["epoch"]), f"{100 * r['accuracy']:.2f}",
                      f"{100 * r['no_decision']:.2f}", f"{r['macro_precision']:.4f}",
                      f"{r['macro_recall']:.4f}", f"{r['macro_f1']:.4f}",
                      f"{r['samples_per_s']:,.0f}")
    out.print(table)
    if len(results) == 1:
        r = results[0]
        per = Table(title="per class")
        for col in ("class", "precision", "recall", "F1"):
            per.add_column(col, justify="right")
        pc = r["per_class"]
        for k in range(len(pc["precision"])):
            per.add_row(str(k), f"{pc['precision'][k]:.4f}", f"{pc['recall'][k]:.4f}",
                        f"{pc['f1'][k]:.4f}")
        out.print(per)
        conf = Table(title="confusion (rows: true class, columns: predicted; ? = no decision)")
        conf.add_column("")
        n = len(r["confusion"])
        for k in range(n):
            conf.add_column(str(k), justify="right")
        conf.add_column("?", justify="right")
        for k, row in enumerate(r["confusion"]):
            conf.add_row(str(k), *map(str, row))
        out.print(conf)


@app.command()
@user_errors
def ensemble(
    output: Annotated[Path, typer.Argument(help="The ensemble checkpoint to write (.zarr).")],
    paths: Annotated[list[Path], typer.Argument(
        help="Member checkpoints, or run folders (their epoch checkpoints).")],
    last: Annotated[int | None, typer.Option(
        help="From a run folder, only its last K epoch checkpoints (a snapshot ensemble).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace OUTPUT if it exists.")] = False,
) -> None:
    """Sum several checkpoints' votes: write them as one network (neurons side by side)."""
    from snnpipe.pipeline.training.ensemble import build_ensemble
    info = build_ensemble(paths, output, last, force)
    out.print(f"wrote {info['output']}: {len(info['members'])} members, "
              f"{info['neurons_per_column']:,} neurons per column; score it with "
              f"`snnpipe eval {info['output']}`")


# ---------------------------------------------------------------------------- reproduce
def _print_point(p: dict) -> None:
    out.print(f"{p['samples_seen']:>11,} samples  batch {p['batches_seen']:>7,}  "
              f"{p['wall_seconds'] / 60:6.1f} min  test {100 * p['test_accuracy']:6.2f} %  "
              f"train {100 * p['train_accuracy']:6.2f} %  no-decision "
              f"{100 * p['test_no_decision']:5.2f} %  +{p['positive_learns']:,} "
              f"-{p['negative_learns']:,}  q+ {p['q_positive']:.4f} q- {p['q_negative']:.4f}  "
              f"live {p['live_positive'] + p['live_negative']:,}")


@app.command()
@user_errors
def reproduce(
    ctx: typer.Context,
    hours: Annotated[float | None, typer.Option(
        help="Wall-clock budget of this sitting (default 2; on --resume: the run's).")] = None,
    target: Annotated[float | None, typer.Option(
        help="Stop at this test accuracy in % (default 98.65; on --resume: the run's, and a "
             "value given overrides it from now on).")] = None,
    max_samples: Annotated[int | None, typer.Option(
        help="Stop after N samples (on --resume: the run's, unless given).")] = None,
    eval_every_samples: Annotated[int | None, typer.Option(
        help=f"Evaluate the full test set every N samples seen (default "
             f"{ReproduceOptions.eval_every_samples:,} unless --eval-every-positive is "
             "given).")] = None,
    eval_every_positive: Annotated[int | None, typer.Option(
        help="Evaluate at D𝜋's points: every K positive learning steps, mid-batch.")] = None,
    checkpoint_every_samples: Annotated[int, typer.Option(
        help="Write checkpoints/last.zarr every N samples (for --resume).")
    ] = ReproduceOptions.checkpoint_every_samples,
    sampling: SamplingOpt = None,
    seed: SeedOpt = None,
    preset: PresetOpt = "default",
    config: ConfigOpt = None,
    set_: SetOpt = None,
    run_dir: Annotated[Path | None, typer.Option(help="Run folder.")] = None,
    resume: Annotated[Path | None, typer.Option(
        help="Continue a reproduce RUN_DIR from its last.zarr (--hours is this sitting's "
             "budget).")] = None,
    wandb_mode: Annotated[str | None, typer.Option(help="online, offline or disabled.")] = None,
    validation: Annotated[int, typer.Option(
        help="Hold out the last N training images; best.zarr is picked on them (test is "
             "still recorded at every point, for the curve).")] = 0,
    data_dir: DataDir = Path("data"),
    dataset: DatasetOpt = "mnist",
) -> None:
    """Train a configuration on a full data set (MNIST by default) for a time budget."""
    from snnpipe.pipeline.options import resume_folder
    from snnpipe.pipeline.training.reproduce import reproduce as run
    from snnpipe.pipeline.training.reproduce import reproduce_options
    resume = resume_folder("reproduce", resume, _given(ctx))
    opts = reproduce_options(preset, config, set_, seed, sampling, wandb_mode,
                             eval_every_samples=eval_every_samples, run_dir=run_dir,
                             hours=hours, target=target, max_samples=max_samples,
                             data_dir=data_dir, eval_every_positive=eval_every_positive,
                             checkpoint_every_samples=checkpoint_every_samples, resume=resume,
                             validation=validation, dataset=dataset, plots=True)
    res = run(opts, on_point=_print_point, on_note=out.print)
    if not res.changed:
        out.print(f"stopped: {res.stopped_by}")
        return
    best = res.best
    picked = (f" (picked on validation: {100 * best['validation_accuracy']:.2f} %)"
              if "validation_accuracy" in best else "")
    out.print(f"stopped: {res.stopped_by}. best test accuracy {100 * best['test_accuracy']:.2f} %"
              f"{picked} after {best['samples_seen']:,} samples "
              f"({best['wall_seconds'] / 60:.1f} min)")
    paths = res.plots
    out.print(f"results: {res.results_file}; plots: {', '.join(p.name for p in paths)} in "
              f"{paths[0].parent}")
    if res.stopped_by == "interrupted":      # like train: scripts can tell (exit 130)
        err.print(f"interrupted: resume with: snnpipe reproduce --resume {res.run_dir}")
        raise typer.Exit(130)


@app.command()
@user_errors
def plot(run_dir: Annotated[Path, typer.Argument(help="A train or reproduce run folder.")],
         output: Annotated[Path | None, typer.Option(help="Folder for the PNGs.")] = None,
         against: Annotated[list[str] | None, typer.Option(
             help="LABEL=RUN_DIR (repeatable): draw these runs' test accuracy on the same "
                  "axes as RUN_DIR's (log x), into OUTPUT/comparison.png.")] = None,
         label: Annotated[str, typer.Option(help="RUN_DIR's label in the comparison.")] = "run",
         band: Annotated[list[str] | None, typer.Option(
             help="START:END in samples, e.g. 50M:100M (repeatable): also print each run's "
                  "first reach of 98.65 % and 98.9 %, its best, and the mean ± sd of its "
                  "test accuracy over these bands (the level, not a best-of-many).")] = None,
         ) -> None:
    """Draw a run's curves, confusion matrix and receptive fields as PNGs."""
    from snnpipe.pipeline.results.plots import draw
    for line in draw(run_dir, output, against or [], label, band or []):
        out.print(line, markup=False)


@app.command()
@user_errors
def priming(
    samples: Annotated[int, typer.Option(help="Samples per variant.")] = 2_000_000,
    sampling: SamplingOpt = None,
    seed: SeedOpt = None,
    run_dir: Annotated[Path, typer.Option(help="Folder for the four runs.")] = Path(
        "runs/priming"),
    wandb_mode: Annotated[str | None, typer.Option(help="online, offline or disabled.")] = None,
    variant: Annotated[list[str] | None, typer.Option(
        help="Run only these variants (repeatable): both-rules, no-forced-positive-step, "
             "no-negative-cap, neither-rule.")] = None,
) -> None:
    """The priming ablation: both start-up rules, each one off, both off."""
    from snnpipe.pipeline.training.ablation import CHECKPOINTS, check_request, priming_ablation
    from snnpipe.pipeline.training.reproduce import reproduce_options
    check_request(samples, run_dir, variant)
    opts = reproduce_options("default", None, None, seed, sampling, wandb_mode)
    marks = [m for m in CHECKPOINTS if m <= samples] or [samples]
    out.print("| variant | " + " | ".join(f"{m / 1e6:g} M" for m in marks)
              + " | + steps | - steps |")
    out.print("|---" * (len(marks) + 3) + "|")

    def show(name, row):
        out.print(f"| {name} | " + " | ".join(f"{100 * row[str(m)]:.2f}" for m in marks)
                  + f" | {row['positive_learns']:,} | {row['negative_learns']:,} |")
    priming_ablation(opts, samples, run_dir, on_variant=show, only=variant or None)


@app.command()
@user_errors
def sweep(
    spec: Annotated[Path, typer.Argument(help="Sweep spec (TOML): dataset, preset, fixed, "
                                              "grid, random, seeds, trials, budget.")],
    folder: Annotated[Path | None, typer.Option(
        help="Sweep folder (default runs/sweep-<name>); running again resumes it.")] = None,
    workers: Annotated[int | None, typer.Option(
        help="LocalCluster workers (default: one per core).")] = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Address of an existing dask.distributed scheduler (tcp://host:8786).")] = None,
    wandb_mode: Annotated[str | None, typer.Option(help="online, offline or disabled.")] = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """Run a sweep or a seed study on dask.distributed; one train run folder per trial."""
    from snnpipe.pipeline.results.plots import plot_sweep
    from snnpipe.pipeline.training.report import SweepProgress, sweep_table
    from snnpipe.pipeline.training.sweep import check_options, read_spec, spec_size
    from snnpipe.pipeline.training.sweep import sweep as run
    mode = check_options(workers, scheduler, wandb_mode)
    sp = read_spec(spec)
    folder = folder or Path("runs") / f"sweep-{sp.name}"
    err.print(f"sweep {sp.name}: {spec_size(sp):,} trials into {folder}", markup=False)
    res = run(sp, folder, data_dir, scheduler, workers, mode, SweepProgress())
    table, markdown = sweep_table(sp, res.rows, res.selected)
    out.print(table)
    runs_md = folder / "sweep.md"
    from snnpipe.stores.runs import write_text_atomic
    write_text_atomic(runs_md, markdown)
    paths = plot_sweep(folder, res.rows, sp.swept)
    out.print(f"sweep folder {folder}: sweep.jsonl, sweep.md"
              + "".join(f", {p.name}" for p in paths)
              + (f"; {res.skipped} finished trial(s) skipped" if res.skipped else ""))
    if res.interrupted:
        err.print(f"interrupted: finished trials are in {folder}/sweep.jsonl; run the same "
                  "command again to finish the rest")
        raise typer.Exit(130)
    if any(r["status"] != "ok" for r in res.rows):
        raise typer.Exit(1)


@app.command()
@user_errors
def predict(
    checkpoint: Annotated[Path, typer.Argument(help="A checkpoint (train, reproduce, or a "
                                                    "saved SONNClassifier).")],
    images: Annotated[list[Path] | None, typer.Argument(help="PNG, JPEG or PGM files.")] = None,
    idx: Annotated[Path | None, typer.Option(help="An IDX file of 28 x 28 images.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    show: Annotated[bool, typer.Option(
        help="Write what the network saw next to each image (NAME.28x28.png).")] = False,
    prepare: Annotated[str, typer.Option(
        help="auto (28 x 28 dark images as they are), always or never.")] = "auto",
) -> None:
    """Predict the digit in your own images, prepared the way MNIST was made."""
    from snnpipe.pipeline.results.predict import predict as run
    results = run(checkpoint, list(images or []), idx, show, prepare)
    failed = [r for r in results if r.error]
    if as_json:
        sys.stdout.write(json.dumps({"predictions": [vars(r) for r in results]}, indent=2)
                         + "\n")
    else:
        for r in results:
            if r.error:
                continue
            verdict = (f"no decision (tie: {', '.join(map(str, r.tied))})" if r.no_decision
                       else f"{r.label}")
            counts = " ".join(f"{k}:{c}" for k, c in enumerate(r.counts))
            shown = f"  (saw: {r.shown})" if r.shown else ""
            out.print(f"{r.source}: {verdict}   spikes {counts}{shown}")
    for r in failed:
        print_error(r.error)
    if failed:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
