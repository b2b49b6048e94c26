import csv
import json

import pytest

from macedonizer import sweep
from macedonizer.errors import MacedonizerError
from macedonizer.sweep.report import summary_line


def test_a_sweep_writes_every_report_file(swept):
    rows = list(csv.DictReader((swept / "runs.csv").open(encoding="utf-8")))
    assert len(rows) == 4
    assert {r["outcome"] for r in rows if r["lr"] == "1e+30"} == {"diverged"}  # NaN caught, not a crash
    sane = [r for r in rows if r["lr"] == "0.002"]
    assert all(r["outcome"] in sweep.OUTCOMES and float(r["validation_loss"]) > 0 for r in sane)
    report = (swept / "report.md").read_text(encoding="utf-8")
    assert "## post-ln, warm-up 0" in report and "## pre-ln, warm-up 0" in report and "Border:" in report
    assert (swept / "learnability.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((swept / "recommended.json").read_text(encoding="utf-8"))
    assert set(saved) == {"sizes", "unlearned"}
    assert set(saved["sizes"]) | set(saved["unlearned"]) == {"L1/H32"}
    assert not list(swept.glob("runs/*/checkpoints"))


def test_the_report_reads_the_runs_again_and_needs_one(swept, tmp_path):
    outcomes = sweep.load_outcomes(swept)
    assert sorted(o["name"] for o in outcomes) == sorted(p.name for p in (swept / "runs").iterdir())
    diverged = next(o for o in outcomes if o["lr"] == 1e30)
    assert summary_line(diverged).startswith(f"{diverged['name']}: diverged")
    with pytest.raises(MacedonizerError, match="holds no finished sweep runs"):
        sweep.write_report(tmp_path)
