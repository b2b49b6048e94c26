"""Lexicon evidence: is each word in the Macedonian word list, and in the neighbour's?

Short text (an interface string, a title) often has no telling letter and no
function word, but its content words still differ: Serbian "изаберите",
"унесите", "датотеку" are in no Macedonian word list, Macedonian "изберете",
"внесете", "датотека" in no Serbian one. For each neighbour the text gets
``MK_ONLY_WEIGHT`` for every word the Macedonian list holds and the
neighbour's lacks, and ``NEIGHBOUR_ONLY_WEIGHT`` for the reverse; the evidence
is the sum against the closest neighbour (the smallest). Words in both lists,
or in neither, carry nothing.

The lists are Tesseract OCR's (Apache-2.0, see ``lexicon.NOTICE``; how the
file is made: ``build_lexicon.py``). Collected from the web, each holds a few of its
neighbours' words and misses words that web text rarely has (interface verbs
such as "прикажи" are missing from the Serbian one), so the weights are
smaller than the log-likelihood ratios measured on text (a word only the
Macedonian list holds is about 20 times likelier in Macedonian than in
Serbian, e^3, and 80 times than in Bulgarian; a word only the neighbour's
holds, about 30 times likelier in the neighbour). With +2 and -3, a single
word only the neighbour's list holds outweighs the prior towards Macedonian,
and it takes two Macedonian-only words to outweigh one neighbour-only word.
"""

from __future__ import annotations

import gzip
from collections import Counter
from functools import lru_cache
from pathlib import Path

from ...errors import MacedonizerError

LANGUAGES = ("mk", "sr", "bg", "ru", "uk")
LEXICON_PATH = Path(__file__).with_name("lexicon.txt.gz")

MK_ONLY_WEIGHT = 2.0
NEIGHBOUR_ONLY_WEIGHT = -3.0
# The lexicon's say is bounded, so that it can be skipped when the other evidence is already beyond it.
LEXICON_CLIP = 8.0


def _pair_weight(mask: int, neighbour: int) -> float:
    in_mk, in_other = bool(mask & 1), bool(mask >> neighbour & 1)
    if in_mk and not in_other:
        return MK_ONLY_WEIGHT
    if in_other and not in_mk:
        return NEIGHBOUR_ONLY_WEIGHT
    return 0.0


# For each set of languages (a bit mask over LANGUAGES), the weight against each neighbour.
_WEIGHTS_BY_MASK = [tuple(_pair_weight(mask, i) for i in range(1, len(LANGUAGES)))
                    for mask in range(1 << len(LANGUAGES))]


@lru_cache(maxsize=1)
def lexicon() -> dict[str, int]:
    """word -> bit mask of the languages whose list holds it; read once per process."""
    masks = {}
    try:
        with gzip.open(LEXICON_PATH, "rt", encoding="utf-8") as f:
            for line in f:
                if not line.startswith("#"):
                    word, _, mask = line.rstrip("\n").partition("\t")
                    masks[word] = int(mask, 16)
    except (OSError, EOFError, ValueError) as err:
        raise MacedonizerError(f"the language ID's word lists are missing or damaged ({LEXICON_PATH}: {err}); "
                               "reinstall macedonizer") from err
    return masks


def lexicon_evidence(words: list[str]) -> float:
    """Log-odds for Macedonian against the closest neighbour from word-list membership, in ±LEXICON_CLIP."""
    masks = lexicon()
    counts = Counter(masks.get(word, 0) for word in words)
    counts.pop(0, None)
    if not counts:
        return 0.0
    per_neighbour = [sum(n * _WEIGHTS_BY_MASK[mask][i] for mask, n in counts.items())
                     for i in range(len(LANGUAGES) - 1)]
    return max(-LEXICON_CLIP, min(LEXICON_CLIP, min(per_neighbour)))
