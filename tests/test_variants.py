"""Beyond D𝜋 (docs/variants.md): each variant does what its page says, is off by default,
and uses no pixel positions. (That the defaults stay D𝜋's model bit for bit is what the
rest of the suite checks: test_faithful, test_engine_exact, the committed replays.)"""

import json
from pathlib import Path

import forkrun
import numpy as np
import pytest
import stepwise
from hypothesis import given
from hypothesis import strategies as st
from strategies import configs, random_state

from snnpipe.engine import Config, Network
from snnpipe.engine.ensemble import stack
from snnpipe.engine.schedule import annealed
from snnpipe.engine.trainer import Trainer, decided_correct
from snnpipe.stores import checkpoint as ckpt

ROOT = Path(__file__).resolve().parents[1]


def snnpipe(*args, cwd):
    return forkrun.snnpipe(*args, cwd=cwd)


# ----------------------------------------------------------- learning-rate schedule
def test_every_variant_is_off_by_default_and_explained_by_config_show(tmp_path):
    variants = ("anneal_steps", "anneal_start")
    assert all(getattr(Config.preset(p), v) == 0 for v in variants
               for p in ("default", "dpi-98.9", "dpi-program", "dpi-program-98.9", "fashion"))
    res = snnpipe("config", "show", cwd=tmp_path)
    line = next(x for x in res.stdout.splitlines() if x.startswith("anneal_steps"))
    assert line.startswith("anneal_steps = 0") and "variant" in line and "off" in line
    assert "snapshots" not in res.stdout        # a run option, off unless a preset sets it
    plus = snnpipe("config", "show", "--preset", "mnist-plus", cwd=tmp_path)
    line = next(x for x in plus.stdout.splitlines() if x.startswith("snapshots"))
    assert line.startswith("snapshots = 10") and "train --snapshots K" in line


