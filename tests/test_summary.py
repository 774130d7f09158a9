"""The long-run summary: first reach, best-of-many and late-band level from results.jsonl."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snnpipe.pipeline.results.summary import parse_band, summarize


def _points(accs: list[float], step: int = 1_000_000) -> list[dict]:
    return [{"samples_seen": (i + 1) * step, "positive_learns": 10 * (i + 1),
             "wall_seconds": 60.0 * (i + 1), "test_accuracy": a} for i, a in enumerate(accs)]


@given(st.lists(st.integers(9000, 9999), min_size=1, max_size=60),
       st.integers(9000, 9999))
def test_first_reach_best_and_bands_agree_with_the_points(raw, target_raw):
    accs = [r / 10_000 for r in raw]
    target = target_raw / 100
    pts = _points(accs)
    s = summarize(pts, targets=(target,), bands=((1_000_000, 10_000_000),))
    hits = [i for i, a in enumerate(accs) if 100 * a >= target - 1e-9]
    first = s["first_reach"][target]
    if hits:
        assert first["samples"] == pts[hits[0]]["samples_seen"]
        assert first["positive_steps"] == pts[hits[0]]["positive_learns"]
        assert all(100 * a < target - 1e-9 for a in accs[:hits[0]])
    else:
        assert first is None
    assert s["best"]["accuracy"] == pytest.approx(100 * max(accs))
    band = s["bands"][0]
    inside = [100 * a for a in accs[:10]]
    assert band.n == len(inside)
    assert band.mean == pytest.approx(statistics.fmean(inside))
    if len(inside) > 1:
        assert band.sd == pytest.approx(statistics.stdev(inside))


def test_band_parsing_and_refusals():
    assert parse_band("50M:100M") == (50_000_000, 100_000_000)
    assert parse_band("250k:1000000") == (250_000, 1_000_000)
    for bad in ("100M:50M", "x:1M", "1M", "-1:5", "nan:5"):
        with pytest.raises(ValueError):
            parse_band(bad)


def test_plot_band_prints_the_level_of_each_run_and_refuses_a_bad_band(tmp_path):
    import json
    from pathlib import Path

    import forkrun
    root = Path(__file__).resolve().parents[1]
    run = root / "docs" / "reproduce-98.9"
    cmd = ["plot", str(run), "--label", "exact",
           "--against", f"again={run}", "--output", str(tmp_path), "--band", "10M:58M"]
    res = forkrun.snnpipe(*cmd, cwd=root)
    assert res.returncode == 0, res.stderr
    points = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines() if x]
    band = summarize(points, bands=((10_000_000, 58_000_000),))["bands"][0]
    line = f"band 10-58 M samples: {band.mean:.2f} % ± {band.sd:.2f} (n = {band.n})"
    assert res.stdout.count(line) == 2                     # both labels, same run
    assert (tmp_path / "comparison.png").stat().st_size > 0
    bad = forkrun.snnpipe(*cmd[:-1], "58M:10M", cwd=root)
    assert bad.returncode != 0
    assert bad.stderr.strip().count("\n") == 0 and bad.stderr.startswith("error: --band")
