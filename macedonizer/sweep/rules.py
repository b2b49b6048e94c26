"""Stopping a sweep run early: the rules that condemn a run from its own records, and the halving's pause.

A ``Watch`` is shown every step, validation and diagnostics record of one
run (``macedonizer.train.loop.watching``). It stops the run at a rung of the
halving (``pause_at``), or, with the rules on, when one of them holds, first
that holds, in this order:

* ``nan``: a validation loss or an output logit that is NaN or infinite (a
  NaN *training* loss already stops every run: the engine's
  ``TrainingDiverged``, outcome ``diverged``).

The others only from ``GRACE`` of the budget or twice the warm-up on,
whichever is later (a fresh model's loss starts a little above ln |V|):

* ``above-uniform``: the validation loss is above ln |V|, the loss of a fresh
  model predicting uniformly (the classifier calls a run that ends there
  ``diverged``).
* ``attention-logits``: an attention logit above ``causes.ATTENTION_LOGIT_MAX``
  (softmax is one-hot: the instability Wortsman et al. 2023 describe).
* ``gradient-ratio``: the top layer's gradients more than ``GRADIENT_RATIO``
  times the bottom layer's, or less than its inverse: ten times the
  imbalance ``causes`` names, still there after the warm-up.
* ``unigram``: from ``UNIGRAM_SHARE`` of the budget on, the validation loss is
  not below the unigram loss by ``causes.AT_UNIGRAM``: still predicting word
  frequencies at best.

The two symptoms (attention logits, gradient ratio) condemn only a run whose
last validation has not left the plateau (not below the unigram loss by
``causes.AT_UNIGRAM``): on real text the modern variant's mini at lr 3e-3
reached attention logits of 101 at step 225 while at 6.40 nats against the
unigram's 7.30 and still falling, the best mini of its grid (docs/learnability.md).

A stopped run keeps its checkpoint; its learning-rate schedule is the full
budget's, so resuming it continues the same run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .causes import AT_UNIGRAM, ATTENTION_LOGIT_MAX, below_unigram, GRADIENT_RATIO as CAUSE_RATIO, layer_gradient_ratio

RULES = ("nan", "above-uniform", "attention-logits", "gradient-ratio", "unigram")
GRACE = 0.1
"""Share of the budget (or twice the warm-up, where later) before which only ``nan`` stops a run."""
UNIGRAM_SHARE = 0.5
"""Share of the budget after which a run not below the unigram loss is stopped."""
GRADIENT_RATIO = 10 * CAUSE_RATIO
"""Top/bottom gradient ratio (or its inverse) that stops a run after the grace."""


@dataclass
class Watch:
    """What stops one run: a pause at a halving rung, and/or the rules; ``stopped`` says which, with numbers."""

    total_steps: int
    start_loss: float
    """ln |V|: the loss of a fresh model."""
    pause_at: int | None = None
    rules: bool = False
    grace: float = GRACE
    """Share of the budget before which only ``nan`` stops the run: ``GRACE``, or twice the warm-up where later."""
    stopped: dict | None = None
    """``{"by": "rule" | "rung", "rule": name, "step": n, "reason": sentence}`` once the run is stopped."""
    left_plateau: bool = False
    """Whether the last validation was below the unigram loss by ``AT_UNIGRAM``: then no symptom stops the run."""

    def __call__(self, kind: str, record: dict) -> str | None:
        if kind == "val" and record.get("unigram_loss") is not None:
            self.left_plateau = below_unigram(float(record["loss"]), record["unigram_loss"])
        if self.stopped is None and self.rules:
            found = broken_rule(kind, record, self.total_steps, self.start_loss, self.grace, self.left_plateau)
            if found:
                self.stopped = {"by": "rule", "rule": found[0], "step": record["step"], "reason": found[1]}
        if self.stopped is None and kind == "step" and self.pause_at is not None and record["step"] >= self.pause_at:
            self.stopped = {"by": "rung", "step": record["step"],
                            "reason": f"paused at step {record['step']} for the halving's ranking"}
        return self.stopped["reason"] if self.stopped else None


def broken_rule(kind: str, record: dict, total_steps: int, start_loss: float, grace: float = GRACE,
                left_plateau: bool = False) -> tuple[str, str] | None:
    """The first rule a validation or diagnostics record breaks, as (name, sentence with numbers), or None.

    ``left_plateau``: the run's last validation was below the unigram loss; only ``nan`` can stop it then.
    """
    step = record["step"]
    where = f"at step {step} ({step / total_steps:.0%} of the budget)"
    if kind == "val":
        return _validation_rule(record, where, step / total_steps, start_loss, grace)
    if kind == "diagnostics":
        return _diagnostics_rule(record, where, step / total_steps, grace, left_plateau)
    return None


def _validation_rule(record: dict, where: str, share: float, start_loss: float, grace: float
                     ) -> tuple[str, str] | None:
    loss, unigram = float(record["loss"]), record.get("unigram_loss")
    if not math.isfinite(loss):
        return "nan", f"the validation loss became {loss} {where}"
    if share < grace:
        return None
    if loss > start_loss:
        return "above-uniform", (f"validation loss {loss:.3f} {where} is above ln |V| = {start_loss:.3f}, "
                                 "the loss of a fresh model")
    if share >= UNIGRAM_SHARE and unigram is not None and not below_unigram(loss, unigram):
        return "unigram", (f"validation loss {loss:.3f} {where} is not below the unigram loss {unigram:.3f} "
                           f"by {AT_UNIGRAM:g} nats: still word frequencies at best")
    return None


def _diagnostics_rule(record: dict, where: str, share: float, grace: float, left_plateau: bool
                      ) -> tuple[str, str] | None:
    logit = float(record["logit_max"])
    if not math.isfinite(logit):
        return "nan", f"the output logits became {logit} {where}"
    if share < grace or left_plateau:
        return None
    attention = [float(x) for x in record["attention_logit_max"]]
    if attention and max(attention) > ATTENTION_LOGIT_MAX:
        top = max(attention)
        return "attention-logits", (f"attention logits reached {top:.0f} in layer {attention.index(top)} {where}, "
                                    f"above the bound {ATTENTION_LOGIT_MAX}")
    ratio = layer_gradient_ratio(record["grad_norm"])
    if ratio is not None and not 1 / GRADIENT_RATIO <= ratio <= GRADIENT_RATIO:
        return "gradient-ratio", (f"the top layer's gradients are {ratio:.3g}× the bottom layer's {where}, "
                                  f"beyond the bound {GRADIENT_RATIO:g}× either way")
    return None
