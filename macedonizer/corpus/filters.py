"""Quality filters in the Gopher / C4 tradition.

Each filter follows one contract, ``filter(doc) -> (keep, reason)``: the
pipeline counts every drop by its reason. Thresholds are the defaults of
Gopher (Rae et al. 2021) and C4 (Raffel et al. 2020), relaxed where
Macedonian or sentence-level text needs it; every one is a field of
:class:`QualityConfig`.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import filterfalse
from operator import mul
from dataclasses import dataclass

from .document import Document


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds of the quality filters (the ``[clean.quality]`` table)."""

    min_chars: int = 20
    """Shorter documents are dropped (``too_short``)."""
    max_chars: int = 1_000_000
    """Longer documents are dropped before any other work (``too_long``)."""
    min_words: int = 3
    """Fewer words than this: ``too_few_words``."""
    min_mean_word_length: float = 2.5
    """Gopher: mean word length outside [min, max] means word salad or code."""
    max_mean_word_length: float = 12.0
    max_symbol_ratio: float = 0.1
    """Gopher: '#' and '…' per word."""
    max_digit_ratio: float = 0.25
    """Digits per non-space character: tables, scores, phone lists."""
    min_alpha_word_ratio: float = 0.7
    """Gopher: share of words that contain a letter (numbers count against it,
    lone punctuation such as "—" is not a word). Gopher's 0.8 drops short
    biographical sentences full of dates."""
    max_bullet_line_ratio: float = 0.9
    """Gopher: share of lines that start with a bullet."""
    max_ellipsis_line_ratio: float = 0.3
    """Gopher: share of lines that end with an ellipsis (truncated teasers)."""
    max_duplicate_line_ratio: float = 0.3
    """Gopher: share of lines that repeat another line of the document."""
    max_duplicate_line_char_ratio: float = 0.2
    max_top_ngram_ratio: tuple[tuple[int, float], ...] = ((2, 0.2), (3, 0.18), (4, 0.16))
    """Gopher: characters covered by the most frequent n-gram, per n."""
    max_duplicate_ngram_ratio: tuple[tuple[int, float], ...] = (
        (5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10),
    )
    """Gopher: characters covered by n-grams that occur more than once."""
    min_words_for_repetition: int = 100
    """Repetition statistics are noise on short texts (one repeated name is 20%
    of a 40-word paragraph); below this many words they are skipped."""


# Boilerplate of web pages, in Macedonian and English. A line that matches is
# removed from its document (C4 style); a document left with nothing is dropped.
BOILERPLATE_PATTERNS = [
    # Cookie banners ("колачиња" are also biscuits, so only the banner phrasing).
    r"(користи|користиме|употребува|употребуваме|прифати|прифаќам|прифатете|политика за) колачиња"
    r"|колачиња (за да|за подобро|за анализа)|(use|uses|accept|allow) cookies|cookie (policy|settings|consent)",
    r"прочитај(те)? (повеќе|понатаму|ја целата)|повеќе на линкот|read more|continue reading",
    r"сите права (се )?задржани|all rights reserved|© ?\d{4}|copyright ©",
    r"lorem ipsum",
    r"(овозможете|вклучете|enable|activate) javascript|javascript (е (исклучен|потребен)|is (disabled|required))",
    r"политика (за|на) приватност|privacy policy|услови (за|на) користење|terms of (use|service)",
    r"(следете|следи) (не|нè|нѐ) на|follow us|сподели на (facebook|twitter)|share on",
    r"најави се|регистрирај се|log ?in\b|sign up|subscribe|претплати се",
    r"кликни(те)? (тука|овде)|click here",
]
# A boilerplate line is short: a paragraph that merely mentions cookies or
# JavaScript is text about them.
MAX_BOILERPLATE_LINE_CHARS = 250
# Whole lines that are site navigation rather than text.
NAVIGATION_LINES = frozenset([
    "почетна", "home", "контакт", "контакти", "contact", "за нас", "about us", "мени", "menu",
    "пребарај", "search", "архива", "најнови вести", "најчитани", "поврзани вести",
    # Section menus of news sites, when a line holds nothing else.
    "вести", "спорт", "економија", "култура", "свет", "магазин", "забава", "хроника", "политика",
    "општество", "здравје", "технологија", "мислења", "колумни", "видео", "фото", "галерија",
])
_BOILERPLATE_RE = re.compile("|".join(f"(?:{p})" for p in BOILERPLATE_PATTERNS))
# Literal fragments, one of which every pattern above contains: a cheap
# substring test spares the regex on the vast majority of text.
_BOILERPLATE_HINTS = (
    "колачи", "cookie", "прочитај", "линкот", "read more", "continue reading", "задржани",
    "rights reserved", "©", "lorem ipsum", "javascript", "приватност", "privacy", "користење",
    "terms of", "следете", "следи ", "follow us", "сподели", "share on", "најави", "регистрирај",
    "log in", "login", "sign up", "subscribe", "претплати", "кликни", "click here",
)
_BULLET_RE = re.compile(r"^\s*[•‣◦⁃∙●▪\-–*]")
_ELLIPSIS_RE = re.compile(r"(\.\.\.|…)\s*$")
_LETTER_RE = re.compile(r"[^\W\d_]")
_PUNCTUATION = ".,;:!?\"'()[]{}«»„“”‘’—–-…/*"


def _has_letter(token: str) -> bool:
    # Most tokens start or end with a letter: only the rest pay for a regex.
    return token[0].isalpha() or token[-1].isalpha() or _LETTER_RE.search(token) is not None


