"""The scaling study's table and plots (docs/scaling.md), from its sweep folders.

    python docs/scaling/summarize.py            # prints the table, draws the two plots

Each cell is one trial of a spec in docs/scaling/specs/, whose run folder is
docs/scaling/runs/<spec>/trials/<id>/ (finished or not: an unfinished run is marked). The
level is the mean of the last 10 validation evaluations, never the best one; "samples to
reach it" is the first evaluation at which the moving mean of 10 evaluations comes within
0.05 points of that level.

A seed ensemble (docs/scaling/ensembles/*.json, written by `--ensemble SPEC PLANES`) is one
more cell at K x N neurons: the K seeds' final networks stacked by `snnpipe ensemble` and
evaluated once on their validation split. It has one evaluation, not a level; its members'
final evaluations are shown beside it. A record with "kind": "snapshot votes" stacks the
seeds' snapshot votes instead (its command is in the record).

A run trained with `snapshots = 10` (the Fashion-MNIST 7,920-neuron cells) also votes with
its last 10 epochs' networks stacked: that vote's one validation evaluation, from the
sweep's row, is the column "snapshot ensemble".

    python docs/scaling/summarize.py --ensemble mnist-7920 4   # once both seeds are done
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WINDOW = 10
WITHIN = 0.0005
BEGUN = 5_000_000      # below this many samples a run has no level worth printing yet


def cells() -> list[dict]:
    from snnpipe.pipeline.training.sweep import expand, read_spec, trial_dir
    from snnpipe.stores.runs import read_metrics
    out = []
    for spec in sorted((HERE / "specs").glob("*.toml")):
        folder = HERE / "runs" / spec.stem
        finished = {}
        if (folder / "sweep.jsonl").exists():
            for line in (folder / "sweep.jsonl").read_text().splitlines():
                if line.strip():
                    row = json.loads(line)
                    finished[row["id"]] = row
        parsed = read_spec(spec)
        for trial in expand(parsed):
            run = trial_dir(folder, trial["id"])
            rows = [r for r in read_metrics(run) if r.get("validation_accuracy") is not None] \
                if run.exists() else []
            if not rows:
                continue
            cfg = trial["config"]
            acc = np.array([r["validation_accuracy"] for r in rows])
            samples = np.array([r["samples_seen"] for r in rows])
            level = float(acc[-WINDOW:].mean())
            moving = np.convolve(acc, np.ones(WINDOW) / WINDOW, mode="valid") \
                if len(acc) >= WINDOW else np.array([])
            reach = int(samples[WINDOW - 1 + int(np.argmax(moving >= level - WITHIN))]) \
                if len(moving) else int(samples[-1])
            out.append({
                "spec": spec.stem, "id": trial["id"], "seed": trial["seed"],
                "dataset": parsed.dataset,
                "neurons": cfg["neurons"], "planes": len(cfg["levels"]),
                "level": level, "sd": float(acc[-WINDOW:].std(ddof=1)) if len(acc) > 1 else 0.0,
                "reach": reach, "samples": int(samples[-1]), "budget": parsed.budget_samples,
                "hours": sum(r.get("seconds", 0.0) for r in read_metrics(run)) / 3600,
                "rate": float(np.median([r["samples_per_s"] for r in rows[-WINDOW:]])),
                "evaluations": len(acc),
                "done": finished.get(trial["id"], {}).get("status") == "ok",
                "memory": finished.get(trial["id"], {}).get("peak_rss_mb"),
                "vote": finished.get(trial["id"], {}).get("snapshots_metric"),
                "curve": (samples, acc)})
    return out


def ensemble(spec: str, planes: int) -> Path:
    """Stack the finished seeds of one cell (their last.zarr), evaluate on validation, and
    record the result in ensembles/<spec>-<planes>-planes.json."""
    done = [c for c in cells() if c["spec"] == spec and c["planes"] == planes and c["done"]]
    if len(done) < 2:
        sys.exit(f"error: {spec}, {planes} planes has {len(done)} finished seeds; needs 2+")
    folder = HERE / "runs" / spec / "trials"
    members = [folder / c["id"] / "checkpoints" / "last.zarr" for c in done]
    out = HERE / "ensembles" / f"{spec}-{planes}-planes.zarr"
    out.parent.mkdir(exist_ok=True)
    snnpipe = [sys.executable, "-m", "snnpipe.pipeline.cli"]
    subprocess.run([*snnpipe, "ensemble", str(out), *map(str, members), "--force"],
                   check=True)
    res = subprocess.run([*snnpipe, "eval", str(out), "--split", "validation", "--json"],
                         check=True, capture_output=True, text=True)
    acc = json.loads(res.stdout)["results"][0]["accuracy"]
    record = {"spec": spec, "planes": planes, "neurons": sum(c["neurons"] for c in done),
              "members": [{"id": c["id"], "seed": c["seed"], "samples": c["samples"],
                           "final_validation": float(c["curve"][1][-1]),
                           "level": c["level"]} for c in done],
              "validation_accuracy": acc, "dataset": done[0]["dataset"]}
    path = out.with_suffix(".json")
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


MARKS = {"mnist": (5e6, 10e6, 15e6, 20e6, 30e6, 40e6, 50e6),
         "fashion-mnist": (2e6, 5e6, 10e6, 15e6, 20e6, 30e6)}


def longest(rows: list[dict]) -> list[dict]:
    """One run per cell and seed: where two specs train the same cell to different budgets
    (10 M and 30 M), the longer run, whose first samples repeat the shorter one exactly."""
    def key(c: dict) -> tuple:
        return c["dataset"], c["neurons"], c["planes"], c["seed"]
    best = {}
    for c in rows:
        if key(c) not in best or c["budget"] > best[key(c)]["budget"]:
            best[key(c)] = c
    return [c for c in rows if best[key(c)] is c]


def at_samples(rows: list[dict], dataset: str) -> str:
    """Validation accuracy at equal samples, one data set: at each mark, the mean of the 10
    evaluations up to it (a run that has not reached the mark shows –)."""
    marks = MARKS[dataset]
    mine = [c for c in longest(rows) if c["samples"] >= BEGUN and c["dataset"] == dataset]
    cols = sorted(mine, key=lambda c: (-c["neurons"], c["planes"], c["seed"]))
    head = "| samples | " + " | ".join(f"{c['neurons']:,} neurons, {c['planes']} planes, "
                                       f"seed {c['seed']}" for c in cols) + " |"
    lines = [head, "|" + " --- |" * (len(cols) + 1)]
    for mark in marks:
        cells_ = []
        for c in cols:
            s, a = c["curve"]
            upto = a[s <= mark]
            cells_.append(f"{100 * upto[-WINDOW:].mean():.2f} %"
                          if s[-1] >= mark and len(upto) >= WINDOW else "–")
        lines.append(f"| {mark / 1e6:.0f} M | " + " | ".join(cells_) + " |")
    return "\n".join(lines)


def _trained(c: dict) -> str:
    """Samples trained, and of what budget while the run is unfinished."""
    done = f"{c['samples'] / 1e6:.1f} M"
    return done if c["done"] else f"{done} of {c['budget'] / 1e6:.0f} M"


def ensembles() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((HERE / "ensembles").glob("*.json"))]


def table(rows: list[dict]) -> str:
    lines = ["| data set | neurons per column | planes | seed | validation level % (last 10) "
             "| snapshot ensemble % (last 10 epochs, one evaluation) "
             "| samples to reach it | samples trained | wall hours | samples/s (last 10) "
             "| peak memory | status |", "|" + "---|" * 12]
    for c in sorted(rows, key=lambda c: (c["dataset"], c["neurons"], c["planes"], c["seed"],
                                         c["budget"])):
        memory = f"{c['memory']:,.0f} MB" if c["memory"] else "see below"
        vote = "–" if c["vote"] is None else f"{100 * c['vote']:.2f}"
        if c["samples"] < BEGUN:                        # just begun: no level yet
            lines.append(f"| {c['dataset']} | {c['neurons']:,} | {c['planes']} | {c['seed']} | "
                         f"– | – | – | {_trained(c)} | {c['hours']:.2f} | – | – | "
                         "begun (resumable) |")
            continue
        lines.append(
            f"| {c['dataset']} | {c['neurons']:,} | {c['planes']} | {c['seed']} | "
            f"{100 * c['level']:.2f} ± {100 * c['sd']:.2f} | "
            f"{vote} | "
            f"{c['reach'] / 1e6:.1f} M | "
            f"{_trained(c)} | {c['hours']:.2f} | {c['rate']:,.0f} | "
            f"{memory} | "
            f"{'done' if c['done'] else 'unfinished (resumable)'} |")
    for e in ensembles():
        seeds = " + ".join(str(m["seed"]) for m in e["members"])
        finals = ", ".join(f"{100 * m['final_validation']:.2f}" for m in e["members"])
        votes = e.get("kind") == "snapshot votes"       # each member: 10 epochs' networks
        lines.append(
            f"| {e['dataset']} | {e['neurons']:,} ({len(e['members'])} × "
            f"{e['neurons'] // len(e['members']):,}) | {e['planes']} | {seeds} | "
            f"{100 * e['validation_accuracy']:.2f} (one evaluation; members' "
            f"{'votes' if votes else 'final'}: {finals}) | "
            f"– | – | {len(e['members'])} × "
            f"{e['members'][0]['samples'] / 1e6:.1f} M | – | – | – | "
            f"{'seed ensemble of snapshot votes' if votes else 'seed ensemble'} |")
    return "\n".join(lines)


def plots(rows: list[dict]) -> None:
    """Two figures, each a panel per data set (their accuracies are 13 points apart). Sizes
    are joined through the mean of their finished seeds; an unfinished run is an x."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    datasets = sorted({c["dataset"] for c in rows}, reverse=True)      # mnist first
    rows = longest(rows)
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        for planes in sorted({c["planes"] for c in rows if c["dataset"] == dataset}):
            mine = [c for c in rows if c["planes"] == planes and c["dataset"] == dataset
                    and c["samples"] >= BEGUN]
            done = [c for c in mine if c["done"]]
            sizes = sorted({c["neurons"] for c in done})
            means = [100 * np.mean([c["level"] for c in done if c["neurons"] == n])
                     for n in sizes]
            line, = ax.plot(sizes, means, "-", label=f"{planes} planes (mean of seeds)")
            ax.plot([c["neurons"] for c in done], [100 * c["level"] for c in done], "o",
                    color=line.get_color())
            early = [c for c in mine if not c["done"]]
            if early:
                ax.plot([c["neurons"] for c in early], [100 * c["level"] for c in early], "x",
                        color=line.get_color(), label=f"{planes} planes, unfinished run")
            votes = sorted((c["neurons"], 100 * c["vote"]) for c in rows
                           if c["planes"] == planes and c["dataset"] == dataset
                           and c["vote"] is not None)
            if votes:
                ax.plot(*zip(*votes, strict=True), "s", markerfacecolor="none",
                        color=line.get_color(),
                        label=f"{planes} planes, snapshot vote (one evaluation), "
                              "at the trained size")
        for e in ensembles():
            if e["dataset"] == dataset:
                what = "votes" if e.get("kind") == "snapshot votes" else "networks"
                ax.plot(e["neurons"], 100 * e["validation_accuracy"], "*", markersize=11,
                        label=f"{e['planes']} planes, {len(e['members'])} seeds' {what} "
                              "stacked (one evaluation)")
        ax.set_xscale("log")
        ax.set_xlabel("neurons per column")
        ax.set_ylabel("validation accuracy % (mean of last 10)")
        budgets = sorted({(c["neurons"], c["budget"]) for c in rows if c["dataset"] == dataset})
        trained = ", ".join(f"{n:,}: {b / 1e6:.0f} M" for n, b in budgets)
        ax.set_title(f"{dataset}: accuracy against size (each seed a point)\n"
                     f"samples per run: {trained}", fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(HERE / "accuracy_vs_neurons.png", dpi=120)
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        for c in rows:
            if c["neurons"] == 7920 and c["dataset"] == dataset:
                s, a = c["curve"]
                ax.plot(s / 1e6, 100 * a, lw=0.8, label=f"{c['planes']} planes, seed {c['seed']}")
        ax.set_xlabel("samples (millions)")
        ax.set_ylabel("validation accuracy %")
        if dataset == "mnist":
            ax.set_ylim(97.5, 99.5)
        ax.set_title(f"{dataset}: 7,920 neurons per column")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(HERE / "accuracy_vs_samples_7920.png", dpi=120)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--ensemble"]:
        print(ensemble(sys.argv[2], int(sys.argv[3])))
    found = cells()
    print(table(found))
    for name in sorted({c["dataset"] for c in found}, reverse=True):
        print(f"\n{name}:\n{at_samples(found, name)}")
    plots(found)
