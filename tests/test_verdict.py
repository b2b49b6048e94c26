from macedonizer.verdict import MIN_LOSS_MARGIN, judge, learned


def record(loss, accuracy, ngram_loss=4.5, ngram_accuracy=0.24, loss_se=0.01, accuracy_se=0.003):
    return {"loss": loss, "masked_accuracy": accuracy, "unigram_loss": 7.28, "unigram_accuracy": 0.031,
            "ngram_loss": ngram_loss, "ngram_accuracy": ngram_accuracy,
            "loss_vs_unigram_se": loss_se, "accuracy_vs_unigram_se": accuracy_se,
            "loss_vs_ngram_se": loss_se, "accuracy_vs_ngram_se": accuracy_se}


def test_learned_means_beating_the_ngram_baseline_beyond_noise():
    verdict = judge(record(4.2, 0.30))
    assert verdict.learned and verdict.level == "learned"
    assert "n-gram 4.500, 24.0%" in verdict.reason and verdict.reason.endswith(").")
    # Beating word frequencies only is the plateau, and the sentence says which comparison failed.
    plateau = judge(record(6.0, 0.10))
    assert plateau.level == "plateau" and "not the n-gram baseline in loss" in plateau.reason
    assert judge(record(4.2, 0.241)).level == "plateau"  # accuracy within noise of the n-gram's
    assert "in accuracy" in judge(record(4.2, 0.241)).reason
    # Within the noise of the paired difference, or under the minimum margin: not learned.
    assert not learned(record(4.5 - 1.9 * 0.05, 0.30, loss_se=0.05))
    assert learned(record(4.5 - 2.1 * 0.05, 0.30, loss_se=0.05))
    assert not learned(record(4.5 - MIN_LOSS_MARGIN / 2, 0.30, loss_se=0.0))


def test_records_without_a_verdict_say_why():
    assert judge(record(7.29, 0.031)).level == "untrained"
    assert judge(None).reason == "no evaluation was recorded."
    old = {k: v for k, v in record(4.0, 0.3).items() if not k.startswith("ngram") and "ngram" not in k}
    verdict = judge(old)
    assert not verdict.learned and "no n-gram baseline" in verdict.reason
