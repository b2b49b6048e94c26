"""The evidence a linguist would use: letters, function words, endings, and the script of a text.

Every weight is in nats of log-odds for Macedonian against the likeliest
neighbour; positive is evidence for Macedonian.
"""

from __future__ import annotations

import re

# Letters that never appear in Macedonian words, by the neighbour they point to.
MK_ONLY_LETTERS = frozenset("ѓќѕѐѝЃЌЅЀЍ")
SR_ONLY_LETTERS = frozenset("ђћЂЋ")
NON_MK_LETTERS = frozenset("йьъщяюыэёєіїґўЙЬЪЩЯЮЫЭЁЄІЇҐЎ")
_FOREIGN_LETTERS = NON_MK_LETTERS | SR_ONLY_LETTERS
# Lower-case letters whose presence alone points to a language (the lexicon leaves their words out).
LETTER_DECIDES = frozenset(ch for ch in MK_ONLY_LETTERS | _FOREIGN_LETTERS if ch.islower())
_SPECIAL_LETTER_RE = re.compile("[" + "".join(sorted(MK_ONLY_LETTERS | _FOREIGN_LETTERS)) + "]")

MK_LETTER_WEIGHT = 2.5
FOREIGN_LETTER_WEIGHT = -2.5

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
    # Serbian: pronouns, prepositions and adverbs that standard Macedonian replaces
    # (их/ги, уз/со, кроз/низ, поново/повторно, више/повеќе, који/кои, тако/така ...).
    -3.0: "је су у из био била било бити када шта још али смо нису није према током један једна "
    "једно ово овај ови моја њих јер веома данас сутра јуче сада увек након његов њен њихов сви сваки "
    "људи посао новац новца питање их уз кроз поново више мање који које ове овог овом овим свих већ "
    "тако онда неки неку унутар хтео хтела хтели "
    # Bulgarian
    "в с от че това този тази тези като след през вече между днес един много тук когато бе обичам "
    "искам искаш всички всеки затова тогава докато преди мога който която което които чрез обаче нито "
    # Russian
    "что как он она они был была были было также если только которые где уже",
    -1.5: "са сам пре тамо никад никада опет кад хвала молим желим идем иде радим кажем видим преко тај "
    "оно све ништа неко нико ствари земља године део пут лепо добре мен теб дори около казва зашто там",
    # "код" is the Serbian preposition, but also the Macedonian noun (изворен код, source code).
    -1.0: "код",
}
# "да ли" opens Serbian questions; Macedonian writes one word, "дали".
SERBIAN_QUESTION_WEIGHT = -1.5

# Endings of longer words (5+ letters) outside the word lists. The neighbours
# decline nouns and adjectives (Serbian страницу, историје, новог, овом; Russian
# -ого, -их), conjugate differently (Serbian блокује, -ају, -ују) and form verbal
# nouns in -ане/-ене (Bulgarian копиране), all of which Macedonian, having lost
# the cases, rarely produces. Macedonian alone has the article -от (градот),
# the aorist plural -вме/-вте, the 3rd plural -аат (имаат) and the imperfective -ува.
_ENDINGS = {
    -1.5: ("ого", "ему", "их", "ају", "ују", "ује", "ању", "ењу", "ије"),
    # Macedonian has a few: атом, аеродром, предлог, каталог.
    -1.0: ("ом", "ог", "ане", "ене"),
    -0.6: ("им", "има", "ими", "ами", "ити",
           # Bulgarian aorist (купих, казах, пристигнаха, казахме), where Macedonian has -в, -а, -вме, -вте.
           "ах", "ох", "ха", "хме", "хте"),
    0.8: ("от", "вме", "вте", "ува"),
    1.5: ("аат",),
}
# Serbian (and Russian) accusative, dative and locative singular end in -у
# (страницу, лозинку, историју); in Macedonian only a closed set of adverbs,
# quantifiers and pronouns does: the families of колку, многу, таму, кому,
# околу, меѓу, (по)инаку, (не)далеку, (по)блиску, and a few more.
_MK_U_FAMILIES = ("лку", "ногу", "аму", "ому", "олу", "еѓу", "инаку", "алеку", "лиску", "реку", "отуку", "ргу",
                  "изу", "кму", "вју")
U_ENDING_WEIGHT = -1.5
ENDING_MIN_LETTERS = 5


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
# ending -> weight, looked up by a word's last 3 letters, then its last 2.
_ENDING_WEIGHTS = {ending: weight for weight, endings in _ENDINGS.items() for ending in endings}
assert {len(ending) for ending in _ENDING_WEIGHTS} <= {2, 3}
# Words; a one-letter word followed by a dot ("в.", "с.", "г.") is an
# abbreviation (век, село, година), not the preposition, and is skipped.
_WORD_RE = re.compile(r"[^\W\d_]{2,}|[^\W\d_](?![.\w])")


def words_of(text: str) -> list[str]:
    """The lower-cased words of ``text`` that the rules and the lexicon look at."""
    return _WORD_RE.findall(text.lower())


