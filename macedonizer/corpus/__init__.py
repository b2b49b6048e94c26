"""Corpus cleaning: readers, repairs, language ID, quality filters, dedup, PII."""

from .pipeline import CleanConfig, RunOptions, run

__all__ = ["CleanConfig", "RunOptions", "run"]
