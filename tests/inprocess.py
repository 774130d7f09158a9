"""Commands in this process, through typer's runner: for every check that needs no signal
and no exit code of a real process (those run in tests/forkrun.py's children)."""

from typer.testing import CliRunner

from snnpipe.pipeline.cli import app

runner = CliRunner()


def ok(*args) -> str:
    """Run `snnpipe ARGS`; it must succeed. Returns its stdout."""
    res = runner.invoke(app, [*map(str, args)])
    assert res.exit_code == 0, (args, res.output, res.exception)
    return res.stdout


def error_line(*args) -> str:
    """Run `snnpipe ARGS`; it must refuse in one `error:` line with exit code 1."""
    res = runner.invoke(app, [*map(str, args)])
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.exit_code == 1, (args, res.exit_code, res.output, res.exception)
    assert len(lines) == 1 and lines[0].startswith("error:"), (args, res.stderr)
    return lines[0]