def _is_boilerplate(line_lower: str) -> bool:
    if len(line_lower) > MAX_BOILERPLATE_LINE_CHARS:
        return False
    return line_lower.strip(" .:|»›") in NAVIGATION_LINES or (
        any(hint in line_lower for hint in _BOILERPLATE_HINTS) and bool(_BOILERPLATE_RE.search(line_lower))
    )


def remove_boilerplate_lines(text: str) -> tuple[str, int]:
    """Drop lines that are web-page furniture; return (text, lines removed)."""
    lower = text.lower()
    if not any(hint in lower for hint in _BOILERPLATE_HINTS) and "\n" not in text and len(text) > 20:
        return text, 0
    kept = []
    removed = 0
    for line in text.split("\n"):
        if line and _is_boilerplate(line.lower()):
            removed += 1
        else:
            kept.append(line)
    return "\n".join(kept).strip(), removed


def _ngrams(words: list[str], n: int) -> list[tuple[str, ...]]:
    return list(zip(*(words[i:] for i in range(n))))


def top_ngram_ratio(words: list[str], n: int) -> float:
    """Share of word characters covered by the most frequent n-gram (Gopher)."""
    grams = _ngrams(words, n)
    if not grams:
        return 0.0
    gram, count = Counter(grams).most_common(1)[0]
    if count == 1:
        return 0.0
    return sum(map(len, gram)) * count / (sum(map(len, words)) or 1)


def duplicate_ngram_ratio(words: list[str], n: int) -> float:
    """Share of word characters inside n-grams that occur more than once (Gopher)."""
    grams = _ngrams(words, n)
    if len(set(grams)) == len(grams):  # nothing repeats: the common case, and a set is cheaper than a Counter
        return 0.0
    counts = Counter(grams)
    covered = [False] * len(words)
    for i, gram in enumerate(grams):
        if counts[gram] > 1:
            covered[i : i + n] = [True] * n
    dup = sum(len(w) for w, c in zip(words, covered) if c)
    return dup / (sum(map(len, words)) or 1)


def too_repetitive(words: list[str], config: QualityConfig) -> bool:
    """Gopher's top and duplicate n-gram rules over lower-cased ``words``.

    An n-gram occurs at most as often as each of its words, so the top n-gram
    covers at most n times the characters of the most covering single word.
    Below its limit, the n-grams need not be counted: in ordinary text that
    spares nearly all of the bigram and trigram counts. (Each bound is compared
    as the ratio itself is, after one division by the same total, so it never
    skips an n that the exact ratio would drop.)
    """
    total = sum(map(len, words)) or 1
    counts = Counter(words)
    top_word = max(map(mul, map(len, counts), counts.values()))
    for n, limit in config.max_top_ngram_ratio:
        if n * top_word / total > limit and top_ngram_ratio(words, n) > limit:
            return True
    # A repeated longer n-gram is made of repeated shorter ones, so its share
    # is no larger: once under every longer n's limit, none can pass it.
    dup_limits = sorted(config.max_duplicate_ngram_ratio)
    for n, limit in dup_limits:
        dup = duplicate_ngram_ratio(words, n)
        if dup > limit:
            return True
        if all(dup <= longer for m, longer in dup_limits if m > n):
            break
    return False


class QualityFilter:
    """All Gopher/C4 document checks, each drop named by the rule it broke."""

    def __init__(self, config: QualityConfig | None = None):
        self.config = config or QualityConfig()

    def __call__(self, doc: Document) -> tuple[bool, str | None]:
        c = self.config
        text = doc.text
        if len(text) < c.min_chars:
            return False, "too_short"
        words = text.split()
        n_words = len(words)
        if n_words < c.min_words:
            return False, "too_few_words"
        non_space = sum(map(len, words))
        # Letters and digits per word: punctuation does not make words longer.
        # (str.count per character: a few C scans beat one regex pass.)
        mean_len = (non_space - sum(map(text.count, _PUNCTUATION))) / n_words
        if not c.min_mean_word_length <= mean_len <= c.max_mean_word_length:
            return False, "mean_word_length"
        symbols = text.count("#") + text.count("…") + text.count("...")
        if symbols / n_words > c.max_symbol_ratio:
            return False, "symbol_ratio"
        if sum(map(text.count, "0123456789")) / non_space > c.max_digit_ratio:
            return False, "digit_ratio"
        # Tokens without a letter: numbers count against the text, lone
        # punctuation ("—") is not a word at all.
        letterless = [w for w in filterfalse(str.isalpha, words) if not _has_letter(w)]
        real_words = n_words - sum(1 for w in letterless if not any(ch.isdigit() for ch in w))
        alpha_words = n_words - len(letterless)
        if real_words == 0 or alpha_words / real_words < c.min_alpha_word_ratio:
            return False, "alpha_word_ratio"
        lines = [line for line in text.split("\n") if line.strip()]
        if len(lines) > 1:
            if sum(1 for line in lines if _BULLET_RE.match(line)) / len(lines) > c.max_bullet_line_ratio:
                return False, "bullet_lines"
            if sum(1 for line in lines if _ELLIPSIS_RE.search(line)) / len(lines) > c.max_ellipsis_line_ratio:
                return False, "ellipsis_lines"
            counts = Counter(lines)
            dup_lines = [line for line in lines if counts[line] > 1]
            if len(dup_lines) / len(lines) > c.max_duplicate_line_ratio:
                return False, "duplicate_lines"
            if sum(map(len, dup_lines)) / max(1, sum(map(len, lines))) > c.max_duplicate_line_char_ratio:
                return False, "duplicate_lines"
        if n_words >= c.min_words_for_repetition and too_repetitive(text.lower().split(), c):
            return False, "repeated_ngrams"
        return True, None
