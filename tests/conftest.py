"""Shared fixtures: paths to the bundled sample and to the real evaluation text."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO / "corpora" / "sample"
# Real Macedonian and neighbour-language text lives beside the repository
# (../shared/corpora); tests that need it skip where it is absent.
# MACEDONIZER_CORPORA points elsewhere when the checkout lives somewhere else.
SHARED_CORPORA = Path(os.environ.get("MACEDONIZER_CORPORA", REPO.parent / "shared" / "corpora"))


def read_jsonl_gz(folder: Path, pattern: str = "part*.jsonl.gz") -> list[dict]:
    rows = []
    for path in sorted(folder.glob(pattern)):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            rows.extend(json.loads(line) for line in f)
    return rows


@pytest.fixture
def shared_corpora() -> Path:
    if not (SHARED_CORPORA / "mk").is_dir():
        pytest.skip(f"real evaluation text not found at {SHARED_CORPORA}")
    return SHARED_CORPORA
