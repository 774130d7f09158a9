"""What the user sees while training: a rich progress bar per epoch and one row per epoch.

The train stage calls a `Reporter` (snnpipe.pipeline.training.train); this is the terminal
one the CLI uses.
"""

from __future__ import annotations

import json

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

out = Console(highlight=False, soft_wrap=True)
if not out.is_terminal:
    out = Console(highlight=False, soft_wrap=True, width=140)
err = Console(stderr=True, highlight=False, soft_wrap=True)

MAX_MESSAGE = 600      # a refused 1,000,000-element list is not echoed back whole


def one_line(text: str) -> str:
    """A message as one line of bounded length (the end, which holds the fix, is kept)."""
    text = " ".join(str(text).split())
    if len(text) > MAX_MESSAGE:
        text = f"{text[:MAX_MESSAGE // 2]} … ({len(text) - MAX_MESSAGE} characters left out) " \
               f"… {text[-MAX_MESSAGE // 2:]}"
    return text


def print_error(text: str) -> None:
    """`error: MESSAGE` on stderr, the message literal (no rich markup: `[config]` stays)."""
    from rich.text import Text
    err.print(Text("error:", style="red") + Text(" " + one_line(text)), soft_wrap=True)


def print_warning(text: str) -> None:
    from rich.text import Text
    err.print(Text("warning:", style="yellow") + Text(" " + one_line(text)), soft_wrap=True)


class RichReporter:
    """Progress bar per epoch and one table row per epoch."""

    COLUMNS = [("epoch", "{:>5}"), ("online", "{:>7}"), ("eval", "{:>7}"), ("nodec", "{:>6}"),
               ("+steps", "{:>6}"), ("-steps", "{:>6}"), ("live", "{:>7}"), ("grown", "{:>6}"),
               ("pruned", "{:>6}"), ("q+", "{:>6}"), ("q-", "{:>6}"), ("sec", "{:>6}")]

    def __init__(self) -> None:
        self.progress: Progress | None = None
        self.task = None

    def start(self, info: dict) -> None:
        verb = "resuming" if info["resumed"] else "training"
        self.eval_name = info.get("eval_split", "test")
        out.print(f"{verb} in {info['run_dir']}: {info['train']} train / {info['test']} "
                  f"{self.eval_name} samples, epochs {info['epoch'] + 1}..{info['epochs']}")
        out.print(" ".join(fmt.format(name) for name, fmt in self.COLUMNS))

    def epoch_start(self, epoch: int, samples: int) -> None:
        if not err.is_terminal:      # logs and CI get the per-epoch rows only
            return
        self.progress = Progress(
            TextColumn(f"epoch {epoch}"), BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn("{task.fields[rate]}"),
            TextColumn("acc {task.fields[acc]}"), TextColumn("+{task.fields[pos]} "
                                                             "-{task.fields[neg]}"),
            TimeRemainingColumn(), console=err, transient=True)
        self.progress.start()
        self.task = self.progress.add_task("train", total=samples, rate="", acc="-",
                                           pos=0, neg=0)

    def batch(self, samples: int, trainer) -> None:
        if self.progress is None:
            return
        c = trainer.state.counters
        task = self.progress.tasks[0]
        speed = task.speed or 0
        self.progress.update(self.task, advance=samples, rate=f"{speed:,.0f} samples/s",
                             acc=f"{c.online_correct / max(c.samples, 1):.3f}",
                             pos=c.positive_steps, neg=c.negative_steps)

    def epoch_end(self, row: dict) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        name = getattr(self, "eval_name", "test")
        acc, nd = row.get(f"{name}_accuracy"), row.get(f"{name}_no_decision")
        test = "-" if acc is None else f"{100 * acc:.2f}"
        nodec = "-" if nd is None else f"{100 * nd:.1f}"
        values = [row["epoch"], f"{100 * row['train_online_accuracy']:.2f}", test, nodec,
                  row["positive_steps"], row["negative_steps"], row["live_connections"],
                  row["grown"], row["pruned_reinforce"] + row["pruned_decay"],
                  f"{row['q_positive']:.2f}", f"{row['q_negative']:.2f}",
                  f"{row['seconds']:.1f}"]
        out.print(" ".join(fmt.format(v) for (_, fmt), v in zip(self.COLUMNS, values,
                                                                 strict=True)))

    def message(self, text: str) -> None:
        print_warning(text)


