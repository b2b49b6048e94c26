"""The statistical vote: lingua, restricted to Macedonian and its Cyrillic neighbours."""

from __future__ import annotations

import math
from functools import lru_cache

from lingua import Language, LanguageDetectorBuilder

# Its say is bounded: it never overrules clear evidence from the rules and the lexicon.
STATISTICAL_CLIP = 2.5
# Long documents: the detector sees at most this many characters.
STATISTICAL_SAMPLE_CHARS = 600


@lru_cache(maxsize=1)
def _detector():
    """lingua restricted to the Cyrillic neighbours, built once per process."""
    languages = [
        Language.MACEDONIAN,
        Language.BULGARIAN,
        Language.SERBIAN,
        Language.RUSSIAN,
        Language.UKRAINIAN,
        Language.BELARUSIAN,
    ]
    return LanguageDetectorBuilder.from_languages(*languages).build()


def statistical_evidence(text: str) -> float:
    """Log-odds of mk against the likeliest neighbour from lingua, in ±STATISTICAL_CLIP."""
    sample = text if len(text) <= STATISTICAL_SAMPLE_CHARS else text[:STATISTICAL_SAMPLE_CHARS]
    mk = 0.0
    best_other = 0.0
    for confidence in _detector().compute_language_confidence_values(sample):
        if confidence.language == Language.MACEDONIAN:
            mk = confidence.value
        else:
            best_other = max(best_other, confidence.value)
    eps = 1e-4
    log_odds = math.log((mk + eps) / (best_other + eps))
    return max(-STATISTICAL_CLIP, min(STATISTICAL_CLIP, log_odds))
