"""Shared by the training tests: the sample, a small fast run, and a tokenizer trained once per session."""

from __future__ import annotations

import json
from dataclasses import replace


from macedonizer.configs import RunConfig, TrainConfig
from tests.conftest import SAMPLE_DIR

SAMPLE = str(SAMPLE_DIR / "mk-sample.txt")
QUIET = RunConfig(progress=False, eval_every=3, eval_batches=2, checkpoint_every=3, log_every=1)
SMALL = TrainConfig(size="L2/H64", seq_len=32, batch_size=4, lr=2e-3, max_steps=6, dropout=0.1)
RESUME = replace(QUIET, resume=True)



def losses(out):
    """(step, loss) of every training line of a run's metrics.jsonl."""
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"]) for r in rows if r["split"] == "train"]
