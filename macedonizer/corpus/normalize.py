"""Text repairs: Unicode, whitespace, mojibake and Latin look-alike letters.

Every function here either returns repaired text or says why the text cannot
be repaired; nothing broken is passed on to the tokenizer.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import ftfy

# Control and format characters that carry nothing in running text: C0/C1
# controls (but tab and newline), zero-width spaces and joiners, soft hyphen,
# byte-order marks, bidi controls.
_INVISIBLE_RE = re.compile(
    "[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f"
    "\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]"
)
_SPACES_RE = re.compile(r"[^\S\n]+")  # any whitespace except newline
_BLANK_LINES_RE = re.compile(r"\n\s*\n+")

# Mojibake of Cyrillic: UTF-8 bytes D0/D1 xx decoded as Latin-1/CP1252 turn
# into "Ð"/"Ñ" followed by a Latin-1 or CP1252 character; decoded as CP1251
# they turn into "Р"/"С" followed by a CP1251 character of the 0x80-0xBF row.
_CP1251_TAIL = "ЂЃ‚ѓ„…†‡€‰Љ‹ЊЌЋЏђ‘’“”•–—™љ›њќћџ\u00a0ЎўЈ¤Ґ¦§Ё©Є«¬\u00ad®Ї°±Ііґµ¶·ё№є»јЅѕї"
_MOJIBAKE_HINT_RE = re.compile(
    "[ÐÑ][\u0080-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013-\u203a\u20ac\u2122]"
    "|[РС][" + re.escape(_CP1251_TAIL) + "]"
)
_REPLACEMENT_CHAR = "\ufffd"
# Above this share of letters in mojibake pairs, text that ftfy could not
# repair is taken for broken rather than for a lucky "СФРЈ".
MOJIBAKE_DENSITY = 0.3

# Latin letters that look exactly like Cyrillic ones, and those Cyrillic
# letters. Macedonian ј and ѕ have Latin twins too.
# "сè" is often typed with a Latin è (or é) for ѐ, "ì" for ѝ.
_LATIN_TWINS = "aceopxyjskABCEHJKMOPSTXYèéÈÉìíÌÍ"
_CYRILLIC_TWINS = "асеорхујѕкАВСЕНЈКМОРЅТХУѐѐЀЀѝѝЍЍ"
HOMOGLYPHS = str.maketrans(_LATIN_TWINS, _CYRILLIC_TWINS)
_LATIN_LOOKALIKES = frozenset(_LATIN_TWINS)
# The other way round: Cyrillic look-alikes inside a Latin word ("primае").
# (І/і are not Macedonian letters but stand in for Latin I in "VІІ".)
TO_LATIN = str.maketrans("асеорхујѕкАВСЕНЈКМОРЅТХУІі", "aceopxyjskABCEHJKMOPSTXYIi")
_CYRILLIC_LOOKALIKES = frozenset("асеорхујѕкАВСЕНЈКМОРЅТХУІі")
# A word (letters only) that contains at least one Latin letter. The look-behind
# anchors each try at a word's first letter: without it the regex retries from
# every letter of every Cyrillic word, quadratic in the word's length.
_LATIN_WORD_RE = re.compile(r"(?<![^\W\d_])[^\W\d_]*?[A-Za-z\u00c0-\u024f][^\W\d_]*")
# The word just before a position (the nearest one, across punctuation and
# spaces but not across digits), and the word just after.
_LAST_WORD_RE = re.compile(r"([^\W\d_]+)[^\w]*\Z")
_NEXT_WORD_RE = re.compile(r"[^\w]*([^\W\d_]+)")
_NEIGHBOUR_WINDOW = 80
_CYRILLIC_RE = re.compile(r"[\u0400-\u04ff]")
# Line breaks and tabs written as escapes (a backslash and n, r or t, as in text
# taken from JSON or a translation file): not an escaped backslash followed by
# n, and not followed by a Latin letter, where the backslash starts a name
# (a Windows path "C:\new", a TeX command "\textbf").
_ESCAPED_BREAK_RE = re.compile(r"(?<!\\)\\(r\\n|[nrt])(?![A-Za-z])")
_LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")


@dataclass
class Repairs:
    """What was repaired in one text, for the report."""

    mojibake: int = 0
    homoglyph_words: int = 0
    escaped_breaks: int = 0
    lines_dropped: dict[str, int] = field(default_factory=dict)

    def drop_line(self, reason: str) -> None:
        self.lines_dropped[reason] = self.lines_dropped.get(reason, 0) + 1


def clean_whitespace(text: str) -> str:
    """NFC, invisible characters removed, runs of spaces collapsed per line."""
    text = unicodedata.normalize("NFC", text)
    if not needs_whitespace_repair(text):
        return text.strip()
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE_RE.sub("", text)
    text = _SPACES_RE.sub(" ", text)
    text = _BLANK_LINES_RE.sub("\n\n", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


def needs_whitespace_repair(text: str) -> bool:
    """Could ``clean_whitespace`` do more to ``text`` than trim its ends?

    Every character its patterns remove or collapse, but the plain space, is
    unprintable (controls, format characters, newlines, other whitespace), so a
    printable text without double spaces, the common line, needs only
    trimming: two scans in C instead of three regular expressions.
    """
    return not text.isprintable() or "  " in text


def repair_escaped_breaks(text: str) -> tuple[str, int]:
    """Turn line breaks and tabs written as escapes back into whitespace; return the text and how many."""
    if "\\" not in text:
        return text, 0
    return _ESCAPED_BREAK_RE.subn(lambda m: " " if m.group(1) == "t" else "\n", text)


def has_mojibake(text: str) -> bool:
    """Cheap test: might this text contain mis-decoded UTF-8?

    It also fires on real text ("СФРЈ", "АРМ“"), so it only decides whether
    the careful checks below are worth running.
    """
    return bool(_MOJIBAKE_HINT_RE.search(text))


def _mojibake_density(text: str) -> float:
    """Share of the text's letters that are mojibake pairs (0 for real text)."""
    pairs = len(_MOJIBAKE_HINT_RE.findall(text))
    letters = sum(1 for ch in text if ch.isalpha())
    return 2 * pairs / letters if letters else 0.0


