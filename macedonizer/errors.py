"""Errors a user can cause, reported as one sentence and a non-zero exit.

Every one of them derives from ``MacedonizerError``; the CLI prints its
message alone (``Error: …``) and exits with status 1. Anything else that
escapes is a bug and keeps its traceback.
"""


class MacedonizerError(Exception):
    """A problem with the user's input, config or environment (not a bug)."""


class ConfigError(MacedonizerError, ValueError):
    """A setting that cannot work: an unknown choice, a value out of range, a bad licence or repo id.

    Raised by the config dataclasses themselves, so Python, the CLI and TOML fail alike.
    """


class InputError(MacedonizerError):
    """An input that cannot be read: a missing or damaged file, an unknown spec, an unreachable dataset."""


class HubError(MacedonizerError):
    """The Hugging Face Hub refused or could not be reached (after the retries)."""


class TrainingDiverged(MacedonizerError):
    """The loss became NaN or infinite; the run stopped at ``step``."""

    def __init__(self, message: str, step: int):
        super().__init__(message)
        self.step = step


class OutOfMemory(MacedonizerError):
    """The device ran out of memory at a batch size."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with a message that says what was kept; the CLI prints it and exits 130.

    A ``KeyboardInterrupt``, not a ``MacedonizerError``, so that nothing that
    catches errors swallows it.
    """


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (a library's message can run to a page), or its type's name."""
    message = str(exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__
