"""The likely causes of a run that did not learn, named with numbers from its diagnostics.

The diagnostics (``macedonizer.diagnostics``, ``diagnostics.jsonl``) hold,
every few steps, the output logit scale, the attention logits and entropy
per layer, the gradient norm and the relative update of each layer group.
Each reading below turns one of them into a sentence when it is out of the
healthy range; a run gets all that apply, in this order.
"""

from __future__ import annotations

import math

LOGIT_MAX = 30
"""Output logits above this had grown out of hand."""
ATTENTION_LOGIT_MAX = 100
ENTROPY_COLLAPSED = 0.5
"""Nats of attention entropy under which a layer looks at one token only."""
NEAR_UNIFORM = 0.9
"""Share of ln(seq_len) above which a layer's attention is still about uniform."""
GRADIENT_RATIO = 3
"""Top-layer gradients this many times those of the bottom (or a third of them) are out of balance."""
UPDATE_MAX = 0.02
"""A step that moves a layer's weights by more than this share is too large (healthy is ~0.1%)."""
AT_UNIGRAM = 0.1
"""Nats either side of the unigram loss within which a run is at it (word frequencies, no more)."""


def below_unigram(loss: float, unigram: float) -> bool:
    """Whether ``loss`` is below the unigram loss by more than ``AT_UNIGRAM``: the run has left the plateau."""
    return loss < unigram - AT_UNIGRAM


def explain(outcome: dict, diagnostics: list[dict], seq_len: int) -> str:
    """The likely cause of a run that did not learn, from its diagnostics, with numbers."""
    if outcome["outcome"] == "learned":
        return ""
    causes = _baseline_causes(outcome)
    if outcome["outcome"] == "undertrained":
        causes.append("still improving when the budget ended: give it more steps")
    if diagnostics:
        causes += _logit_causes(diagnostics)
        causes += _attention_causes(diagnostics, seq_len)
        causes += _gradient_causes(diagnostics, outcome)
        causes += _update_causes(diagnostics)
    return "; ".join(causes) or outcome["rule"]


def _baseline_causes(outcome: dict) -> list[str]:
    """Where a plateau sits: above, at or below the unigram loss."""
    val, unigram = outcome.get("validation_loss"), outcome.get("unigram_loss")
    if outcome["outcome"] != "plateau" or val is None or unigram is None:
        return []
    accuracy, unigram_accuracy = outcome.get("masked_accuracy"), outcome.get("unigram_accuracy")
    numbers = (f"({val:.2f} vs {unigram:.2f}{ngram_part(outcome)}; masked accuracy {_pct(accuracy)} vs "
               f"unigram {_pct(unigram_accuracy)})")
    if val > unigram + AT_UNIGRAM:
        return [f"stuck above the unigram loss {numbers}: not even the token frequencies learned yet"]
    if not below_unigram(val, unigram):
        return [f"plateau at the unigram loss {numbers}: predicting token frequencies"]
    return [f"below the unigram loss but not the n-gram baseline {numbers}: some context, "
            "less than a table of neighbours"]


def _logit_causes(diagnostics: list[dict]) -> list[str]:
    causes = []
    logit = max(diagnostics, key=lambda r: float(r["logit_max"]))
    if float(logit["logit_max"]) > LOGIT_MAX:
        causes.append(f"output logits grew to {float(logit['logit_max']):.0f} (std {float(logit['logit_std']):.1f}) "
                      f"by step {logit['step']}")
    attention_logit = max(((float(m), i, r["step"]) for r in diagnostics
                           for i, m in enumerate(r["attention_logit_max"])), default=None)
    if attention_logit and attention_logit[0] > ATTENTION_LOGIT_MAX:
        causes.append(f"attention logits grew to {attention_logit[0]:.0f} in layer {attention_logit[1]} "
                      f"by step {attention_logit[2]}")
    return causes


def _attention_causes(diagnostics: list[dict], seq_len: int) -> list[str]:
    """Attention that collapsed onto one token, or that never left uniform."""
    attention = [(e, i, r["step"]) for r in diagnostics[1:] for i, e in enumerate(r["attention_entropy"])
                 if math.isfinite(float(e))]
    if not attention:
        return []
    causes = []
    entropy, layer, step = min(attention)
    if entropy < ENTROPY_COLLAPSED:
        causes.append(f"attention entropy collapsed to {entropy:.2f} nats in layer {layer} at step {step}")
    final = [float(e) for e in diagnostics[-1]["attention_entropy"]]
    uniform = math.log(seq_len)
    still = [i for i, e in enumerate(final) if e > NEAR_UNIFORM * uniform]
    if still:
        which = "no layer learned where to look" if len(still) == len(final) else \
            f"layer{'s' if len(still) > 1 else ''} {', '.join(map(str, still))} did not learn where to look"
        causes.append(f"attention stayed near uniform ({min(final[i] for i in still):.2f}–"
                      f"{max(final[i] for i in still):.2f} nats of ln {seq_len} = {uniform:.2f}): {which}")
    return causes


def _gradient_causes(diagnostics: list[dict], outcome: dict) -> list[str]:
    """Top and bottom layers' gradients out of balance in the first records (post-LN without warm-up)."""
    ratios = [(layer_gradient_ratio(r["grad_norm"]), r["step"]) for r in diagnostics[:4]]
    if ratios[0][0] is None:
        return []
    ratio, step = max(ratios)
    if GRADIENT_RATIO ** -1 <= ratio <= GRADIENT_RATIO:
        return []
    warm = "no warm-up" if outcome["warmup"] == 0 else f"warm-up {outcome['warmup']:g}"
    return [f"{outcome['variant']}, {warm}: gradients of the top layer {ratio:.1f}× those of the bottom at step {step}"]


def layer_gradient_ratio(grad_norm: dict) -> float | None:
    """The top layer's gradient norm over the bottom layer's, from a diagnostics record (None with one layer)."""
    layers = sorted((k for k in grad_norm if k.startswith("layer.")), key=lambda k: int(k.split(".")[1]))
    if len(layers) < 2:
        return None
    return float(grad_norm[layers[-1]]) / max(float(grad_norm[layers[0]]), 1e-12)


def _update_causes(diagnostics: list[dict]) -> list[str]:
    update = max(((float(v), k, r["step"]) for r in diagnostics for k, v in r["update_ratio"].items()
                  if k.startswith("layer.")), default=None)
    if not update or update[0] <= UPDATE_MAX:
        return []
    return [f"one step moved {update[1]}'s weights by {update[0]:.1%} at step {update[2]} "
            f"(healthy is ~0.1%): the learning rate is too high for this width"]


def ngram_part(outcome: dict) -> str:
    """``, n-gram 5.123`` where the run's record has an n-gram loss."""
    return f", n-gram {outcome['ngram_loss']:.3f}" if outcome.get("ngram_loss") is not None else ""


def _pct(value) -> str:
    return "?" if value is None else f"{value:.1%}"
