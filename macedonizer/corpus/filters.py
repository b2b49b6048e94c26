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
    min_alpha_word_ratio: float = 0.8
    """Gopher: share of words that contain a letter."""
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
    min_words_for_repetition: int = 30
    """Repetition statistics are noise on short texts; below this they are skipped."""


# Boilerplate of web pages, in Macedonian and English. A line that matches is
# removed from its document (C4 style); a document left with nothing is dropped.
BOILERPLATE_PATTERNS = [
    r"колачиња|колачињата|cookies?\b",
    r"прочитај(те)? (повеќе|понатаму|ја целата)|повеќе на линкот|read more|continue reading",
    r"сите права (се )?задржани|all rights reserved|©",
    r"lorem ipsum",
    r"javascript",
    r"политика (за|на) приватност|privacy policy|услови (за|на) користење|terms of (use|service)",
    r"(следете|следи) (не|нè|нѐ) на|follow us|сподели на (facebook|twitter)|share on",
    r"најави се|регистрирај се|log ?in\b|sign up|subscribe|претплати се",
    r"кликни(те)? (тука|овде)|click here",
    r"^(почетна|home|контакт|contact|за нас|about us|мени|menu)$",
]
_BOILERPLATE_RE = re.compile("|".join(f"(?:{p})" for p in BOILERPLATE_PATTERNS), re.IGNORECASE)
_BULLET_RE = re.compile(r"^\s*[•‣◦⁃∙●▪\-–*]")
_ELLIPSIS_RE = re.compile(r"(\.\.\.|…)\s*$")
_WORD_RE = re.compile(r"\S+")
_ALPHA_RE = re.compile(r"[^\W\d_]")
_DIGIT_RE = re.compile(r"\d")
_STRIP_PUNCT = str.maketrans("", "", ".,;:!?\"'()[]{}«»„“”‘’—–-")


def remove_boilerplate_lines(text: str) -> tuple[str, int]:
    """Drop lines that are web-page furniture; return (text, lines removed)."""
    if not _BOILERPLATE_RE.search(text):
        return text, 0
    kept = []
    removed = 0
    for line in text.split("\n"):
        if line and _BOILERPLATE_RE.search(line):
            removed += 1
        else:
            kept.append(line)
    return "\n".join(kept).strip(), removed


def _ngram_ratios(words: list[str], n: int) -> tuple[float, float]:
    """(share of characters in the most frequent n-gram, in repeated n-grams)."""
    if len(words) < n:
        return 0.0, 0.0
    grams = list(zip(*(words[i:] for i in range(n))))
    counts = Counter(grams)
    if len(counts) == len(grams):  # nothing repeats: the common case, and cheap
        return 0.0, 0.0
    total = sum(map(len, words)) or 1
    top_gram, top_count = counts.most_common(1)[0]
    top = sum(map(len, top_gram)) * top_count
    covered = [False] * len(words)
    for i, gram in enumerate(grams):
        if counts[gram] > 1:
            covered[i : i + n] = [True] * n
    dup = sum(len(w) for w, c in zip(words, covered) if c)
    return top / total, dup / total


class QualityFilter:
    """All Gopher/C4 document checks, each drop named by the rule it broke."""

    def __init__(self, config: QualityConfig | None = None):
        self.config = config or QualityConfig()

    def __call__(self, doc: Document) -> tuple[bool, str | None]:
        c = self.config
        text = doc.text
        if len(text) < c.min_chars:
            return False, "too_short"
        words = _WORD_RE.findall(text)
        n_words = len(words)
        if n_words < c.min_words:
            return False, "too_few_words"
        mean_len = sum(len(w.translate(_STRIP_PUNCT)) for w in words) / n_words
        if not c.min_mean_word_length <= mean_len <= c.max_mean_word_length:
            return False, "mean_word_length"
        symbols = text.count("#") + text.count("…") + text.count("...")
        if symbols / n_words > c.max_symbol_ratio:
            return False, "symbol_ratio"
        non_space = len(text) - text.count(" ") - text.count("\n")
        if non_space and len(_DIGIT_RE.findall(text)) / non_space > c.max_digit_ratio:
            return False, "digit_ratio"
        alpha_words = sum(1 for w in words if _ALPHA_RE.search(w))
        if alpha_words / n_words < c.min_alpha_word_ratio:
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
        if n_words >= c.min_words_for_repetition:
            lowered = [w.lower() for w in words]
            for n, limit in c.max_top_ngram_ratio:
                if _ngram_ratios(lowered, n)[0] > limit:
                    return False, "repeated_ngrams"
            for n, limit in c.max_duplicate_ngram_ratio:
                dup = _ngram_ratios(lowered, n)[1]
                if dup > limit:
                    return False, "repeated_ngrams"
                if dup == 0.0:  # no repeated n-gram: no longer one repeats either
                    break
        return True, None
