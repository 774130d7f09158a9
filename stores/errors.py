"""Errors a user can act on: the message is one line naming the problem and the fix."""


class StoreError(Exception):
    """A store, checkpoint or run folder is missing, corrupt, foreign or mismatched."""
