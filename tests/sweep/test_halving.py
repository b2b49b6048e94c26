"""Successive halving and its fidelity on synthetic curves: no training, milliseconds."""

import math

import pytest

from macedonizer.errors import MacedonizerError
from macedonizer.sweep import SweepConfig
from macedonizer.sweep.fidelity import compare, markdown, outcome_at, predictions
from macedonizer.sweep.halving import describe, halve, rung_steps

TOTAL = 300
LRS = (1e-4, 3e-4, 1e-3, 3e-3)
# Final validation losses of a 2 sizes × 4 learning rates grid. Every mini run trails every tiny run at every step
# (a halving across sizes would stop all of mini), mini's largest learning rate diverges, and the faster learning
# rates lead early: the shape of a real sweep.
FINAL = {"tiny": {1e-4: 6.9, 3e-4: 6.3, 1e-3: 5.4, 3e-3: 5.1}, "mini": {1e-4: 7.0, 3e-4: 6.2, 1e-3: 5.5, 3e-3: 9.5}}
LEARNED_BELOW = 5.6


def val_loss(size: str, lr: float, step: int) -> float:
    final, p = FINAL[size][lr], step / TOTAL
    if final > 9:
        return 7.3 + 3 * max(0.0, p - 0.2)
    tau = 0.3 / math.sqrt(lr / 1e-3)
    return final + (7.3 - final) * math.exp(-p / tau) + (0.2 if size == "mini" else 0.0) * (1 - p)


def record(size: str, lr: float, steps: int, stopped: bool = False) -> dict:
    loss = val_loss(size, lr, steps)
    outcome = ("stopped" if stopped else "diverged" if FINAL[size][lr] > 9 else
               "learned" if loss < LEARNED_BELOW else "plateau")
    return {"name": f"{size}-lr{lr:g}", "size": size, "lr": lr, "warmup": 0.0, "variant": "post-ln",
            "lr_scaling": "none", "max_grad_norm": 1.0, "mask_rate": 0.15, "outcome": outcome,
            "stopped_by": "rung 1" if stopped else "", "validation_loss": loss, "unigram_loss": 7.3,
            "masked_accuracy": 0.2, "steps": steps, "budget_steps": TOTAL, "batch_size": 16, "seq_len": 64,
            "seconds": steps * (1.0 if size == "tiny" else 8.0)}


def halving_grid(eta: int, min_share: float) -> tuple[list[dict], list[tuple[str, int]]]:
    """The grid under halving: the records it leaves, and every (run, step) it trained to."""
    runs = {f"{size}-lr{lr:g}": (size, lr) for size in FINAL for lr in LRS}
    reached = {name: 0 for name in runs}
    requests = []

    def train_to(batch):
        requests.extend(batch)
        for name, step in batch:
            reached[name] = max(reached[name], step)
        return {name: (math.inf if FINAL[runs[name][0]][runs[name][1]] > 9 and step > 0.3 * TOTAL
                       else val_loss(*runs[name], step)) for name, step in batch}

    stopped = halve({name: size for name, (size, _) in runs.items()}, rung_steps(TOTAL, eta, min_share), eta,
                    train_to)
    records = [record(size, lr, reached[name], stopped=name in stopped) for name, (size, lr) in runs.items()]
    return records, requests


def test_rungs_sit_at_powers_of_one_over_eta_above_the_least_share():
    assert rung_steps(300, 3, 0.1) == [33, 100, 300]
    assert rung_steps(300, 2, 0.1) == [38, 75, 150, 300]
    assert rung_steps(20, 2, 0.5) == [10, 20]
    assert rung_steps(300, 3, 0.5) == [300]  # no rung fits: every run trains in full


def test_halving_spends_at_most_half_and_recommends_the_same_run_per_size():
    full = [record(size, lr, TOTAL) for size in FINAL for lr in LRS]
    early, _ = halving_grid(3, 0.1)
    result = compare(full, early)
    assert result["compute"]["share"] <= 0.5
    assert result["recommendations"] == {"tiny": {"full": "tiny-lr0.003", "early": "tiny-lr0.003", "same": True},
                                         "mini": {"full": "mini-lr0.001", "early": "mini-lr0.001", "same": True}}
    assert result["lowest"]["mini"] == {"full": "mini-lr0.001", "early": "mini-lr0.001", "same": True}
    assert result["finished_same"] == result["finished"] == 2
    # What halving gives up: tiny at 1e-3 learned too in full, but only the best goes on: the border is lost.
    assert result["stopped_learned"] == ["tiny-lr0.001"]
    # The defaults, eta 2 from a quarter of the budget: exactly half.
    defaults = SweepConfig()
    early, _ = halving_grid(defaults.eta, defaults.min_share)
    assert compare(full, early)["compute"]["share"] == pytest.approx(0.5)
    assert compare(full, early)["same_recommendations"]


