"""Shared by the training tests: the sample, a small fast run, and a tokenizer trained once per session."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from macedonizer.configs import RunConfig, TrainConfig
from tests.conftest import SAMPLE_DIR

SAMPLE = str(SAMPLE_DIR / "mk-sample.txt")
QUIET = RunConfig(progress=False, eval_every=3, eval_batches=2, checkpoint_every=3, log_every=1)
SMALL = TrainConfig(size="L2/H64", seq_len=32, batch_size=4, lr=2e-3, max_steps=6, dropout=0.1)
RESUME = replace(QUIET, resume=True)
MODERN = replace(SMALL, variant="modern")


class Crash(Exception):
    """What ``crash_after_step`` makes a run die of."""


def crash_after_step(monkeypatch, at: int = 3):
    """Make the next run die right after writing its step-``at`` checkpoint; return the real ``save_checkpoint``."""
    from macedonizer.train import loop

    real_save = loop.save_checkpoint

    def save_then_crash(out, state, step, keep):
        path = real_save(out, state, step, keep)
        if step == at:
            raise Crash()
        return path

    monkeypatch.setattr(loop, "save_checkpoint", save_then_crash)
    return real_save


def train_modern(tok, out: Path, steps: int = 4) -> Path:
    """A throwaway ModernBERT (2 layers, hidden 64) trained ``steps`` steps on the sample with ``tok``."""
    from macedonizer.train.pretrain import run

    config = replace(MODERN, max_steps=steps, dropout=0.0)
    return run([SAMPLE], tok, out, config, replace(QUIET, eval_every=steps, checkpoint_every=steps))


def losses(out):
    """(step, loss) of every training line of a run's metrics.jsonl."""
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"]) for r in rows if r["split"] == "train"]
