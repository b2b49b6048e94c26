"""Early stopping on real runs: a halving sweep, its stopped runs in every output, resuming them, fidelity."""

import csv
import json
import shutil
from dataclasses import replace

import pytest
from click.testing import CliRunner

from macedonizer import sweep
from macedonizer.cli import main
from macedonizer.sweep import fidelity, report
from tests.sweep.conftest import GRID, SAMPLE

pytestmark = pytest.mark.slow  # each test trains several short runs

# Three learning rates of one size; rungs at 4 and 8 of 16 steps, keeping the best 1 of 3, then 1 of 1.
HALVING = replace(GRID, sizes=("L1/H32",), variants=("post-ln",), lrs=(1e-3, 5e-3, 2e-2), steps=16, eval_every=4,
                  diagnostics_every=4, early_stop=("halving",), eta=2, min_share=0.25)
HALVING_TOML = """sizes = ["L1/H32"]
lrs = [1e-3, 5e-3, 2e-2]
warmups = [0.0]
steps = 16
seq_len = 32
batch_size = 8
eval_every = 4
eval_batches = 1
diagnostics_every = 4
device = "cpu"
early_stop = ["halving"]
eta = 2
min_share = 0.25
"""


@pytest.fixture(scope="module")
def halved(tok, tmp_path_factory):
    """The grid in full and under halving: (full folder, halving folder)."""
    root = tmp_path_factory.mktemp("halving")
    full = sweep.run([SAMPLE], tok, root / "full", replace(HALVING, early_stop=()), progress=False)
    return full, sweep.run([SAMPLE], tok, root / "halved", HALVING, progress=False)


def test_stopped_runs_are_in_the_csv_the_report_and_the_heatmap(halved, monkeypatch):
    _, out = halved
    rows = {r["lr"]: r for r in csv.DictReader((out / "runs.csv").open(encoding="utf-8"))}
    went_on = [lr for lr, r in rows.items() if r["outcome"] != "stopped"]
    assert len(rows) == 3 and len(went_on) == 1 and rows[went_on[0]]["steps"] == "16"
    stopped = [r for r in rows.values() if r["outcome"] == "stopped"]
    assert {(r["stopped_by"], r["steps"], r["budget_steps"]) for r in stopped} == {("rung 1", "4", "16")}
    assert all("halving rung 1 of 2 at step 4 (25% of the budget): validation loss " in r["rule"] for r in stopped)
    assert {r["rule"].split(", ")[1].split(" L1/H32")[0] for r in stopped} == {"2nd of 3", "3rd of 3"}
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "2 of 3 runs stopped early; the grid trained 50% of the compute" in text
    table_row = next(line for line in text.splitlines() if line.startswith("| L1/H32 |"))
    assert table_row.count(" (rung 1)") == 2  # two cells name the rung that stopped them
    saved = json.loads((out / "runs" / f"L1-H32-post-ln-wu0-lr{float(went_on[0]):g}" / "outcome.json").read_text())
    assert list(saved["rungs"]) == ["4", "8"]  # the winner's losses at the rungs it passed
    drawn = {}
    monkeypatch.setattr(report, "draw_heatmap", lambda path, sizes, lrs, panels: drawn.update(panels))
    sweep.write_report(out)
    cells = drawn["post-ln, warm-up 0"]
    assert sorted(outcome for outcome, _ in cells.values()) == sorted(r["outcome"] for r in rows.values())
    assert all(text.endswith("\nrung 1") for outcome, text in cells.values() if outcome == "stopped")
    assert (out / "learnability.png").read_bytes()[:4] == b"\x89PNG"
    assert all((out / "runs" / n / "checkpoints").is_dir() == (rows[n.split("lr")[1]]["outcome"] == "stopped")
               for n in (p.name for p in (out / "runs").iterdir()) if n.split("lr")[1] in rows)


def test_resumed_stopped_runs_end_as_in_the_full_grid(halved, tok, tmp_path):
    full, out = halved
    resumed = shutil.copytree(out, tmp_path / "resumed")
    sweep.run([SAMPLE], tok, resumed, HALVING, progress=False, resume_stopped=True)
    after = {o["name"]: o for o in sweep.load_outcomes(resumed)}
    expected = {o["name"]: o for o in sweep.load_outcomes(full)}
    assert all(o["outcome"] != "stopped" for o in after.values())
    assert {n: (o["outcome"], o["validation_loss"], o["steps"]) for n, o in after.items()} == {
        n: (o["outcome"], o["validation_loss"], o["steps"]) for n, o in expected.items()}


def test_fidelity_compares_the_full_grid_with_the_halved_one(halved, tok, tmp_path):
    full, out = halved
    (tmp_path / "halving.toml").write_text(HALVING_TOML, encoding="utf-8")
    result = CliRunner().invoke(main, ["sweep", "--data", SAMPLE, "--tokenizer", str(tok), "-o", str(out),
                                       "--config", str(tmp_path / "halving.toml"), "--fidelity", str(full), "-q"])
    assert result.exit_code == 0, result.output
    measured = json.loads((out / "fidelity.json").read_text(encoding="utf-8"))
    assert measured["compute"]["share"] == pytest.approx(0.5)
    assert measured["recommendations"] == {"L1/H32": {"full": None, "early": None, "same": True}}
    text = (out / "fidelity.md").read_text(encoding="utf-8")
    assert "| steps | 48 | 24 | 50% |" in text and "### 25% of the budget (validations of step 4)" in text
    assert fidelity.summary(measured).startswith("early stopping trained 50% of the full grid's compute")


def test_halving_with_two_workers_stops_the_same_runs(halved, tok, tmp_path):
    _, out = halved
    two = sweep.run([SAMPLE], tok, tmp_path / "two", replace(HALVING, workers=2), progress=False)
    assert ({o["name"]: (o["outcome"], o["stopped_by"], o["steps"]) for o in sweep.load_outcomes(two)}
            == {o["name"]: (o["outcome"], o["stopped_by"], o["steps"]) for o in sweep.load_outcomes(out)})


def test_halving_per_variant_keeps_each_variant_s_best(tok, tmp_path):
    """Per size, one variant's runs can stop all of the other's; per size and variant, each variant's best goes on."""
    grid = replace(HALVING, variants=("post-ln", "pre-ln"), lrs=(1e-3, 2e-2), eta=4, min_share=0.25)
    finished, reasons = {}, {}
    for per in ("size", "variant"):
        out = sweep.run([SAMPLE], tok, tmp_path / per, replace(grid, halve_per=per), progress=False)
        rows = list(csv.DictReader((out / "runs.csv").open(encoding="utf-8")))
        finished[per] = sorted(r["variant"] for r in rows if r["outcome"] != "stopped")
        reasons[per] = " ".join(r["rule"] for r in rows if r["outcome"] == "stopped")
    assert len(finished["size"]) == 1 and "of 4 L1/H32 runs" in reasons["size"]
    assert finished["variant"] == ["post-ln", "pre-ln"]
    assert "of 2 L1/H32 post-ln runs" in reasons["variant"] and "of 2 L1/H32 pre-ln runs" in reasons["variant"]