class SweepProgress:
    """One line per finished trial: done / running / failed and the best so far."""

    def __call__(self, status: dict) -> None:
        best = "-" if status["best"] is None else f"{100 * status['best']:.2f} %"
        row = status.get("row")
        what = ""
        if row is not None:
            what = (f"  {row['id']} seed {row['seed']} {row['params']}: "
                    + (f"{100 * row['metric']:.2f} %" if row["status"] == "ok"
                       else f"{row['status']} ({row['error']})"))
        err.print(f"trials {status['done']}/{status['total']} done, {status['running']} "
                  f"running, {status['failed']} failed; best {best}{what}", soft_wrap=True)


def sweep_table(spec, rows: list[dict], selected: dict | None) -> tuple[Table, str]:
    """The trials sorted by metric, as a rich table and as markdown (sweep.md); a seed study
    (or repeated seeds) adds mean +- sd per configuration and per mark."""
    from snnpipe.pipeline.training.sweep import summarize
    name = next((r.get("metric_name") for r in rows if r.get("metric_name")), "metric")
    label = name.replace("_", " ") + (f" (mean of last {spec.metric_window})"
                                      if spec.metric_window > 1 else "")
    snaps = any(r.get("snapshots_metric") is not None for r in rows)
    cols = ["trial", "seed", *spec.swept, label + " %",
            *(["snapshot ensemble %"] if snaps else []), "samples", "seconds", "worker",
            "status"]
    table = Table(title=f"sweep {spec.name} ({spec.dataset})")
    for c in cols:
        table.add_column(c, justify="left" if c in ("trial", "worker", "status") else "right")
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    ordered = sorted(rows, key=lambda r: -(r.get("metric") or -1))
    for r in ordered:
        cells = [r["id"], str(r["seed"]), *(json.dumps(r["params"].get(p)) for p in spec.swept),
                 "-" if r.get("metric") is None else f"{100 * r['metric']:.2f}",
                 *([] if not snaps else ["-" if r.get("snapshots_metric") is None
                                         else f"{100 * r['snapshots_metric']:.2f}"]),
                 f"{r['samples']:,}" if r.get("samples") else "-",
                 f"{r.get('seconds', 0):.0f}", r.get("worker", ""),
                 r["status"] if r["status"] == "ok" else f"{r['status']}: {r.get('error')}"]
        table.add_row(*cells)
        lines.append("| " + " | ".join(cells) + " |")
    groups: dict[str, list[dict]] = {}
    for r in rows:
        if r["status"] == "ok":
            groups.setdefault(json.dumps(r["params"], sort_keys=True), []).append(r)
    if any(len(g) > 1 for g in groups.values()):
        lines += ["", f"| configuration | seeds | {name} % mean ± sd |"
                  + "".join(f" at {int(m):,} samples |" for m in spec.marks),
                  "|---|---|---|" + "---|" * len(spec.marks)]
        for params, g in groups.items():
            mean, sd = summarize([r["metric"] for r in g])
            cells = [params, str(len(g)), f"{100 * mean:.2f} ± {100 * sd:.2f}"]
            for m in spec.marks:
                vals = [r["marks"][str(m)][name] for r in g if str(m) in r.get("marks", {})]
                got = [r["marks"][str(m)]["samples"] for r in g if str(m) in r.get("marks", {})]
                if vals:
                    mm, ms = summarize(vals)
                    cells.append(f"{100 * mm:.2f} ± {100 * ms:.2f} (n={len(vals)}, "
                                 f"{min(got):,} samples)")
                else:
                    cells.append("-")
            lines.append("| " + " | ".join(cells) + " |")
    if selected:
        lines += ["", f"Selected on validation: {selected['params']} (seeds "
                  f"{selected['seeds']}); validation "
                  + ", ".join(f"{100 * v:.2f} %" for v in selected["validation_accuracy"])
                  + _tested(selected)]
    return table, "\n".join(lines) + "\n"


def _tested(selected: dict) -> str:
    if "test_accuracy_of_best_checkpoint" not in selected:
        return "; test not read (the spec's test = false)"
    return (f"; test, evaluated once on the selected {_names(selected)}: "
            + ", ".join(f"{100 * v:.2f} %" for v in selected["test_accuracy_of_best_checkpoint"]))


def _names(selected: dict) -> str:
    """What the sweep tested: best checkpoints, or snapshot ensembles (`snapshots`)."""
    kinds = set(selected.get("checkpoints", ["best.zarr"]))
    return "snapshot ensembles" if kinds == {"snapshots.zarr"} else "best checkpoints"
