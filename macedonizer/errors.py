"""Errors a user can cause, reported as one sentence and a non-zero exit."""


class MacedonizerError(Exception):
    """A problem with the user's input, config or environment (not a bug).

    The CLI prints its message, alone, and exits with status 1.
    """
