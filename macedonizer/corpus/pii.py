"""Scrubbing of personal data: e-mail addresses, phone numbers, IBANs.

Each is replaced by a fixed tag so that a model learns that "an address goes
here" without learning anybody's address. Phone numbers follow the shapes
used in North Macedonia and internationally (+389 2 3123 456, 070 123 456,
(02) 3123-456); IBANs are validated by their mod-97 checksum, so an ordinary
code that merely looks like one is left alone.
"""

from __future__ import annotations

import re
from collections import Counter

EMAIL_TAG = "<EMAIL>"
PHONE_TAG = "<PHONE>"
IBAN_TAG = "<IBAN>"

_EMAIL_RE = re.compile(
    r"(?<![\w.+-])[\w.+-]+@(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,}(?![\w@])"
)
# International (+ or 00 and a country code) or national (a leading 0 and an
# area or mobile code); groups separated by a space, dash or slash.
_PHONE_RE = re.compile(
    r"(?<![\w+/.,-])"
    r"(?:(?:\+|00)\d{1,3}[ \-/]?(?:\(0?\d{1,3}\)[ \-/]?)?|\(0\d{1,3}\)[ \-/]?|0\d{1,2}[ \-/]?)"
    r"\d{1,4}(?:[ \-/]?\d{2,4}){1,3}"
    r"(?![\w/]|[.,]\d)"
)
_IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")


def _valid_iban(candidate: str) -> bool:
    compact = candidate.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(digits) % 97 == 1


def _phone_digits_ok(candidate: str) -> bool:
    digits = sum(ch.isdigit() for ch in candidate)
    return 8 <= digits <= 15


def scrub(text: str, counts: Counter | None = None) -> str:
    """Replace personal data in ``text``; add what was replaced to ``counts``."""
    counts = counts if counts is not None else Counter()

    def iban(match: re.Match) -> str:
        if _valid_iban(match.group()):
            counts["iban"] += 1
            return IBAN_TAG
        return match.group()

    def email(match: re.Match) -> str:
        counts["email"] += 1
        return EMAIL_TAG

    def phone(match: re.Match) -> str:
        if _phone_digits_ok(match.group()):
            counts["phone"] += 1
            return PHONE_TAG
        return match.group()

    if "@" in text:
        text = _EMAIL_RE.sub(email, text)
    # Phone numbers and IBANs have at least 8 digits: most text has fewer,
    # and counting them is far cheaper than running the two patterns.
    if sum(map(text.count, "0123456789")) >= 8:
        text = _IBAN_RE.sub(iban, text)
        text = _PHONE_RE.sub(phone, text)
    return text
