"""The reproduction stage, the plots and the priming ablation, on a small real slice."""

import json
from pathlib import Path

import numpy as np
import pytest

from snnpipe.engine import Config
from snnpipe.pipeline.results.plots import plot_run
from snnpipe.pipeline.training.ablation import VARIANTS, priming_ablation
from snnpipe.pipeline.training.reproduce import ReproduceOptions, reproduce
from snnpipe.stores import checkpoint as ckpt

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


def test_dpi_program_prints_his_numbers_at_20000_positive_steps(mnist_store, tmp_path):
    """docs/model.md's check point of D𝜋's own run (rule F5), through the real CLI: after
    20,000 positive steps, batch 5,127 (1,025,400 samples), 29,851 negative steps, test
    accuracy 66.45 %."""
    import forkrun
    run = tmp_path / "dpi"
    res = forkrun.snnpipe("reproduce", "--preset", "dpi-program", "--eval-every-positive",
                          "5000", "--max-samples", "1030000", "--run-dir", run)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(ln) for ln in (run / "results.jsonl").read_text().splitlines()]
    marks = [r for r in rows if r["mid_batch"]]
    assert [r["positive_learns"] for r in marks] == [5000, 10000, 15000, 20000]
    his = marks[-1]
    assert (his["batches_seen"], his["samples_seen"], his["negative_learns"]) == (
        5127, 1_025_400, 29_851)
    assert round(his["test_accuracy"] * 10_000) == 6645
    assert {"q_positive", "q_negative", "test_accuracy"} <= set(his)
    assert "1,025,400 samples  batch   5,127" in res.stdout and "66.45 %" in res.stdout


def test_reproduce_resumes_bit_identically_in_faithful_mode(mnist_store, tmp_path):
    cfg = Config.preset("dpi-program").replace(neurons=60)
    kw = dict(config=cfg, seed=1000, eval_every_samples=None, eval_every_positive=100,
              checkpoint_every_samples=10_000)
    straight = reproduce(_opts(tmp_path, run_dir=tmp_path / "a", max_samples=60_000, **kw))
    reproduce(_opts(tmp_path, run_dir=tmp_path / "b", max_samples=30_000, **kw))
    resumed = reproduce(_opts(tmp_path, run_dir=None, resume=tmp_path / "b",
                              max_samples=60_000))
    a = ckpt.load(tmp_path / "a" / "checkpoints" / "last.zarr")
    b = ckpt.load(tmp_path / "b" / "checkpoints" / "last.zarr")
    assert np.array_equal(a.arrays["weights"], b.arrays["weights"])
    assert np.array_equal(a.arrays["receptors"], b.arrays["receptors"])
    assert a.state == b.state and a.state["rng"]["bit_generator"] == "glibc"

    def marks(points):
        drop = ("wall_seconds", "train_seconds")
        return [{k: v for k, v in p.items() if k not in drop} for p in points if p["mid_batch"]]
    assert len(marks(straight.points)) >= 3
    assert marks(straight.points) == marks(resumed.points)
