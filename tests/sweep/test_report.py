import csv
import json
import math

import pytest

from macedonizer import sweep
from macedonizer.errors import MacedonizerError
from macedonizer.sweep.report import summary_line


@pytest.mark.slow  # a worker pool
def test_a_sweep_writes_every_report_file(swept):
    rows = list(csv.DictReader((swept / "runs.csv").open(encoding="utf-8")))
    assert len(rows) == 4
    absurd = [r for r in rows if r["lr"] == "1e+30"]  # NaN caught, not a crash
    assert [r["outcome"] for r in absurd] == ["diverged"] * 2 and {r["validation_loss"] for r in absurd} == {""}
    sane = [r for r in rows if r["lr"] == "0.005"]
    # It trained (its loss fell below the loss it started from) but learnt no more than word frequencies: a plateau,
    # or undertrained where its curve still falls a little more than STILL_FALLING (a borderline call).
    assert {r["outcome"] for r in sane} <= {"plateau", "undertrained"}
    assert all(float(r["unigram_loss"]) < float(r["validation_loss"]) < math.log(1200) for r in sane)
    report = (swept / "report.md").read_text(encoding="utf-8")
    assert "## post-ln, warm-up 0" in report and "## pre-ln, warm-up 0" in report and "Border:" in report
    assert (swept / "learnability.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((swept / "recommended.json").read_text(encoding="utf-8"))
    counts = {k: sum(r["outcome"] == k for r in rows) for k in sweep.OUTCOMES}
    assert saved == {"sizes": {}, "unlearned": {"L1/H32": ", ".join(f"{n} {k}" for k, n in counts.items() if n)}}
    assert "- L1-H32-post-ln-wu0-lr1e+30: diverged (the loss became NaN/inf at step" in report
    assert not list(swept.glob("runs/*/checkpoints"))


@pytest.mark.slow  # a worker pool
def test_the_report_reads_the_runs_again_and_needs_one(swept, tmp_path):
    outcomes = sweep.load_outcomes(swept)
    assert sorted(o["name"] for o in outcomes) == sorted(p.name for p in (swept / "runs").iterdir())
    diverged = next(o for o in outcomes if o["lr"] == 1e30)
    assert summary_line(diverged).startswith(f"{diverged['name']}: diverged")
    with pytest.raises(MacedonizerError, match="holds no finished sweep runs"):
        sweep.write_report(tmp_path)
