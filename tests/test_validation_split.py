"""`--validation N` on a data set with few training images: training needs one whole batch
after the hold-out, so a data set smaller than a batch is refused with the count of its
images and how to set `batch_size`, never with an empty range blaming --validation. `train`,
`reproduce` and a sweep spec (before any trial runs) say the same. In-process, tiny data."""

from inprocess import error_line, ok
from test_import import make_npz
from typer.testing import CliRunner

from snnpipe.pipeline.cli import app

runner = CliRunner()
TINY = ["--set", "neurons=10", "--wandb-mode", "disabled"]


def small(tmp_path):
    """150 training images: fewer than one batch of the default 200."""
    data = tmp_path / "d"
    ok("import", "small", make_npz(tmp_path / "s.npz", n_train=150), "--data-dir", data)
    ok("preprocess", "--dataset", "small", "--data-dir", data)
    return data


def test_train_and_reproduce_name_the_batch_when_the_data_set_is_smaller(tmp_path):
    data = small(tmp_path)
    for cmd in (["train", "--epochs", 1], ["reproduce", "--max-samples", 300]):
        msg = error_line(*cmd, "--dataset", "small", "--data-dir", data, "--validation", 30,
                         *TINY, "--run-dir", tmp_path / "r")
        assert "150 training images" in msg, msg
        assert "fewer than one batch (batch_size = 200)" in msg
        assert "--set batch_size=120" in msg and "-50" not in msg
        assert not (tmp_path / "r").exists()
    # with a smaller batch the same hold-out trains; a too large one names its range
    ok("train", "--epochs", 1, "--dataset", "small", "--data-dir", data, "--validation", 30,
       *TINY, "--set", "batch_size=100", "--run-dir", tmp_path / "r")
    msg = error_line("train", "--epochs", 1, "--dataset", "small", "--data-dir", data,
                     "--validation", 80, *TINY, "--set", "batch_size=100",
                     "--run-dir", tmp_path / "r2")
    assert "must be between 1 and 50" in msg


def test_a_sweep_refuses_such_a_spec_before_any_trial_runs(tmp_path):
    data = small(tmp_path)
    spec = tmp_path / "spec.toml"
    spec.write_text('name = "tiny"\ndataset = "small"\nvalidation = 30\nseeds = 1\n'
                    "budget_samples = 300\n[fixed]\nneurons = 10\n"
                    "[grid]\nbatch_size = [100, 200]\n")
    folder = tmp_path / "sweep"
    res = runner.invoke(app, ["sweep", str(spec), "--folder", str(folder), "--data-dir",
                              str(data), "--workers", "1", "--wandb-mode", "disabled"])
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert res.exit_code == 1 and len(errors) == 1, res.output
    assert "validation = 30" in errors[0] and "batch_size = 200" in errors[0]
    assert "batch_size to at most 120" in errors[0] and "[fixed]" in errors[0]
    assert "trials" not in res.stderr.replace("trials into", "")   # no trial ran
    assert not folder.exists()
