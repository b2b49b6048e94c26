"""Shared fixtures: paths to the bundled sample and to the real evaluation text, a tiny trained model."""

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


@pytest.fixture(scope="session")
def tok(tmp_path_factory) -> Path:
    """The one test tokenizer: 1,200 WordPiece tokens trained on the sample, once per test session
    (the trainer is deterministic, so every package's tests see the same one)."""
    from macedonizer.configs import TokenizerConfig
    from macedonizer.tokenizer import run as train_tokenizer

    return train_tokenizer([str(SAMPLE_DIR / "mk-sample.txt")], tmp_path_factory.mktemp("tok") / "tok",
                           TokenizerConfig(vocab_size=1200), progress=False)


@pytest.fixture(scope="session")
def tiny_model(tok, tmp_path_factory) -> Path:
    """A throwaway BERT (2 layers, hidden 64, 3 steps) trained on the sample with ``tok``, with its model card,
    as `macedonizer build` leaves each model: built once per test session, in seconds."""
    from macedonizer.cards import render
    from macedonizer.configs import RunConfig, TrainConfig
    from macedonizer.train.pretrain import run as pretrain

    root = tmp_path_factory.mktemp("tiny-model")
    sample = [str(SAMPLE_DIR / "mk-sample.txt")]
    config = TrainConfig(size="L2/H64", seq_len=32, batch_size=4, max_steps=3)
    model = Path(pretrain(sample, tok, root / "model", config, RunConfig(progress=False, eval_every=3, checkpoint_every=3)))
    render(model)
    return model