def test_config_show_states_what_each_preset_costs(tmp_path):
    """Every preset's cost (size, what it reached in how many samples and minutes on which
    machine, memory) is one comment line of `config show`, and the output stays TOML."""
    import tomllib

    from snnpipe.engine import PRESETS
    from snnpipe.pipeline.training.configuration import PRESET_SNAPSHOTS
    for preset in PRESETS:
        res = snnpipe("config", "show", "--preset", preset, cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        cost = [x for x in res.stdout.splitlines() if x.startswith(f"# cost of preset {preset}: ")]
        assert len(cost) == 1 and "neurons" in cost[0] and "GB" in cost[0], res.stdout
        model = {k: list(v) if isinstance(v, tuple) else v
                 for k, v in Config.preset(preset).to_dict().items()}
        run = {"snapshots": PRESET_SNAPSHOTS[preset]} if preset in PRESET_SNAPSHOTS else {}
        assert tomllib.loads(res.stdout) == {**model, **run}
    # a cost is the preset's as measured: with overrides it would describe something else
    res = snnpipe("config", "show", "--preset", "mnist-plus", "--set", "snapshots=3",
                  cwd=tmp_path)
    assert "# cost" not in res.stdout and "snapshots = 3" in res.stdout


@given(amount=st.integers(-10**6, 10**6), age=st.integers(0, 10**9),
       a=st.integers(1, 10**7), start=st.integers(0, 10**6))
def test_the_schedule_shrinks_amounts_toward_one_and_keeps_their_sign(amount, age, a, start):
    got = annealed(amount, start + age, a, start)
    assert annealed(amount, start + age, 0, start) == amount  # off: D𝜋's amount
    assert annealed(amount, start, a, start) == amount        # not started: unchanged
    if amount == 0:
        assert got == 0
        return
    assert np.sign(got) == np.sign(amount) and 1 <= abs(got) <= abs(amount)
    assert abs(got) == max(1, abs(amount) * a // (a + age))
    assert abs(annealed(amount, start + age + 1000, a, start)) <= abs(got)  # never grows


def test_a_config_whose_schedule_could_overflow_is_refused():
    with pytest.raises(ValueError, match=r"anneal_steps \(2147483647\) \* spike_threshold"):
        Config(anneal_steps=2**31 - 1, spike_threshold=2**40, slots=1)
    with pytest.raises(ValueError, match="anneal_steps"):
        Config(anneal_steps=-1)
    with pytest.raises(ValueError, match="anneal_start"):
        Config(anneal_steps=10, anneal_start=-1)


# ------------------------------------------------------------------------ ensembles
@given(cfg=configs(), k=st.integers(2, 4), seed=st.integers(0, 10**6))
def test_a_stacked_network_counts_the_sum_of_its_members(cfg, k, seed):
    members = [random_state(cfg, seed + i) for i in range(k)]
    big_cfg, rec, w = stack([cfg] * k, [m[0] for m in members], [m[1] for m in members])
    assert big_cfg.neurons == k * cfg.neurons
    rng = np.random.default_rng(seed)
    planes = rng.random((9, len(cfg.levels), cfg.receptors)) < 0.4
    planes = np.logical_or.accumulate(planes, axis=1)          # nested, like intensities
    want = sum(Network.from_arrays(cfg, r, x).spike_counts(planes) for r, x in members)
    assert np.array_equal(Network.from_arrays(big_cfg, rec, w).spike_counts(planes), want)


def test_stack_refuses_members_the_forward_pass_reads_differently():
    a, b = Config(neurons=3), Config(neurons=3, levels=(200, 100))
    ra, wa = random_state(a, 0)
    rb, wb = random_state(b, 1)
    with pytest.raises(ValueError, match="levels"):
        stack([a, b], [ra, rb], [wa, wb])


@pytest.fixture(scope="module")
def tiny_run(mnist_store, tmp_path_factory):
    root = tmp_path_factory.mktemp("ens")
    res = snnpipe("train", "--data-dir", mnist_store.parent, "--epochs", 3, "--set",
                  "neurons=30", "--limit-train", 2000, "--validation", 300, "--seed", 5,
                  "--run-dir", root / "run", "--wandb-mode", "disabled", cwd=root)
    assert res.returncode == 0, res.stderr
    return root


def test_snnpipe_ensemble_scores_the_summed_votes(tiny_run, mnist_store):
    from snnpipe.stores.dataset import open_dataset
    root, data = tiny_run, mnist_store.parent
    res = snnpipe("ensemble", "ens.zarr", "run", "--last", 2, cwd=root)
    assert res.returncode == 0, res.stderr
    cp = ckpt.load(root / "ens.zarr")
    members = [root / "run" / "checkpoints" / f"epoch-000{e}.zarr" for e in (2, 3)]
    assert cp.cfg.neurons == 60
    assert cp.attrs["ensemble"]["members"] == [str(m.resolve()) for m in members]
    assert cp.attrs["holdout"] == {"validation": 300, "limit_train": 2000}
    assert cp.attrs["data"] == ckpt.load(members[0]).attrs["data"]
    ds = open_dataset(mnist_store)
    for split, images, args in (
            ("test", ds.load("test", 500), ["--limit", 500]),
            ("validation", ds.load("train", 2000).split_off(300)[1], [])):
        counts = 0
        for m in members:
            c = ckpt.load(m)
            counts = counts + Network.from_arrays(c.cfg, c.arrays["receptors"],
                                                  c.arrays["weights"]).spike_counts(
                                                      images.planes)
        want = decided_correct(counts, images.labels.astype(np.int64))[0].mean()
        res = snnpipe("eval", "ens.zarr", "--split", split, *args, "--json", "--data-dir",
                      data, cwd=root)
        assert res.returncode == 0, res.stderr
        got = json.loads(res.stdout)["results"][0]
        assert got["accuracy"] == pytest.approx(want, abs=1e-12) and got["split"] == split
    # the hold-out is the checkpoint's own: a mismatched size, or a network trained on every
    # training image, is refused (a "validation" score would be a training score)
    for args, words in ((["ens.zarr", "--split", "validation", "--validation", 5], "300"),
                        (["ens.zarr", "--validation", 300], "--split validation"),
                        ([ROOT / "docs" / "reproduce" / "best.zarr", "--split", "validation"],
                         "every training image")):
        res = snnpipe("eval", *args, "--data-dir", data, cwd=root)
        assert res.returncode == 1 and words in res.stderr, res.stderr
    # predict and the estimator read it like any checkpoint
    from snnpipe.stores.checkpoint import load_estimator
    x = images.pixels[:50]
    assert load_estimator(root / "ens.zarr").score(x, images.labels[:50]) == pytest.approx(
        decided_correct(counts[:50], images.labels[:50].astype(np.int64))[0].mean())
    # one line, nothing written, for each kind of bad request
    res = snnpipe("ensemble", "ens.zarr", "run", cwd=root)
    assert res.returncode == 1 and res.stderr.count("error:") == 1, res.stderr
    assert "exists" in res.stderr and "Traceback" not in res.stderr
    from snnpipe.pipeline.errors import PipelineError
    from snnpipe.pipeline.training.ensemble import build_ensemble
    for args, words in (([[members[0]], root / "one.zarr"], "at least 2"),
                        ([[root / "run"], root / "x.zarr", 0], "--last"),
                        ([[root / "run"], root / "x.zarr", 4], "fewer than --last 4"),
                        ([members, root / "x.zarr", 2], "takes snapshots from a run folder"),
                        ([[root / "run", members[0]], root / "x.zarr"], "named twice"),
                        ([[root / "ens.zarr", members[0]], root / "x.zarr"], "itself an"),
                        ([members, root / "run" / "e.zarr"], "inside the run folder"),
                        ([members, members[0], 2, True], "inside the run folder"),
                        ([[root / "nowhere", root / "run"], root / "y.zarr"], "no such")):
        with pytest.raises(PipelineError, match=words) as exc:
            build_ensemble(*args)
        assert "\n" not in str(exc.value)
    assert not any((root / n).exists() for n in ("one.zarr", "x.zarr", "y.zarr"))


def test_the_snapshots_option_writes_the_ensemble_of_the_last_k_epochs(tiny_run, mnist_store):
    """`--snapshots 2` leaves learning as it was (the same epochs, bit for bit, as tiny_run,
    which has the switch off), always keeps the last 2 epochs, and writes exactly the
    network `snnpipe ensemble --last 2` builds, scored in the final row."""
    from snnpipe.pipeline.training.ensemble import build_ensemble
    from snnpipe.stores.runs import read_metrics
    root, data = tiny_run, mnist_store.parent
    trained = snnpipe("train", "--data-dir", data, "--epochs", 3, "--set", "neurons=30",
                  "--snapshots", 2, "--checkpoint-every", 3, "--limit-train", 2000,
                  "--validation", 300, "--seed", 5, "--run-dir", root / "snap",
                  "--wandb-mode", "disabled", cwd=root)
    assert trained.returncode == 0, trained.stderr
    folder = root / "snap" / "checkpoints"
    assert sorted(p.name for p in folder.glob("epoch-*")) == ["epoch-0002.zarr",
                                                            "epoch-0003.zarr"]
    for e in (2, 3):
        a, b = (ckpt.load(r / "checkpoints" / f"epoch-000{e}.zarr") for r in (root / "run",
                                                                             root / "snap"))
        assert all(np.array_equal(a.arrays[k], b.arrays[k]) for k in ("receptors", "weights"))
    build_ensemble([root / "run"], root / "by-hand.zarr", last=2)
    got, want = ckpt.load(folder / "snapshots.zarr"), ckpt.load(root / "by-hand.zarr")
    assert got.cfg == want.cfg and got.cfg.neurons == 60
    assert all(np.array_equal(got.arrays[k], want.arrays[k]) for k in ("receptors", "weights"))
    assert got.attrs["holdout"] == {"validation": 300, "limit_train": 2000}
    row = read_metrics(root / "snap")[-1]
    res = snnpipe("eval", folder / "snapshots.zarr", "--split", "validation", "--json",
                  "--data-dir", data, cwd=root)
    assert res.returncode == 0, res.stderr
    assert row["snapshots"] == 2
    assert row["snapshots_validation_accuracy"] == json.loads(res.stdout)["results"][0][
        "accuracy"]
    assert (f"snapshots: the last 2 epochs' networks together score "
            f"{100 * row['snapshots_validation_accuracy']:.2f} % validation") in trained.stdout


def test_a_run_from_when_snapshots_was_a_config_field_resumes_with_it(mnist_store, tmp_path):
    """Before `snapshots` became a run option it was a Config field: such a run has it in
    config.toml and in its checkpoints' config, not in run.json. Its checkpoints load (the
    key is dropped), and the resumed run keeps its K, which --snapshots cannot change."""
    import zarr
    data, run = mnist_store.parent, tmp_path / "old"
    first = snnpipe("train", "--data-dir", data, "--epochs", 1, "--set", "neurons=30",
                    "--limit-train", 2000, "--validation", 300, "--run-dir", run,
                    "--wandb-mode", "disabled", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    info = json.loads((run / "run.json").read_text())
    assert info["options"].pop("snapshots") == 0
    (run / "run.json").write_text(json.dumps(info))
    with open(run / "config.toml", "a") as f:
        f.write("snapshots = 2\n")
    for name in ("last.zarr", "best.zarr", "epoch-0001.zarr"):
        group = zarr.open_group(run / "checkpoints" / name, mode="r+")
        group.attrs["config"] = {**group.attrs["config"], "snapshots": 2}
        assert ckpt.load(run / "checkpoints" / name).cfg.neurons == 30
    refused = snnpipe("train", "--resume", run, "--epochs", 3, "--snapshots", 3, cwd=tmp_path)
    assert refused.returncode != 0 and "--snapshots" in refused.stderr
    res = snnpipe("train", "--resume", run, "--epochs", 3, "--data-dir", data,
                  "--wandb-mode", "disabled", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    from snnpipe.stores.runs import read_metrics
    assert read_metrics(run)[-1]["snapshots"] == 2
    assert ckpt.load(run / "checkpoints" / "snapshots.zarr").cfg.neurons == 60


def test_a_winner_preset_trains_in_one_command_building_the_store_its_levels_need(tmp_path):
    """`--preset fashion-plus` (8 planes, snapshots = 10) on a data dir whose store has
    D𝜋's 4 levels: train builds the 8-level store beside it and votes with its snapshots."""
    data = tmp_path / "data"
    assert snnpipe("preprocess", "--dataset", "digits", "--data-dir", data,
                   cwd=tmp_path).returncode == 0
    res = snnpipe("train", "--dataset", "digits", "--data-dir", data, "--preset",
                  "fashion-plus", "--set", "neurons=20", "--epochs", 2, "--validation", 300,
                  "--run-dir", tmp_path / "run", "--wandb-mode", "disabled", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    levels = Config.preset("fashion-plus").levels
    built = data / f"digits-levels-{'-'.join(map(str, levels))}.zarr"
    assert built.is_dir() and f"built {built}" in res.stderr
    cp = ckpt.load(tmp_path / "run" / "checkpoints" / "snapshots.zarr")
    assert cp.cfg.levels == levels and cp.cfg.neurons == 40
    assert "snapshots: the last 2 epochs' networks together score" in res.stdout
    assert json.loads((tmp_path / "run" / "run.json").read_text())["options"]["snapshots"] == 10
    # config.toml, fed back with --config, trains the same way: the run option is in it
    assert "snapshots = 10" in (tmp_path / "run" / "config.toml").read_text()


# ------------------------------------------------------------------- no positions
def _relabel(net: Network, perm: np.ndarray) -> Network:
    """The same network wired to pixel perm[r] instead of r... seen from permuted data,
    where old pixel r sits at position inv[r]."""
    inv = np.argsort(perm)
    return Network.from_arrays(net.cfg, inv[net.receptors], net.weights)


@given(cfg=configs(), seed=st.integers(0, 10**6))
def test_every_rule_commutes_with_a_permutation_of_the_pixels(cfg, seed):
    """The forward pass and reinforcement (with the schedule's amounts) see receptors only
    as labels: relabel the pixels, and each rule's result is relabelled the same way.
    (Stacking copies receptors as they are, so it commutes too.)"""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(cfg.receptors)
    net = Network.from_arrays(cfg, *random_state(cfg, seed))
    planes = np.logical_or.accumulate(
        rng.random((7, len(cfg.levels), cfg.receptors)) < 0.4, axis=1)
    moved = _relabel(net, perm)
    assert np.array_equal(moved.spike_counts(planes[:, :, perm]), net.spike_counts(planes))
    amount = annealed(cfg.reinforce_positive, int(rng.integers(0, 1000)), 50, 10)
    stepwise.reinforce(net, planes[0], 0, amount)
    stepwise.reinforce(moved, planes[0][:, perm], 0, amount)
    assert np.array_equal(moved.weights, net.weights)
    assert np.array_equal(_relabel(net, perm).receptors, moved.receptors)


@pytest.mark.parametrize("variant", [{}, {"anneal_steps": 2_000}])
def test_training_on_permuted_pixels_scores_the_same_within_noise(variant):
    """End to end, growth included (it draws among the active pixels, whose order a
    permutation changes, so equality holds in distribution, not bit for bit): 3 seeds on
    scikit-learn's digits as they are and with their pixels permuted; the means agree within
    the seeds' noise. A rule that used positions (a local receptive field, a shift) would
    not."""
    from sklearn.datasets import load_digits

    from snnpipe.engine.encoding import planes_from_pixels
    x, y = load_digits(return_X_y=True)
    pixels = np.rint(x * 255 / 16).astype(np.uint8)
    cfg = Config(neurons=60, receptors=64, batch_size=10, **variant)
    perm = np.random.default_rng(99).permutation(64)
    scores = {False: [], True: []}
    for permuted, seed in ((p, s) for p in (False, True) for s in range(3)):
        px = pixels[:, perm] if permuted else pixels
        planes, labels = planes_from_pixels(px, cfg.levels), y.astype(np.int64)
        trainer = Trainer(cfg, seed=seed)
        for _ in range(8):                    # 8 epochs: above 70 % (chance 10 %)
            trainer.train_epoch(planes[:1437], px[:1437], labels[:1437])
        counts = trainer.net.spike_counts(planes[1437:])
        scores[permuted].append(decided_correct(counts, labels[1437:])[0].mean())
    plain, moved = np.array(scores[False]), np.array(scores[True])
    noise = max(plain.std(ddof=1), moved.std(ddof=1), 0.01)
    assert plain.mean() > 0.6, plain                     # it learned: the check has teeth
    assert abs(plain.mean() - moved.mean()) < 3 * noise, (plain, moved)
