"""What a long run says about a claim: first reach of a target, the best, and the level.

A reproduction evaluates the test set hundreds of times; its best point is a best-of-many
(a selection on the test set), so the honest level is the mean over a late band of samples.
`summarize` reads a run's evaluation points and returns, per target, the first point that
reaches it (samples, positive steps, minutes), the best point, and mean ± sd per band.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snnpipe.pipeline.errors import PipelineError
from snnpipe.stores import runs


def load_points(run_dir: Path) -> list[dict]:
    """Evaluation points of a run, normalised to reproduce-style keys."""
    run_dir = Path(run_dir)
    files = sorted((run_dir / "results").glob("reproduce-*.jsonl"))   # before 2026-11
    if (run_dir / "results.jsonl").exists():
        files = [run_dir / "results.jsonl"]
    if files:
        return runs.read_jsonl(files[-1])      # a torn last line (a killed append) is dropped
    rows = runs.read_metrics(run_dir)
    if not rows:
        raise PipelineError(f"{run_dir} has no metrics yet (no metrics.jsonl or results/)")
    wall = np.cumsum([r.get("seconds", 0.0) for r in rows])
    return [{"samples_seen": r["samples_seen"], "wall_seconds": float(w),
             "test_accuracy": r.get("test_accuracy"),
             "validation_accuracy": r.get("validation_accuracy"),
             "train_accuracy": r.get("train_online_accuracy"),
             "positive_learns": r["positive_learns_total"],
             "negative_learns": r["negative_learns_total"],
             "live_positive": r["live_positive"], "live_negative": r["live_negative"]}
            for r, w in zip(rows, wall, strict=True)]


@dataclass
class Band:
    start: int          # samples_seen, inclusive
    end: int            # samples_seen, inclusive
    n: int
    mean: float | None  # test accuracy, %
    sd: float | None


def parse_band(text: str) -> tuple[int, int]:
    """'50M:100M' or '50000000:100000000' -> (start, end) in samples."""
    def number(part: str) -> int:
        part = part.strip().upper()
        scale = {"K": 1_000, "M": 1_000_000}.get(part[-1:], 1)
        digits = part[:-1] if scale > 1 else part
        try:
            value = float(digits) * scale
        except ValueError:
            raise ValueError(f"band bound {part!r} is not a number (e.g. 50M)") from None
        if value != value or value < 0:
            raise ValueError(f"band bound {part!r} must be >= 0")
        return int(value)
    if text.count(":") != 1:
        raise ValueError(f"band {text!r} must be START:END in samples, e.g. 50M:100M")
    lo, hi = (number(p) for p in text.split(":"))
    if lo >= hi:
        raise ValueError(f"band {text!r}: START must be below END")
    return lo, hi


def _percent(point: dict) -> float:
    return 100.0 * float(point["test_accuracy"])


def summarize(points: list[dict], targets: tuple[float, ...] = (98.65, 98.9),
              bands: tuple[tuple[int, int], ...] = ()) -> dict:
    """First reach of each target, the best point and mean ± sd per band (test accuracy)."""
    scored = [p for p in points if p.get("test_accuracy") is not None]
    out: dict = {"points": len(scored),
                 "last_samples": max((int(p["samples_seen"]) for p in scored), default=0)}
    first = {}
    for target in targets:
        hit = next((p for p in scored if _percent(p) >= target - 1e-9), None)
        first[target] = None if hit is None else {
            "samples": int(hit["samples_seen"]),
            "positive_steps": int(hit.get("positive_learns", 0)),
            "minutes": float(hit.get("wall_seconds", 0.0)) / 60,
            "accuracy": _percent(hit),
        }
    out["first_reach"] = first
    if scored:
        best = max(scored, key=_percent)
        out["best"] = {"accuracy": _percent(best), "samples": int(best["samples_seen"])}
    else:
        out["best"] = None
    rows = []
    for lo, hi in bands:
        acc = [_percent(p) for p in scored if lo <= int(p["samples_seen"]) <= hi]
        rows.append(Band(lo, hi, len(acc), statistics.fmean(acc) if acc else None,
                         statistics.stdev(acc) if len(acc) > 1 else None))
    out["bands"] = rows
    return out


def format_summary(label: str, s: dict) -> list[str]:
    """Printable lines for one run."""
    lines = [f"{label}: {s['points']} test evaluations up to {s['last_samples']:,} samples"]
    for target, hit in s["first_reach"].items():
        lines.append(f"  first >= {target} %: " + (
            "not reached" if hit is None else
            f"{hit['accuracy']:.2f} % at {hit['samples']:,} samples, "
            f"{hit['positive_steps']:,} positive steps, {hit['minutes']:.1f} min"))
    if s["best"]:
        lines.append(f"  best: {s['best']['accuracy']:.2f} % at {s['best']['samples']:,} samples")
    for b in s["bands"]:
        span = f"{b.start / 1e6:g}-{b.end / 1e6:g} M samples"
        lines.append(f"  band {span}: " + (
            "no evaluation" if b.n == 0 else
            f"{b.mean:.2f} %" + (f" ± {b.sd:.2f}" if b.sd is not None else "")
            + f" (n = {b.n})"))
    return lines


def summary_lines(runs_by_label: dict, bands: list[str]) -> list[str]:
    """`snnpipe plot --band`: the summary of every run (label -> run folder)."""
    try:
        parsed = tuple(parse_band(b) for b in bands)
    except ValueError as exc:
        raise PipelineError(f"--band: {exc}") from None
    lines = []
    for label, run_dir in runs_by_label.items():
        lines += format_summary(label, summarize(load_points(run_dir), bands=parsed))
    return lines
