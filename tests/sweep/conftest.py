"""Shared by the sweep's tests: the sample, a tiny grid, a tokenizer and one finished sweep."""

from __future__ import annotations

from dataclasses import replace

import pytest

from macedonizer import sweep
from macedonizer.sweep import SweepConfig
from tests.conftest import SAMPLE_DIR

SAMPLE = str(SAMPLE_DIR / "mk-sample.txt")
# A learning rate that trains (to a plateau: 30 steps learn word frequencies at best) and one so large that the
# loss turns NaN at once: each run's outcome is known.
GRID = SweepConfig(sizes=("L1/H32",), lrs=(5e-3, 1e30), warmups=(0.0,), variants=("post-ln", "pre-ln"), steps=30,
                   seq_len=32, batch_size=8, eval_every=15, eval_batches=1, diagnostics_every=10, device="cpu")



@pytest.fixture(scope="session")
def swept(tok, tmp_path_factory):
    """A finished four-run sweep (two variants × a sane and an absurd learning rate) in two worker processes.

    Shared by test_grid and test_report: a test that changes it leaves every run finished again.
    """
    out = tmp_path_factory.mktemp("sweep") / "out"
    sweep.run([SAMPLE], tok, out, replace(GRID, workers=2), progress=False)
    return out
