"""What ``clean`` keeps and how it runs: the filter groups, ``CleanConfig`` (the ``[clean]`` table) and ``RunOptions``."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError
from .filters import QualityConfig

FILTER_GROUPS = ("langid", "quality", "dedup", "near-dedup", "pii")
# Presets: what a name on --filters expands to.
FILTER_PRESETS = {
    "all": FILTER_GROUPS,
    "lang": ("langid", "dedup"),
    "none": (),
}


def parse_filters(spec: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``"all"``, ``"lang"``, ``"none"`` or a comma list of groups, to groups."""
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    groups: list[str] = []
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        if name in FILTER_PRESETS:
            expanded = FILTER_PRESETS[name]
        elif name in FILTER_GROUPS:
            expanded = (name,)
        else:
            known = ", ".join((*FILTER_PRESETS, *FILTER_GROUPS))
            raise ConfigError(f"Unknown filter group {name!r} (known: {known}).")
        groups.extend(g for g in expanded if g not in groups)
    return tuple(g for g in FILTER_GROUPS if g in groups)


@dataclass(frozen=True)
class ReadOptions:
    """How inputs are read (the reading part of the clean config)."""

    paragraphs: bool = False
    """``.txt``: documents are separated by blank lines, not one per line."""
    text_field: str = "text"
    """JSONL, Parquet and datasets: the field that holds the text."""
    max_line_bytes: int = 4_000_000
    """A line longer than this is not text anyone wrote; skipped, not read whole."""


@dataclass(frozen=True)
class CleanConfig:
    """Everything that decides what ``clean`` keeps (the ``[clean]`` table)."""

    filters: tuple[str, ...] = FILTER_GROUPS
    """Filter groups to run; normalisation always runs."""
    mk_threshold: float = 0.5
    """Documents with ``mk_score`` below this are dropped (``not_macedonian``)."""
    near_dup_threshold: float = 0.8
    """Estimated Jaccard similarity at which a document is a near duplicate."""
    minhash_perm: int = 128
    """MinHash permutations: more is more precise and slower."""
    shingle_words: int = 5
    """Near-dedup shingles are runs of this many words."""
    read: ReadOptions = field(default_factory=ReadOptions)
    quality: QualityConfig = field(default_factory=QualityConfig)
    docs_per_shard: int = 100_000
    """Output shard size in documents."""


@dataclass(frozen=True)
class RunOptions:
    """How the stage runs; changes speed and layout, never which text is kept."""

    workers: int = 1
    shard: tuple[int, int] | None = None
    """(I, N): process only shard I of N (0-based), for N independent jobs."""
    rejects: bool = False
    """Also write dropped documents with their reason."""
    overwrite: bool = False
    progress: bool = True
    batch_size: int = 256
