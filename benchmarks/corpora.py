"""Where the benchmarks find their Macedonian text: ``--data DIR``, else $MACEDONIZER_CORPORA, else the
corpora folder beside the checkout (as the tests look for it)."""

from __future__ import annotations

import os
from pathlib import Path

CORPORA = Path(os.environ.get("MACEDONIZER_CORPORA", Path(__file__).resolve().parents[2] / "shared" / "corpora"))
DEFAULT_DATA = CORPORA / "mk"


def wiki_path(data: Path | None) -> Path:
    """``DATA/wiki.txt``: ``--data``, else $MACEDONIZER_CORPORA/mk; a missing file ends in one line."""
    folder = data or DEFAULT_DATA
    path = folder / "wiki.txt"
    if not path.is_file():
        hint = "" if data else " (pass --data DIR, a folder holding wiki.txt)"
        raise SystemExit(f"Error: benchmark text not found: {path}{hint}")
    return path
