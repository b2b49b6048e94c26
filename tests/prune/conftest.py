"""Shared by the pruning tests: a 4-layer parent trained a few steps (once for the package), and helpers."""

from __future__ import annotations

import pytest
from transformers import AutoModelForMaskedLM

from macedonizer.configs import RunConfig, TrainConfig
from macedonizer.train.pretrain import run
from tests.conftest import SAMPLE_DIR

SAMPLE = str(SAMPLE_DIR / "mk-sample.txt")
QUIET = RunConfig(progress=False, eval_every=40, checkpoint_every=40, log_every=10)
PARENT = TrainConfig(size="L4/H32", seq_len=32, batch_size=8, lr=3e-3, max_steps=40, dropout=0.0)


@pytest.fixture(scope="package")
def parent(tok, tmp_path_factory):
    """A 4-layer model trained a few steps, in ROOT/models/L4-H32, and its tokenizer (the session's)."""
    root = tmp_path_factory.mktemp("prune")
    return run([SAMPLE], tok, root / "models" / "L4-H32", PARENT, QUIET), tok


def load(path):
    return AutoModelForMaskedLM.from_pretrained(path)


def layer_state(model, index: int) -> dict:
    prefix = f"bert.encoder.layer.{index}."
    return {k[len(prefix):]: v for k, v in model.state_dict().items() if k.startswith(prefix)}
