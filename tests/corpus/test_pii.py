from collections import Counter

import pytest

from macedonizer.corpus.pii import EMAIL_TAG, IBAN_TAG, PHONE_TAG, scrub


@pytest.mark.parametrize("email", ["info@mkd.mk", "ana.petrova+news@gmail.com", "a_b-c@mail.example.org"])
def test_emails(email):
    counts = Counter()
    assert scrub(f"Пишете на {email} денес.", counts) == f"Пишете на {EMAIL_TAG} денес."
    assert counts == {"email": 1}


@pytest.mark.parametrize("phone", ["+389 2 3123 456", "070 123 456", "(02) 3123-456", "075/123-456",
                                   "00389 70 123 456", "02 3 123 456", "+389 70 123 456"])
def test_phone_numbers(phone):
    counts = Counter()
    assert scrub(f"Јавете се на {phone}.", counts) == f"Јавете се на {PHONE_TAG}."
    assert counts == {"phone": 1}


def test_ibans_are_checked_by_their_checksum():
    counts = Counter()
    text = "Сметка MK07 2501 2000 0058 984, DE89370400440532013000, а не MK07 2501 2000 0058 985."
    assert scrub(text, counts) == f"Сметка {IBAN_TAG}, {IBAN_TAG}, а не MK07 2501 2000 0058 985."
    assert counts == {"iban": 2}


@pytest.mark.parametrize("text", [
    "Во 1990-2000 година во градот живееле 15.000 луѓе.",
    "Датумот е 01.01.2020, а бројот е 3,14159.",
    "Градот има 12 345 678 жители и ISBN 978-608-1234-56-7.",
    "Резултатот беше 2:1, а цената 1.234.567 денари.",
])
def test_numbers_that_are_not_personal_data_stay(text):
    counts = Counter()
    assert scrub(text, counts) == text
    assert not counts
