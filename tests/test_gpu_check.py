"""benchmarks/gpu_check.sh runs its whole flow on CPU with --dry-run (the GPU run is the same code)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # see pyproject: `pytest -m "not slow"` leaves it out

REPO = Path(__file__).resolve().parent.parent


def test_gpu_check_dry_run_prints_its_table():
    result = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh"), "--dry-run"], capture_output=True,
                            text=True, timeout=600, env={**os.environ, "PYTHON": sys.executable})
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert "| size | precision | mode | tokens/s | MFU | peak memory | honest val loss | verdict |" in lines
    rows = [line for line in lines if line.startswith("| tiny |")]
    modes = {row.split(" | ")[2] for row in rows}
    assert modes == {"eager", "compile", "torchrun ×1"} and len(rows) == 4  # bf16 ×2, fp32, torchrun
    assert any(" | fp32 | " in row for row in rows) and any(" | bf16 | " in row for row in rows)
    assert "tiny bf16 − fp32 honest validation loss after 3 steps" in result.stdout
