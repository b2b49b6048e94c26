"""The unit that flows through the cleaning pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Document:
    """One document: its text, where it came from, and what we learned about it."""

    text: str
    source: str
    """The input it was read from: a file path, ``hf:ID`` or ``corpus:NAME``."""
    id: str
    """Stable within its source: ``<source>:<line or row number>``."""
    meta: dict = field(default_factory=dict)
