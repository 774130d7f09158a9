"""What the user sees while training: a rich progress bar per epoch and one row per epoch.

The train stage calls a `Reporter` (pipeline.train); this is the terminal one the CLI uses.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

out = Console(highlight=False, soft_wrap=True)
if not out.is_terminal:
    out = Console(highlight=False, soft_wrap=True, width=140)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class RichReporter:
    """Progress bar per epoch and one table row per epoch."""

    COLUMNS = [("epoch", "{:>5}"), ("online", "{:>7}"), ("test", "{:>7}"), ("nodec", "{:>6}"),
               ("+steps", "{:>6}"), ("-steps", "{:>6}"), ("live", "{:>7}"), ("grown", "{:>6}"),
               ("pruned", "{:>6}"), ("q+", "{:>6}"), ("q-", "{:>6}"), ("sec", "{:>6}")]

    def __init__(self) -> None:
        self.progress: Progress | None = None
        self.task = None

    def start(self, info: dict) -> None:
        verb = "resuming" if info["resumed"] else "training"
        out.print(f"{verb} in {info['run_dir']}: {info['train']} train / {info['test']} test "
                  f"samples, epochs {info['epoch'] + 1}..{info['epochs']}")
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
        test = "-" if row["test_accuracy"] is None else f"{100 * row['test_accuracy']:.2f}"
        nodec = "-" if row["test_no_decision"] is None else f"{100 * row['test_no_decision']:.1f}"
        values = [row["epoch"], f"{100 * row['train_online_accuracy']:.2f}", test, nodec,
                  row["positive_steps"], row["negative_steps"], row["live_connections"],
                  row["grown"], row["pruned_reinforce"] + row["pruned_decay"],
                  f"{row['q_positive']:.2f}", f"{row['q_negative']:.2f}",
                  f"{row['seconds']:.1f}"]
        out.print(" ".join(fmt.format(v) for (_, fmt), v in zip(self.COLUMNS, values,
                                                                 strict=True)))

    def message(self, text: str) -> None:
        err.print(f"[yellow]warning:[/yellow] {text}", soft_wrap=True)
