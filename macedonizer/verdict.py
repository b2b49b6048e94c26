"""The one place that decides whether a model learned, and says why in one sentence.

It reads an evaluation record (``eval.json``'s ``validation``, a row of
``macedonizer eval --json``): scores taken with every scored token replaced
by ``[MASK]``, beside the unigram and n-gram baselines of
:mod:`macedonizer.baselines` on the same positions. The levels:

* ``learned``: the model's loss is below the n-gram baseline's by more than
  the evaluation noise (``NOISE_SE`` standard errors of the paired per-token
  difference, and at least ``MIN_LOSS_MARGIN`` nats), and its accuracy is
  above the n-gram's by more than its noise (and so, the same way, above the
  unigram's): it uses context beyond a lookup table of neighbours.
* ``plateau``: it beats the unigram baseline but not the n-gram one: it
  learned word frequencies, perhaps a little more, but no more of its
  context than a table of neighbours does (the masked-LM plateau).
* ``untrained``: not even below the unigram baseline.

build (summary, push gating), cards, the sweep and the web demo all call
:func:`judge`.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_LOSS_MARGIN = 0.02
"""Nats a model's loss must be under a baseline's, whatever the noise."""
NOISE_SE = 2.0
"""Standard errors of the paired difference a margin must exceed to be more than noise."""


@dataclass(frozen=True)
class Verdict:
    level: str
    """``learned``, ``plateau`` or ``untrained``."""
    reason: str
    """One sentence, with the numbers."""

    @property
    def learned(self) -> bool:
        return self.level == "learned"


def _beats(record: dict, baseline: str) -> tuple[bool, bool]:
    """(loss beats it beyond noise, accuracy beats it beyond noise)."""
    loss_margin = max(MIN_LOSS_MARGIN, NOISE_SE * record.get(f"loss_vs_{baseline}_se", 0.0))
    accuracy_margin = NOISE_SE * record.get(f"accuracy_vs_{baseline}_se", 0.0)
    return (record["loss"] <= record[f"{baseline}_loss"] - loss_margin,
            record["masked_accuracy"] > record[f"{baseline}_accuracy"] + accuracy_margin)


def judge(record: dict | None) -> Verdict:
    """The verdict on one evaluation record."""
    if not record or "loss" not in record:
        return Verdict("untrained", "no evaluation was recorded.")
    numbers = (f"loss {record['loss']:.3f}, accuracy {record['masked_accuracy']:.1%}; unigram "
               f"{record['unigram_loss']:.3f}, {record['unigram_accuracy']:.1%}")
    if "ngram_loss" not in record:
        return Verdict("untrained", f"this evaluation has no n-gram baseline ({numbers}); evaluate it again "
                                    "with `macedonizer eval` to judge it.")
    numbers += f"; n-gram {record['ngram_loss']:.3f}, {record['ngram_accuracy']:.1%}"
    ngram_loss, ngram_accuracy = _beats(record, "ngram")
    if ngram_loss and ngram_accuracy and all(_beats(record, "unigram")):
        return Verdict("learned", f"it predicts masked tokens better than the n-gram baseline beyond "
                                  f"evaluation noise ({numbers}).")
    if any(_beats(record, "unigram")):
        missed = "loss" if not ngram_loss else "accuracy"
        return Verdict("plateau", f"it beats word frequencies but not the n-gram baseline in {missed} "
                                  f"beyond evaluation noise ({numbers}).")
    return Verdict("untrained", f"it does not beat even word frequencies beyond evaluation noise ({numbers}).")


def learned(record: dict | None) -> bool:
    return judge(record).learned
