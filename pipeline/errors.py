"""Errors a user can act on: one line naming the problem and the fix."""


class PipelineError(Exception):
    """A stage cannot go on (bad input, missing data, unreachable sources)."""
