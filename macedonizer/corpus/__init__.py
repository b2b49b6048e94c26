"""Corpus cleaning: readers, repairs, language ID, quality filters, dedup, PII.

``run``, the clean stage, is imported on first use (the module ``__getattr__``
below): the pipeline loads datasketch and scipy, 0.4 to 1 s measured on two
cores, which what only reads recipes or configs (``macedonizer corpora``,
the model cards, the build config, ``macedonizer --help``) does not need.
"""

from __future__ import annotations

from .config import CleanConfig, RunOptions

__all__ = ["CleanConfig", "RunOptions", "run"]


def __getattr__(name: str):
    if name == "run":
        from .pipeline import run

        return run
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
