import json
import math

from macedonizer import verdict
from macedonizer.configs import resolve_size
from macedonizer.sweep import classify, outcome
from macedonizer.train.loop import flops_per_token

START = math.log(1200)  # a fresh model's loss: uniform over the vocabulary
UNIGRAM = 6.3


# ---------------------------------------------------------------- classification on synthetic curves


def falling(start, end, n=40):
    return [start + (end - start) * i / (n - 1) for i in range(n)]


def record(loss, accuracy=0.04, ngram_loss=5.0, ngram_accuracy=0.2, se=0.01):
    """A validation record as evaluate_sequences writes it (unigram 6.3 / 4%)."""
    return {"loss": loss, "masked_accuracy": accuracy, "unigram_loss": UNIGRAM, "unigram_accuracy": 0.04,
            "ngram_loss": ngram_loss, "ngram_accuracy": ngram_accuracy, "loss_vs_unigram_se": se,
            "accuracy_vs_unigram_se": 0.002, "loss_vs_ngram_se": se, "accuracy_vs_ngram_se": 0.002}


def test_each_kind_of_curve_gets_its_outcome():
    assert classify(falling(8, 4.5), record(4.6, accuracy=0.3), START)[0] == "learned"
    flat = falling(8, UNIGRAM, 10) + [UNIGRAM + 0.02 * (-1) ** i for i in range(30)]
    outcome, rule = classify(flat, record(UNIGRAM + 0.01), START)
    assert outcome == "plateau" and rule.startswith("flat, and it does not beat even word frequencies")
    # Far below the unigram loss, but not below the n-gram baseline: still a plateau, and the rule says so.
    outcome, rule = classify(flat, record(UNIGRAM - 0.5, accuracy=0.15), START)
    assert outcome == "plateau" and "not the n-gram baseline in loss" in rule
    # Below the n-gram loss but not beyond the noise of the evaluation: not learned.
    assert classify(flat, record(4.99, accuracy=0.3, se=0.02), START)[0] == "plateau"
    assert classify(flat, record(4.9, accuracy=0.3, se=0.02), START)[0] == "learned"
    assert classify(falling(8, 6.5)[:10], record(float("nan")), START, nan_step=11) == (
        "diverged", "the loss became NaN/inf at step 11")
    assert classify(falling(8, 7), record(7.5), 7.2)[0] == "diverged"  # worse than where it started
    blew_up = falling(8, 6.0, 20) + [6.0] * 5 + [7.0] * 15
    outcome, rule = classify(blew_up, record(6.9), START)
    assert outcome == "diverged" and "rose 1.00 nats above its best (6.00)" in rule
    assert classify(falling(8, 6.5), record(6.4), START)[0] == "undertrained"  # still falling
    assert classify([8.0, 7.0], record(6.4), START) == ("undertrained", "only 2 training-loss records")


def test_learned_is_the_verdicts_call(monkeypatch):
    """The sweep has no rule of its own for "learned": whatever macedonizer.verdict.judge says."""
    flat = falling(8, UNIGRAM, 10) + [UNIGRAM] * 30
    monkeypatch.setattr(outcome, "judge", lambda record: verdict.Verdict("learned", "the judge says so"))
    assert classify(flat, record(UNIGRAM), START) == ("learned", "the judge says so")


def test_training_flops_count_the_run_s_own_layers():
    """The compute early stopping saves counts each variant's real layers (the modern variant's GLU is larger than
    BERT's feed-forward); a run written before the count was recorded falls back to BERT's count for its size."""
    run = {"size": "L2/H64", "batch_size": 8, "seq_len": 32}
    bert = flops_per_token(resolve_size("L2/H64"), 32)
    assert outcome.training_flops(run, 10) == 10 * 8 * 32 * bert
    larger = {**run, "non_embedding_parameters": 2 * resolve_size("L2/H64").non_embedding_parameters()}
    assert outcome.training_flops(larger, 10) > outcome.training_flops(run, 10)
    assert outcome.training_flops(larger, 10) == 10 * 8 * 32 * flops_per_token(
        resolve_size("L2/H64"), 32, larger["non_embedding_parameters"])


def test_a_run_s_record_carries_its_own_parameter_count(swept):
    for record in outcome.load_outcomes(swept):
        run_dir = swept / "runs" / record["name"]
        written = json.loads((run_dir / "training_config.json").read_text())["non_embedding_parameters"]
        assert record["non_embedding_parameters"] == written > 0
