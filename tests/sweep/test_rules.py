"""The early-stopping rules: on records (milliseconds), and on real runs that break them (slow)."""

import csv
import math
from dataclasses import replace

import pytest

from macedonizer import sweep
from macedonizer.sweep.rules import GRACE, GRADIENT_RATIO, UNIGRAM_SHARE, Watch, broken_rule
from tests.sweep.conftest import GRID, SAMPLE

START = math.log(1200)


def val(step, loss, unigram=6.3):
    return {"step": step, "loss": loss, "unigram_loss": unigram}


def diagnostics(step, top=1.0, bottom=1.0, attention=(5.0, 5.0), logit=3.0):
    return {"step": step, "grad_norm": {"embeddings": 1.0, "layer.0": bottom, "layer.1": top, "head": 1.0},
            "attention_logit_max": list(attention), "logit_max": logit}


def test_each_rule_is_named_with_its_numbers():
    assert broken_rule("val", val(40, 9.87), 100, START) == (
        "above-uniform", "validation loss 9.870 at step 40 (40% of the budget) is above ln |V| = 7.090, the loss of "
                         "a fresh model")
    assert broken_rule("val", val(60, 6.25), 100, START) == (
        "unigram", "validation loss 6.250 at step 60 (60% of the budget) is not below the unigram loss 6.300 by 0.1 "
                   "nats: still word frequencies at best")
    assert broken_rule("val", val(60, 6.15), 100, START) is None  # 0.15 nats below: it learned something
    assert broken_rule("val", val(40, 6.3), 100, START) is None  # at the unigram loss, but before UNIGRAM_SHARE
    assert broken_rule("val", val(3, float("nan")), 100, START) == (
        "nan", "the validation loss became nan at step 3 (3% of the budget)")
    assert broken_rule("diagnostics", diagnostics(20, attention=(5.0, 1234.0)), 100, START) == (
        "attention-logits",
        "attention logits reached 1234 in layer 1 at step 20 (20% of the budget), above the bound 100")
    top = broken_rule("diagnostics", diagnostics(20, top=46.5, bottom=1.5), 100, START)
    assert top == ("gradient-ratio", "the top layer's gradients are 31× the bottom layer's at step 20 (20% of the "
                                     "budget), beyond the bound 30× either way")
    assert broken_rule("diagnostics", diagnostics(20, top=0.01, bottom=1.0), 100, START)[0] == "gradient-ratio"
    assert broken_rule("diagnostics", diagnostics(20, top=GRADIENT_RATIO * 0.99), 100, START) is None
    assert broken_rule("diagnostics", diagnostics(2, logit=float("inf")), 100, START)[0] == "nan"
    assert broken_rule("step", {"step": 50, "loss": 99.0}, 100, START) is None  # the engine stops on NaN itself


def test_a_symptom_does_not_stop_a_run_that_left_the_plateau():
    symptoms = (diagnostics(30, attention=(5.0, 150.0)), diagnostics(30, top=GRADIENT_RATIO * 2))
    for record in symptoms:
        learning = Watch(total_steps=100, start_loss=START, rules=True)
        assert learning("val", val(25, 5.4)) is None  # 0.9 nats under the unigram loss 6.3
        assert learning("diagnostics", record) is None
        assert learning("diagnostics", diagnostics(35, logit=float("nan"))).startswith("the output logits became nan")
        stuck = Watch(total_steps=100, start_loss=START, rules=True)
        assert stuck("val", val(25, 6.25)) is None and stuck("diagnostics", record) is not None


@pytest.mark.parametrize("below", [0.0, 0.05, 0.1, 0.1001, 0.15, 1.0])
def test_the_unigram_rule_and_the_left_plateau_flag_draw_one_border(below):
    # One concept ("left the unigram plateau", causes.below_unigram) behind the rule, the flag and the causes.
    record = val(60, 6.3 - below)
    watch = Watch(total_steps=100, start_loss=START, rules=True)
    stopped = watch("val", record) is not None
    assert stopped == (broken_rule("val", record, 100, START) is not None) == (not watch.left_plateau)


def test_only_nan_stops_a_run_in_its_grace():
    early = int(GRACE * 100) - 1
    assert broken_rule("val", val(early, 50.0), 100, START) is None
    assert broken_rule("diagnostics", diagnostics(early, top=1e4, attention=(1e6,)), 100, START) is None
    assert 0 < GRACE < UNIGRAM_SHARE < 1
    warming = Watch(total_steps=100, start_loss=START, rules=True, grace=0.3)  # a warm-up of 15%
    assert warming("val", val(20, 7.2)) is None and warming("val", val(30, 7.2)).startswith("validation loss 7.200")


def test_a_watch_stops_once_by_the_first_reason_or_at_its_pause():
    watch = Watch(total_steps=100, start_loss=START, pause_at=33, rules=True)
    assert watch("step", {"step": 32, "loss": 7.0}) is None
    assert watch("step", {"step": 33, "loss": 7.0}) == "paused at step 33 for the halving's ranking"
    assert watch.stopped == {"by": "rung", "step": 33, "reason": "paused at step 33 for the halving's ranking"}
    assert watch("val", val(33, 99.0)).startswith("paused")  # stopped once: the first reason stands
    ruled = Watch(total_steps=100, start_loss=START, rules=True)
    assert ruled("val", val(40, 9.87)).startswith("validation loss 9.870")
    assert ruled.stopped["by"] == "rule" and ruled.stopped["rule"] == "above-uniform" and ruled.stopped["step"] == 40
    assert Watch(total_steps=100, start_loss=START)("val", val(40, 9.87)) is None  # rules off, no pause


@pytest.mark.slow  # four short runs
def test_rules_stop_a_diverging_run_and_one_at_the_unigram_loss(tok, tmp_path):
    # lr 1.0 on a tiny model: its loss shoots far above ln |V| (its attention logits first); lr 5e-3 for 16 steps
    # learns no more than word frequencies, the sample's ceiling at this budget.
    config = replace(GRID, sizes=("L1/H32",), variants=("post-ln",), lrs=(5e-3, 1.0), steps=16, eval_every=4,
                     diagnostics_every=4, early_stop=("rules",))
    out = sweep.run([SAMPLE], tok, tmp_path / "rules", config, progress=False)
    rows = {r["lr"]: r for r in csv.DictReader((out / "runs.csv").open(encoding="utf-8"))}
    assert rows["1.0"]["outcome"] == "stopped" and rows["1.0"]["stopped_by"] in ("rule attention-logits",
                                                                                  "rule above-uniform")
    assert int(rows["1.0"]["steps"]) == 4 and rows["1.0"]["budget_steps"] == "16"
    assert (rows["0.005"]["outcome"], rows["0.005"]["stopped_by"], rows["0.005"]["steps"]) == (
        "stopped", "rule unigram", "8")
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## Stopped early" in report and "the grid trained 38% of the compute" in report
    assert "- L1-H32-post-ln-wu0-lr0.005: stopped by rule unigram after 8 of 16 steps: validation loss " in report
    assert "at step 8 (50% of the budget) is not below the unigram loss" in report
    assert f"- L1-H32-post-ln-wu0-lr1: stopped by {rows['1.0']['stopped_by']} after 4 of 16 steps: " in report
    assert all((out / "runs" / name / "checkpoints").is_dir() for name in ("L1-H32-post-ln-wu0-lr1",
                                                                         "L1-H32-post-ln-wu0-lr0.005"))
