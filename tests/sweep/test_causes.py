from macedonizer.sweep import explain


def diag(step, top, bottom, entropy=(3.0, 3.0), logit=5.0, update=1e-3):
    return {"step": step, "grad_norm": {"embeddings": 1.0, "layer.0": bottom, "layer.1": top, "head": 1.0},
            "update_ratio": {"embeddings": update, "layer.0": update, "layer.1": update, "head": update},
            "attention_entropy": list(entropy), "attention_logit_max": [1.0, 1.0], "logit_max": logit,
            "logit_std": 1.0}


def test_causes_are_named_with_numbers():
    plateau = {"outcome": "plateau", "rule": "", "validation_loss": 6.31, "unigram_loss": 6.3,
               "masked_accuracy": 0.04, "unigram_accuracy": 0.04, "variant": "post-ln", "warmup": 0.0}
    records = [diag(1, 0.4, 0.01), diag(20, 0.2, 0.01, entropy=(3.45, 3.46))]
    text = explain(plateau, records, seq_len=32)
    assert "plateau at the unigram loss (6.31 vs 6.30; masked accuracy 4.0% vs unigram 4.0%)" in text
    assert "post-ln, no warm-up: gradients of the top layer 40.0× those of the bottom at step 1" in text
    assert "attention stayed near uniform (3.45–3.46 nats of ln 32 = 3.47): no layer learned where to look" in text
    records[-1]["attention_entropy"] = [1.2, 3.46]
    assert "(3.46–3.46 nats of ln 32 = 3.47): layer 1 did not learn where to look" in explain(plateau, records, 32)
    diverged = {**plateau, "outcome": "diverged", "validation_loss": None}
    records = [diag(1, 1, 1), diag(20, 1, 1, entropy=(0.1, 2.0), logit=80.0, update=0.05)]
    text = explain(diverged, records, seq_len=32)
    assert "output logits grew to 80" in text and "attention entropy collapsed to 0.10 nats in layer 0" in text
    assert "moved layer.1's weights by 5.0%" in text and "attention logits" not in text
    records[-1]["attention_logit_max"] = [1.0, 1123.0]
    assert "attention logits grew to 1123 in layer 1 by step 20" in explain(diverged, records, 32)
    assert explain({**plateau, "outcome": "learned"}, records, 32) == ""


def test_without_diagnostics_the_rule_or_the_baseline_is_the_cause():
    undertrained = {"outcome": "undertrained", "rule": "only 2 training-loss records", "variant": "post-ln",
                    "warmup": 0.0}
    assert explain(undertrained, [], 32) == "still improving when the budget ended: give it more steps"
    diverged = {**undertrained, "outcome": "diverged", "rule": "the loss became NaN/inf at step 3"}
    assert explain(diverged, [], 32) == "the loss became NaN/inf at step 3"
    assert explain(diverged, [diag(1, 1, 1), diag(2, 1, 1)], 32) == "the loss became NaN/inf at step 3"
    below = {"outcome": "plateau", "rule": "", "validation_loss": 5.5, "unigram_loss": 6.3, "ngram_loss": 5.2,
             "masked_accuracy": 0.1, "unigram_accuracy": 0.04}
    assert explain(below, [], 32) == ("below the unigram loss but not the n-gram baseline (5.50 vs 6.30, n-gram "
                                      "5.200; masked accuracy 10.0% vs unigram 4.0%): some context, less than a "
                                      "table of neighbours")