def test_each_size_competes_only_with_itself_and_rungs_train_together():
    records, requests = halving_grid(3, 0.1)
    went_on = {r["name"] for r in records if r["steps"] == TOTAL}
    assert went_on == {"tiny-lr0.003", "mini-lr0.001"}  # mini trails tiny everywhere, yet its best goes on
    assert [step for _, step in requests] == [33] * 8 + [100] * 2 + [300] * 2  # every run of a rung in one call


def test_a_run_that_cannot_go_on_is_never_promoted():
    stopped = halve({"a": "tiny", "b": "tiny"}, [10, 20], 2, lambda batch: {name: math.inf for name, _ in batch})
    assert sorted(stopped) == ["a", "b"] and math.isinf(stopped["a"]["bar"])
    stopped = halve({"a": "tiny", "b": "tiny", "c": "tiny"}, [10, 20], 2,
                    lambda batch: {"a": 6.0, "b": 5.0, "c": 7.0})
    assert sorted(stopped) == ["a", "c"]
    assert describe(stopped["c"], 20) == ("halving rung 1 of 1 at step 10 (50% of the budget): validation loss 7.000, "
                                          "3rd of 3 tiny runs; the best 1 went on (the last kept: 5.000)")


def test_the_outcome_at_a_share_is_read_from_the_full_curves():
    def val(step, loss):
        return {"step": step, "loss": loss, "masked_accuracy": 0.3 if loss < 5 else 0.05, "unigram_loss": 6.3,
                "unigram_accuracy": 0.04, "ngram_loss": 5.0, "ngram_accuracy": 0.2, "loss_vs_unigram_se": 0.01,
                "accuracy_vs_unigram_se": 0.002, "loss_vs_ngram_se": 0.01, "accuracy_vs_ngram_se": 0.002}

    train = [{"step": s, "loss": 7.0 - 2.5 * s / 100} for s in range(5, 101, 5)]
    early_learner = {"name": "fast", "budget_steps": 100, "start_loss": 7.09, "train": train,
                     "val": [val(10, 6.5), val(50, 4.6), val(100, 4.5)]}
    late = {"name": "late", "budget_steps": 100, "start_loss": 7.09, "train": train,
            "val": [val(50, 6.3), val(100, 4.0)]}
    assert outcome_at(train, early_learner["val"], 10, 7.09) == ("undertrained", early_learner["val"][0])
    assert outcome_at(train, late["val"], 10, 7.09) == ("undertrained", None)  # no validation yet
    final = [{**record("tiny", 1e-3, 100), "name": "fast", "outcome": "learned", "validation_loss": 4.5},
             {**record("tiny", 3e-3, 100), "name": "late", "outcome": "learned", "validation_loss": 4.0}]
    result = predictions([early_learner, late], final)
    # At half the budget the fast run has learned; the late one is still falling (at the unigram loss).
    assert result[0.5]["table"]["learned"]["learned"] == 1 and result[0.5]["table"]["undertrained"]["learned"] == 1
    assert result[0.5]["agree"] == 1 and result[0.5]["validation_steps"] == [50]
    assert result[0.1]["without_validation"] and result[0.1]["table"]["undertrained"]["learned"] == 2
    assert result[0.5]["best_is_recommended"] == {"tiny": False}  # the fast one leads at 50%, the late one wins


def test_fidelity_needs_the_same_grid_and_says_it_in_words():
    full = [record(size, lr, TOTAL) for size in FINAL for lr in LRS]
    with pytest.raises(MacedonizerError, match="different grids"):
        compare(full, full[:-1])
    early, _ = halving_grid(3, 0.1)
    result = {"full": "full/", "early": "early/", **compare(full, early), "predictions": {}}
    text = markdown(result)
    assert "same recommendation for 2 of 2 sizes, same lowest final validation loss (learned or not) for 2" in text
    assert "| tiny-lr0.0001 | plateau | stopped (rung 1) | stopped |" in text
