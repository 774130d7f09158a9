"""Errors a user can act on: one line naming the problem and the fix."""


class PipelineError(Exception):
    """A stage cannot go on (bad input, missing data, unreachable sources)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that what is being written cleans up after itself;
    the command then exits 143 (128 + SIGTERM) instead of Ctrl-C's 130."""


def user_error_types() -> tuple[type[Exception], ...]:
    """What a command reports as one `error:` line: the pipeline's errors, the stores' and
    the configuration's."""
    from snnpipe.engine import ConfigError
    from snnpipe.stores.errors import StoreError
    return (PipelineError, StoreError, ConfigError)
