"""Macedonian language identification: is this text Macedonian, or a neighbour?

General-purpose detectors confuse Macedonian with Bulgarian and Serbian on
short sentences (lingua keeps only ~64% of short Macedonian sentences when it
must choose among mk/bg/sr/ru/uk/be). The neighbours are told apart far more
reliably by evidence that a linguist would use, so the score is a log-odds sum:

1. **Letters.** ѓ ќ ѕ ѐ ѝ occur only in Macedonian; ђ ћ only in Serbian;
   й ь ъ щ я ю ы э ё є і ї ґ ў never in Macedonian. Each occurrence is
   strong evidence.
2. **Function words.** The most frequent words differ between the languages
   even where the letters do not ("во/со/од/дека" against Bulgarian
   "в/с/от/че" and Serbian "у/са/из/је"), plus Serbian/Russian case endings.
3. **A statistical detector** (lingua, trained on large corpora) breaks ties
   only when the first two give little evidence, so it never overrules a clear
   signal and is rarely called (which also keeps cleaning fast).

The final ``mk_score`` is the logistic of the sum, in [0, 1]. Text written
mostly in Latin script scores 0.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from lingua import Language, LanguageDetectorBuilder

# Letters that never appear in Macedonian words, by the neighbour they point to.
MK_ONLY_LETTERS = frozenset("ѓќѕѐѝЃЌЅЀЍ")
SR_ONLY_LETTERS = frozenset("ђћЂЋ")
NON_MK_LETTERS = frozenset("йьъщяюыэёєіїґўЙЬЪЩЯЮЫЭЁЄІЇҐЎ")
_FOREIGN_LETTERS = NON_MK_LETTERS | SR_ONLY_LETTERS
_SPECIAL_LETTER_RE = re.compile("[" + "".join(sorted(MK_ONLY_LETTERS | _FOREIGN_LETTERS)) + "]")

# Evidence per occurrence, in nats (log-odds of mk against the best neighbour).
MK_LETTER_WEIGHT = 2.5
FOREIGN_LETTER_WEIGHT = -2.5
# A prior that leans towards Macedonian: the input is text labelled
# Macedonian, and a sentence with no evidence either way is kept.
PRIOR = 1.0
# Below this much absolute evidence the statistical detector is consulted.
AMBIGUOUS_BELOW = 2.5
STATISTICAL_WEIGHT = 1.0
STATISTICAL_CLIP = 2.5
# Long documents: the statistical detector sees at most this many characters.
STATISTICAL_SAMPLE_CHARS = 600

# Function words whose presence is evidence for (positive) or against
# (negative) Macedonian. Shared words (на, и, да, се, за ...) carry nothing.
_MK_WORDS = {
    3.0: "во со дека оваа овој овие тоа таа тие јас тој кој нив неа нејзе кон кај преку околу потоа "
    "денес еден бидејќи многу сум беа биле зошто каде некој никој ниту секој сите сиот својот нивните "
    "уште затоа тогаш секогаш никогаш сакам сакаш сакаме одам одиме работам кажам можам малку арно "
    "убав убаво убава голем голема големо таму сепак токму",
    1.5: "кои кое кога сака тука ние вие ништо треба исто оди правам каков",
}
_NEIGHBOUR_WORDS = {
    # Serbian
    -3.0: "је су у из код био била било бити када шта још али смо нису није према током један једна "
    "једно ово овај ови моја њих јер веома данас сутра јуче сада увек након његов њен њихов сви сваки "
    "људи посао новац новца питање "
    # Bulgarian
    "в с от че това този тази тези като след през вече между днес един много тук когато бе обичам "
    "искам искаш всички всеки затова тогава докато преди мога "
    # Russian
    "что как он она они был была были было также если только которые где уже",
    -1.5: "са сам пре тамо никад никада опет кад хвала молим желим идем иде радим кажем видим преко тај "
    "оно све ништа неко нико ствари земља године део пут лепо добре мен теб дори около казва",
}
# Case endings of Serbian and Russian that Macedonian, having lost the cases,
# rarely produces on longer words.
_CASE_ENDINGS = ("ог", "ом", "ему", "ого", "их", "им", "има", "ама", "ими", "ами", "ају", "ати", "ити", "ети",
                 # Bulgarian aorist (купих, казах, пристигнаха, казахме), where Macedonian
                 # has -в, -а, -вме, -вте.
                 "ах", "ох", "ха", "хме", "хте")
CASE_ENDING_WEIGHT = -0.6
# The Macedonian masculine definite article (градот, човекот) has no
# counterpart ending in the neighbours (Bulgarian writes -ът); nor has the
# Macedonian aorist plural (бевме, дојдовте).
_MK_ENDINGS = ("от", "вме", "вте")
ARTICLE_ENDING_WEIGHT = 0.8



def _build_word_weights() -> dict[str, float]:
    weights: dict[str, float] = {}
    for table in (_MK_WORDS, _NEIGHBOUR_WORDS):
        for weight, words in table.items():
            for word in words.split():
                weights[word] = weights.get(word, 0.0) + weight
    # Words that are frequent in Macedonian *and* a neighbour cancel out:
    # list them in both tables on purpose ("многу" is mk, "много" is bg/sr).
    return {w: v for w, v in weights.items() if v}


WORD_WEIGHTS = _build_word_weights()
# Words; a one-letter word followed by a dot ("в.", "с.", "г.") is an
# abbreviation (век, село, година), not the preposition, and is skipped.
_WORD_RE = re.compile(r"[^\W\d_]{2,}|[^\W\d_](?![.\w])")


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


# In UTF-8, every character of the Cyrillic block U+0400-U+04FF starts with
# one of the bytes D0-D3, and nothing else does; Latin letters are ASCII or
# start with C3-C9 (U+00C0-U+027F), Greek with CE-CF. Counting bytes is
# several times faster than a regex over the text.
_CYRILLIC_LEADS = (b"\xd0", b"\xd1", b"\xd2", b"\xd3")
_OTHER_LEADS = (b"\xc3", b"\xc4", b"\xc5", b"\xc6", b"\xc7", b"\xc8", b"\xc9", b"\xce", b"\xcf")
_ASCII_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def script_of(text: str) -> tuple[str, int, int]:
    """Return (script, cyrillic letters, other letters) of ``text``."""
    data = text.encode("utf-8")
    cyr = sum(map(data.count, _CYRILLIC_LEADS))
    other = sum(map(data.count, _OTHER_LEADS)) + len(data) - len(data.translate(None, _ASCII_LETTERS))
    if cyr == 0 and other == 0:
        return "none", 0, 0
    if cyr >= 4 * other:
        return "cyrillic", cyr, other
    if other >= 4 * cyr:
        return "latin", cyr, other
    return "mixed", cyr, other


def rule_evidence(text: str) -> float:
    """Log-odds for Macedonian from letters and function words alone."""
    special = _SPECIAL_LETTER_RE.findall(text)
    mk_letters = sum(1 for ch in special if ch in MK_ONLY_LETTERS)
    evidence = MK_LETTER_WEIGHT * mk_letters + FOREIGN_LETTER_WEIGHT * (len(special) - mk_letters)
    words = _WORD_RE.findall(text.lower())
    evidence += sum(filter(None, map(WORD_WEIGHTS.get, words)))
    long_words = [w for w in words if len(w) >= 5 and w not in WORD_WEIGHTS]
    evidence += CASE_ENDING_WEIGHT * sum(1 for w in long_words if w.endswith(_CASE_ENDINGS))
    evidence += ARTICLE_ENDING_WEIGHT * sum(1 for w in long_words if w.endswith(_MK_ENDINGS))
    return evidence


@lru_cache(maxsize=1)
def _statistical_detector():
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
    """Clipped log-odds of mk against the likeliest neighbour, from lingua."""
    sample = text if len(text) <= STATISTICAL_SAMPLE_CHARS else text[:STATISTICAL_SAMPLE_CHARS]
    values = _statistical_detector().compute_language_confidence_values(sample)
    mk = 0.0
    best_other = 0.0
    for confidence in values:
        if confidence.language.iso_code_639_1.name == "MK":
            mk = confidence.value
        else:
            best_other = max(best_other, confidence.value)
    eps = 1e-4
    log_odds = math.log((mk + eps) / (best_other + eps))
    return max(-STATISTICAL_CLIP, min(STATISTICAL_CLIP, log_odds))


def score(text: str, use_statistical: bool = True) -> LangScore:
    """Score how likely ``text`` is Macedonian."""
    script, cyr, other = script_of(text)
    if script in ("none", "latin"):
        return LangScore(0.0, script, -math.inf)
    evidence = PRIOR + rule_evidence(text)
    if script == "mixed":
        # Half-Latin text is at best a bilingual snippet: make it earn its place.
        evidence -= 3.0
    if use_statistical and abs(evidence) < AMBIGUOUS_BELOW:
        evidence += STATISTICAL_WEIGHT * statistical_evidence(text)
    return LangScore(_sigmoid(evidence), script, evidence)