# Serbian puts the long form of an adjective before a singular noun (приватни прозор,
# основни стил, бочни панел); in Macedonian (and Bulgarian) -ни after a consonant
# is plural and so is the noun after it (приватни прозорци, but приватен прозорец),
# and a singular masculine noun ends in a consonant. A verb in -ни (објасни, полни)
# makes the rare Macedonian exception, hence the small weight.
_LONG_ADJECTIVE_RE = re.compile(r"[бвгдђжзјклљмнњпрстћфхцчџш]ни$")
_VOWELS = frozenset("аеиоуѐѝ")
_PREPOSITIONS = frozenset("пред според кон низ под над без меѓу преку покрај околу кај спроти заради поради освен"
                          .split())
LONG_ADJECTIVE_WEIGHT = -1.0


def agreement_evidence(words: list[str]) -> float:
    """Log-odds from a Serbian long-form adjective before a singular noun."""
    candidates = [i for i, word in enumerate(words[:-1]) if word.endswith("ни")]
    hits = 0
    for i in candidates:
        adjective, noun = words[i], words[i + 1]
        if (len(adjective) >= 4 and len(noun) >= 3 and noun[-1] not in _VOWELS and noun not in _PREPOSITIONS
                and _LONG_ADJECTIVE_RE.search(adjective)):
            hits += 1
    return LONG_ADJECTIVE_WEIGHT * hits


# A capitalised Cyrillic word that does not open the text or a sentence: a name (Шри Ланка,
# Сао Томе), whatever word lists it may be in.
_NAME_RE = re.compile(r"(?<![.!?:…]\s)(?<!^)\b[А-ЯЀ-Џ][а-яѐ-џ]+")


def names_in(text: str) -> set[str]:
    """The lower-cased names in ``text``: they say nothing about the language around them."""
    return {m.group(0).lower() for m in _NAME_RE.finditer(text.strip())}


def _ending_weight(word: str) -> float:
    # The longest matching ending decides ("-ого" rather than "-ог").
    weight = _ENDING_WEIGHTS.get(word[-3:]) or _ENDING_WEIGHTS.get(word[-2:])
    if weight:
        return weight
    if word[-1] == "у" and not word.endswith(_MK_U_FAMILIES):
        return U_ENDING_WEIGHT
    return 0.0


def letter_evidence(text: str) -> float:
    """Log-odds from the letters only Macedonian has, or Macedonian never has."""
    special = _SPECIAL_LETTER_RE.findall(text)
    mk_letters = sum(1 for ch in special if ch in MK_ONLY_LETTERS)
    return MK_LETTER_WEIGHT * mk_letters + FOREIGN_LETTER_WEIGHT * (len(special) - mk_letters)


def word_evidence(words: list[str]) -> float:
    """Log-odds from function words and word endings."""
    evidence = sum(filter(None, map(WORD_WEIGHTS.get, words)))
    evidence += sum(_ending_weight(w) for w in words if len(w) >= ENDING_MIN_LETTERS and w not in WORD_WEIGHTS)
    return evidence


def rule_evidence(text: str, words: list[str] | None = None) -> float:
    """Log-odds for Macedonian from letters, function words, endings and agreement (``words``: ``words_of(text)``)."""
    words = words_of(text) if words is None else words
    evidence = letter_evidence(text) + word_evidence(words) + agreement_evidence(words)
    if "ли" in words:
        evidence += SERBIAN_QUESTION_WEIGHT * sum(1 for a, b in zip(words, words[1:]) if a == "да" and b == "ли")
    return evidence


# In UTF-8, every character of the Cyrillic block U+0400-U+04FF starts with
# one of the bytes D0-D3, and nothing else does; Latin letters are ASCII or
# start with C3-C9 (U+00C0-U+027F), Greek with CE-CF. Counting bytes is
# several times faster than a regex over the text.
_CYRILLIC_LEADS = (b"\xd0", b"\xd1", b"\xd2", b"\xd3")
_OTHER_LEADS = (b"\xc3", b"\xc4", b"\xc5", b"\xc6", b"\xc7", b"\xc8", b"\xc9", b"\xce", b"\xcf")
_ASCII_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


# Latin acronyms (PDF, URL, SSL, USB2) name things in any language; they do not make a text bilingual.
_LATIN_ACRONYM_RE = re.compile(r"\b[A-Z][A-Z0-9]+\b")


def _letter_counts(text: str) -> tuple[int, int]:
    data = text.encode("utf-8")
    cyr = sum(map(data.count, _CYRILLIC_LEADS))
    other = sum(map(data.count, _OTHER_LEADS)) + len(data) - len(data.translate(None, _ASCII_LETTERS))
    return cyr, other


def script_of(text: str) -> tuple[str, int, int]:
    """Return (script, cyrillic letters, other letters) of ``text``; Latin acronyms do not make it mixed."""
    cyr, other = _letter_counts(text)
    if cyr == 0 and other == 0:
        return "none", 0, 0
    if cyr >= 4 * other:
        return "cyrillic", cyr, other
    if other >= 4 * cyr:
        return "latin", cyr, other
    cyr, other = _letter_counts(_LATIN_ACRONYM_RE.sub(" ", text))
    return ("cyrillic" if cyr >= 4 * other else "mixed"), cyr, other
