"""The priming ablation: the same short run with both start-up rules, each alone, none."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from snnpipe.pipeline.errors import PipelineError
from snnpipe.pipeline.training.reproduce import ReproduceOptions, reproduce
from snnpipe.stores import runfolder

VARIANTS = {
    "both rules (default)": {"prime_forced_positive": True, "prime_negative_cap": True},
    "no forced positive step": {"prime_forced_positive": False, "prime_negative_cap": True},
    "no negative cap": {"prime_forced_positive": True, "prime_negative_cap": False},
    "neither rule": {"prime_forced_positive": False, "prime_negative_cap": False},
}
CHECKPOINTS = (250_000, 500_000, 1_000_000, 2_000_000)


def variant_slug(name: str) -> str:
    return name.split(" (")[0].replace(" ", "-")


def check_request(samples: int, out_dir: Path, only: list[str] | None) -> None:
    """Refuse, before anything runs, an unknown variant, no samples, or a variant whose
    folder already holds a run (priming does not resume)."""
    slugs = [variant_slug(n) for n in VARIANTS]
    for v in only or []:
        if v not in slugs:
            raise PipelineError(f"--variant {v!r}: choose from {', '.join(slugs)}")
    if samples < 1:
        raise PipelineError(f"--samples {samples}: must be >= 1 (samples per variant)")
    for slug in slugs:
        folder = Path(out_dir) / slug
        if (not only or slug in only) and runfolder.holds_run(folder, "reproduce"):
            raise PipelineError(f"{folder} already holds a priming run (priming does not "
                                "resume); pass another --run-dir")


def priming_ablation(base: ReproduceOptions, samples: int, out_dir: Path,
                     on_variant=None, only: list[str] | None = None) -> dict:
    """Run the variants (all, or those whose slug is in `only`) for `samples` samples;
    returns {variant: {samples: accuracy}}, also written to OUT_DIR/priming.json."""
    table = {}
    marks = [m for m in CHECKPOINTS if m <= samples] or [samples]
    chosen = {n: v for n, v in VARIANTS.items() if only is None or variant_slug(n) in only}
    for name, switches in chosen.items():
        opts = replace(base, config=base.config.replace(**switches), max_samples=samples,
                       hours=1e6, target=101.0, eval_every_samples=min(marks[0], 250_000),
                       run_dir=Path(out_dir) / variant_slug(name))
        res = reproduce(opts)
        by_samples = {p["samples_seen"]: p for p in res.points}
        row = {}
        for m in marks:
            near = min(by_samples, key=lambda s, m=m: abs(s - m))
            row[str(m)] = by_samples[near]["test_accuracy"]
        row["positive_learns"] = res.points[-1]["positive_learns"]
        row["negative_learns"] = res.points[-1]["negative_learns"]
        table[name] = row
        if on_variant is not None:
            on_variant(name, row)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    path = Path(out_dir) / "priming.json"
    merged = json.loads(path.read_text()) if path.exists() and only else {}
    merged.update(table)
    path.write_text(json.dumps(merged, indent=2) + "\n")
    return table
