"""The `snnpipe` console script: Ctrl-C and SIGTERM are handled from its first line.

pyproject.toml points the script at `main` here. Importing this module installs the
handlers before anything else is imported: with `_signal`, the C module the interpreter
loaded at start-up (`signal` itself spends milliseconds building its enums), then
`snnpipe.pipeline.cli` and the heavy modules (numba, zarr, dask, typer) follow. A signal that
arrives before `snnpipe.pipeline.cli` takes over ends the process at once, with exit code 130
(SIGINT) or 143 (SIGTERM) and one word, no traceback: nothing has been written yet.
What runs before this module (the interpreter's own start-up, `site` and the `.pth` files
of the environment) is out of any program's reach.
"""

import _signal
import os
import sys

_EXITS = {_signal.SIGINT: (130, b"interrupted\n"), _signal.SIGTERM: (143, b"terminated\n")}


def _early(signum: int, frame: object) -> None:
    """Leave at once: a signal during start-up finds nothing half-written."""
    code, word = _EXITS.get(signum, (128 + signum, b"stopped\n"))
    os.write(2, word)
    os._exit(code)


def install() -> bool:
    """Install the start-up handlers unless someone else has set SIGINT's (a test runner, a
    program that embeds snnpipe); returns whether they were installed."""
    if _signal.getsignal(_signal.SIGINT) is not _signal.default_int_handler:
        return False
    for sig in _EXITS:
        _signal.signal(sig, _early)
    return True


def is_early(handler: object) -> bool:
    """Whether `handler` is the start-up one, which `snnpipe.pipeline.cli` replaces once loaded."""
    return handler is _early


def main() -> None:
    """The console script: handlers first, then the command line."""
    install()
    from snnpipe.stores import faults  # tests signal at this known point
    faults.hit("import", 1)
    from snnpipe.pipeline.cli import app
    app()


if __name__ == "__main__" or os.path.basename(sys.argv[0]) == "snnpipe":
    install()                           # at import: before the script imports anything else
if __name__ == "__main__":
    main()
