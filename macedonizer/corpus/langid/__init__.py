"""Macedonian language identification: is this text Macedonian, or a neighbour?

General-purpose detectors confuse Macedonian with Bulgarian and Serbian on
short text (lingua keeps only ~64% of short Macedonian sentences when it must
choose among mk/bg/sr/ru/uk/be, and 85% of Macedonian interface strings). The
neighbours are told apart far more reliably by evidence that a linguist would
use, so the score is a log-odds sum:

1. **Letters** (``rules``). ѓ ќ ѕ ѐ ѝ occur only in Macedonian; ђ ћ only in
   Serbian; й ь ъ щ я ю ы э ё є і ї ґ ў never in Macedonian.
2. **Function words and endings** (``rules``). The most frequent words differ
   even where the letters do not ("во/со/од/дека" against Bulgarian
   "в/с/от/че" and Serbian "у/са/из/је/их/уз"), and so do endings: the
   neighbours' case endings (Serbian страницу, новог), Bulgarian verbal nouns
   in -ане, against the Macedonian article -от and 3rd plural -аат.
3. **Word lists** (``lexicon``). Each word is looked up in the Macedonian
   word list and in each neighbour's: a word only one of them holds is
   evidence, which decides short strings that have no telling letter. Names
   (capitalised inside a sentence) are not looked up.
4. **Word frequencies** (``frequency``: wordfreq's lists). A word only the
   Macedonian list or only a neighbour's holds counts, more the more
   frequent it is there; their coverage differs from the word lists'.
5. **A statistical detector** (``statistical``: lingua, trained on large
   corpora) has a bounded vote.

The lexicon, the frequencies and lingua are bounded, so they are skipped when the rest of the
evidence is already beyond what they could overturn: long documents rarely
need them, which keeps cleaning fast. The final ``mk_score`` is the logistic of
the sum, in [0, 1]. Text written mostly in Latin script scores 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .frequency import FREQUENCY_CLIP, frequency_evidence
from .lexicon import LEXICON_CLIP, lexicon_evidence
from .rules import (MK_ONLY_LETTERS, NON_MK_LETTERS, SR_ONLY_LETTERS, WORD_WEIGHTS, names_in, rule_evidence,
                    script_of, words_of)
from .statistical import STATISTICAL_CLIP, statistical_evidence

__all__ = ["LangScore", "score", "rule_evidence", "lexicon_evidence", "frequency_evidence", "statistical_evidence",
           "script_of", "words_of", "MK_ONLY_LETTERS", "SR_ONLY_LETTERS", "NON_MK_LETTERS", "WORD_WEIGHTS"]

# A prior that leans towards Macedonian: the input is text labelled
# Macedonian, and a sentence with no evidence either way is kept.
PRIOR = 1.0
# Half-Latin text is at best a bilingual snippet: it has to earn its place.
MIXED_SCRIPT_PENALTY = 3.0
STATISTICAL_WEIGHT = 1.0
_STATISTICAL_BOUND = STATISTICAL_WEIGHT * STATISTICAL_CLIP


@dataclass(frozen=True)
class LangScore:
    """The verdict on one text."""

    mk_score: float
    """Probability-like score that the text is Macedonian, in [0, 1]."""
    script: str
    """``cyrillic``, ``latin``, ``mixed`` or ``none`` (no letters at all)."""
    evidence: float
    """The log-odds before the logistic, for diagnostics."""


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def score(text: str, use_statistical: bool = True) -> LangScore:
    """Score how likely ``text`` is Macedonian (``use_statistical=False``: without lingua)."""
    script, _, _ = script_of(text)
    if script in ("none", "latin"):
        return LangScore(0.0, script, -math.inf)
    words = words_of(text)
    evidence = PRIOR + rule_evidence(text, words)
    if script == "mixed":
        evidence -= MIXED_SCRIPT_PENALTY
    # The bounded votes, each only where it could still change the verdict.
    if abs(evidence) < LEXICON_CLIP + FREQUENCY_CLIP + _STATISTICAL_BOUND:
        names = names_in(text)
        looked_up = [w for w in words if w not in names] if names else words
        evidence += lexicon_evidence(looked_up)
        if abs(evidence) < FREQUENCY_CLIP + _STATISTICAL_BOUND:
            evidence += frequency_evidence(looked_up)
    if use_statistical and abs(evidence) < _STATISTICAL_BOUND:
        evidence += STATISTICAL_WEIGHT * statistical_evidence(text)
    return LangScore(_sigmoid(evidence), script, evidence)
