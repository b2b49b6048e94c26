"""Word-frequency evidence (wordfreq): how common is each word in Macedonian, and in each neighbour?

The Tesseract word lists (``lexicon``) say only whether a word is in a list.
wordfreq's lists (Robyn Speer et al., built from Wikipedia, subtitles, news
and web text) also say how frequent it is, and their coverage differs from
Tesseract's. For each neighbour, a word only one of the two lists holds is
evidence, stronger the more frequent it is in the list that holds it: a word
of frequency f in one list and absent from the other counts
``FREQUENCY_WEIGHT * min(WORD_CLIP, ln(f / floor))``, where ``floor`` (Zipf
``FLOOR_ZIPF``) stands for the unknown frequency of a word missing from a list.
The evidence is the sum against the closest neighbour (the smallest), bounded
by ``FREQUENCY_CLIP``.

Words both lists hold count nothing: the classic naive-Bayes vote would add
the log ratio of their two frequencies, but the lists come from corpora of
different genres and sizes, and measured on short text that ratio is noise
(Macedonian "ли" is rarer in wordfreq's Macedonian list than in its Bulgarian
one, which turns "Може ли мени?" Bulgarian); ``SHARED_WEIGHT`` scales it, 0 by
default (``benchmarks/langid.py --ideas`` measures it at 1).

The "small" lists are used (every word of Zipf 3 or more, i.e. once per
million words, or more): they are the only size wordfreq has for Bulgarian
and Serbian, and a longer list on one side only would make words look absent
from the other. wordfreq keeps Serbian together with Croatian and Bosnian as
Serbo-Croatian in Latin script (``sh``), so a Cyrillic word is transliterated
to Latin before it is looked up there, as wordfreq itself does.

wordfreq is a dependency, not copied: its code is Apache-2.0 and its data
CC-BY-SA 4.0, read from the installed package at run time. The lists load
once per process, on first use.
"""

from __future__ import annotations

import math
from functools import lru_cache

from ...errors import MacedonizerError
from .rules import LETTER_DECIDES

LANGUAGES = ("mk", "sr", "bg", "ru", "uk")
# wordfreq's code for each language whose list it stores under another name.
_WORDFREQ_CODES = {"sr": "sh"}
WORDLIST = "small"

# Zipf (log10 of the frequency per billion words) of a word missing from a list: half a step
# under the small lists' cut-off of 3.
FLOOR_ZIPF = 2.5
# The most one word can say, in nats before FREQUENCY_WEIGHT (a word of Zipf 3.8 or more reaches it).
WORD_CLIP = 3.0
FREQUENCY_WEIGHT = 0.3
SHARED_WEIGHT = 0.0
FREQUENCY_CLIP = 2.0

# Serbian Cyrillic to Gaj's Latin alphabet, the script of wordfreq's Serbo-Croatian list.
_TO_LATIN = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ђ": "đ", "е": "e", "ж": "ž", "з": "z", "и": "i",
    "ј": "j", "к": "k", "л": "l", "љ": "lj", "м": "m", "н": "n", "њ": "nj", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "ћ": "ć", "у": "u", "ф": "f", "х": "h", "ц": "c", "ч": "č", "џ": "dž", "ш": "š",
})
_LN10 = math.log(10)
_SERBIAN = LANGUAGES.index("sr") - 1  # its index among the neighbours' tables


@lru_cache(maxsize=1)
def zipf_tables() -> tuple[dict[str, float], ...]:
    """For each of LANGUAGES, word -> Zipf frequency (Serbian words in Latin script); read once per process."""
    try:
        import wordfreq

        files = wordfreq.available_languages(WORDLIST)
        return tuple(_zipf_table(wordfreq.read_cBpack(files[_WORDFREQ_CODES.get(lang, lang)])) for lang in LANGUAGES)
    except (ImportError, OSError, LookupError, ValueError) as err:
        raise MacedonizerError(f"the language ID's word frequencies (the wordfreq package) cannot be read: {err}; "
                               "reinstall macedonizer") from err


def _zipf_table(buckets: list[list[str]]) -> dict[str, float]:
    # wordfreq's own format: bucket i holds the words of frequency 10^(-i/100), i.e. Zipf 9 - i/100.
    # (Read directly rather than through get_frequency_dict, which would keep a second copy cached.)
    table: dict[str, float] = {}
    for i, words in enumerate(buckets):
        if words:
            zipf = 9.0 - i / 100
            table.update(dict.fromkeys(words, zipf))
    return table


def _pair(mk: float | None, other: float | None) -> float:
    """Log-odds (nats) for Macedonian from one word's Zipf frequency in the two lists (None: absent)."""
    if mk is None:
        return -min(WORD_CLIP, (other - FLOOR_ZIPF) * _LN10)
    if other is None:
        return min(WORD_CLIP, (mk - FLOOR_ZIPF) * _LN10)
    return SHARED_WEIGHT * max(-WORD_CLIP, min(WORD_CLIP, (mk - other) * _LN10))


def frequency_evidence(words: list[str]) -> float:
    """Log-odds for Macedonian against the closest neighbour from word frequencies, in ±FREQUENCY_CLIP.

    Only Cyrillic words are looked up, and not those whose letters already decide (ќ, ђ, ъ ...).
    """
    tables = zipf_tables()
    mk_table, neighbours = tables[0], tables[1:]
    per_neighbour = [0.0] * len(neighbours)
    for word in words:
        if not "\u0400" <= word[0] <= "\u04ff" or not LETTER_DECIDES.isdisjoint(word):
            continue
        mk = mk_table.get(word)
        for i, table in enumerate(neighbours):
            other = table.get(word.translate(_TO_LATIN) if i == _SERBIAN else word)
            if mk is not None or other is not None:
                per_neighbour[i] += _pair(mk, other)
    return max(-FREQUENCY_CLIP, min(FREQUENCY_CLIP, FREQUENCY_WEIGHT * min(per_neighbour)))
