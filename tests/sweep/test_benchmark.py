"""benchmarks/sweep.py --tiny: the same grid with 1 and 2 workers, timed and compared run by run."""

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow  # see pyproject: `pytest -m "not slow"` leaves it out


def test_the_benchmark_compares_one_and_two_workers():
    # One thread per process: with 1 or 2 workers every run trains on one thread, so the numbers must match.
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "sweep.py"), "--tiny"], capture_output=True,
                            text=True, timeout=600, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert any(line.startswith("wall clock: workers 1 ") and " ratio " in line for line in lines)
    rows = [line for line in lines if line.startswith("| L1-H32-")]
    assert len(rows) == 2 and all(row.rstrip(" |").endswith("yes") for row in rows)
    assert "| diverged     | diverged     | NaN" in result.stdout
    assert "identical outcomes and final losses (to 1e-6) with 1 and 2 workers: yes" in lines
