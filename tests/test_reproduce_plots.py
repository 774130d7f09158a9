"""The reproduction stage, the plots and the priming ablation, on a small real slice."""

import json
from pathlib import Path

import pytest

from engine import Config
from pipeline.ablation import VARIANTS, priming_ablation
from pipeline.plots import plot_run
from pipeline.reproduce import ReproduceOptions, reproduce
from stores import checkpoint as ckpt

SMALL = Config(neurons=40)


def _opts(tmp_path: Path, **kw) -> ReproduceOptions:
    base = dict(config=SMALL, max_samples=6_000, eval_every_samples=2_000, hours=1.0,
                target=101.0, run_dir=tmp_path / "rep", wandb_mode="disabled",
                data_dir=Path(__file__).resolve().parents[1] / "data")
    base.update(kw)
    return ReproduceOptions(**base)


def test_reproduce_records_points_and_keeps_best(mnist_store, tmp_path):
    res = reproduce(_opts(tmp_path))
    assert res.stopped_by == "6,000 samples seen"
    seen = [p["samples_seen"] for p in res.points]
    assert seen == sorted(seen) and seen[0] >= 2_000 and seen[-1] >= 6_000
    rows = [json.loads(ln) for ln in res.results_file.read_text().splitlines()]
    assert rows == res.points
    best = ckpt.load(res.run_dir / "checkpoints" / "best.zarr")
    assert best.metrics["test_accuracy"] == max(p["test_accuracy"] for p in res.points)
    for p in res.points:
        assert p["train_seconds"] <= p["wall_seconds"]
        assert 0 <= p["test_accuracy"] <= 1 and 0 <= p["train_accuracy"] <= 1

    paths = plot_run(res.run_dir)
    names = sorted(p.name for p in paths)
    assert names == ["accuracy_vs_samples.png", "accuracy_vs_time.png", "confusion.png",
                     "learning_and_connections.png", "receptive_fields.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5_000


def test_reproduce_stops_at_target(mnist_store, tmp_path):
    res = reproduce(_opts(tmp_path, target=0.0, max_samples=None))
    assert res.stopped_by == "target 0.0 % reached" and len(res.points) == 1


@pytest.mark.parametrize("samples", [4_000])
def test_priming_ablation_runs_every_variant(mnist_store, tmp_path, samples):
    table = priming_ablation(_opts(tmp_path), samples, tmp_path / "priming")
    assert list(table) == list(VARIANTS)
    for row in table.values():
        assert 0 <= row[str(samples)] <= 1
    for name, switches in VARIANTS.items():     # the cap holds wherever it is on
        row = table[name]
        if switches["prime_negative_cap"]:
            assert row["negative_learns"] <= 3 * row["positive_learns"] // 2 + 9
    assert json.loads((tmp_path / "priming" / "priming.json").read_text()) == table