def repair_mojibake(text: str) -> str | None:
    """Undo UTF-8 read as Latin-1, CP1252 or CP1251.

    Returns the repaired text, the text unchanged if it was never mojibake,
    or None if it is mojibake that cannot be undone (bytes were lost).
    """
    if not has_mojibake(text):
        return text
    fixed = ftfy.fix_encoding(text)
    if fixed != text:
        return None if _REPLACEMENT_CHAR in fixed or _mojibake_density(fixed) > MOJIBAKE_DENSITY else fixed
    return None if _mojibake_density(text) > MOJIBAKE_DENSITY else text


def _is_cyrillic_word(word: str) -> bool:
    return bool(_CYRILLIC_RE.search(word)) and not _LATIN_RE.search(word)


def repair_homoglyphs(text: str) -> tuple[str, int, bool]:
    """Replace Latin look-alikes inside Cyrillic words.

    Returns (text, words repaired, ok). A word that mixes Cyrillic with Latin
    letters that have no Cyrillic twin cannot be repaired (ok is False).
    A whole word of look-alikes ("e", "co") is repaired when the words on both
    sides of it are Cyrillic.
    """
    if not _LATIN_RE.search(text) or not _CYRILLIC_RE.search(text):
        return text, 0, True
    replacements: list[tuple[int, int, str]] = []
    ok = True
    # Only words with a Latin letter can need repair: find just those.
    for match in _LATIN_WORD_RE.finditer(text):
        word = match.group()
        latin = set(_LATIN_RE.findall(word))
        if _CYRILLIC_RE.search(word):
            cyrillic = set(_CYRILLIC_RE.findall(word))
            n_latin = sum(1 for ch in word if ch in latin)
            if latin <= _LATIN_LOOKALIKES and (n_latin * 2 <= len(word) or not cyrillic <= _CYRILLIC_LOOKALIKES):
                replacements.append((match.start(), match.end(), word.translate(HOMOGLYPHS)))
            elif cyrillic <= _CYRILLIC_LOOKALIKES:
                replacements.append((match.start(), match.end(), word.translate(TO_LATIN)))
            else:
                ok = False
            continue
        # A whole word of look-alikes is repaired only in lower case: "e" or
        # "co" amid Cyrillic is a typo, while "OK" or "TV" is meant as Latin.
        if latin <= _LATIN_LOOKALIKES and word.islower():
            start, end = match.start(), match.end()
            before = _LAST_WORD_RE.search(text[max(0, start - _NEIGHBOUR_WINDOW) : start])
            after = _NEXT_WORD_RE.match(text[end : end + _NEIGHBOUR_WINDOW])
            neighbours = [m.group(1) for m in (before, after) if m is not None]
            if neighbours and all(_is_cyrillic_word(w) for w in neighbours):
                replacements.append((match.start(), match.end(), word.translate(HOMOGLYPHS)))
    if not replacements:
        return text, 0, ok
    parts = []
    last = 0
    for start, end, new in replacements:
        parts.append(text[last:start])
        parts.append(new)
        last = end
    parts.append(text[last:])
    return "".join(parts), len(replacements), ok


def normalize(text: str, repairs: Repairs) -> str:
    """Run every repair over ``text`` line by line; return what survives.

    Lines that cannot be repaired are dropped (and counted in ``repairs``);
    the result may be empty.
    """
    text, repairs.escaped_breaks = repair_escaped_breaks(text)
    # Mojibake is repaired before invisible characters are removed: the C1
    # controls it contains are bytes of the original text.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = []
    for line in text.split("\n"):
        if has_mojibake(line):
            fixed = repair_mojibake(line)
            if fixed is None:
                repairs.drop_line("mojibake")
                continue
            if fixed != line:
                repairs.mojibake += 1
                line = fixed
        line = clean_whitespace(line)
        if not line:
            kept.append(line)
            continue
        if _REPLACEMENT_CHAR in line:
            repairs.drop_line("encoding_error")
            continue
        line, n_words, ok = repair_homoglyphs(line)
        if not ok:
            repairs.drop_line("mixed_script")
            continue
        repairs.homoglyph_words += n_words
        kept.append(line)
    return _BLANK_LINES_RE.sub("\n\n", "\n".join(kept)).strip()
