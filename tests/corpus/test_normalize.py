import re
import sys

import ftfy.bad_codecs  # noqa: F401  (registers the sloppy-windows-125x codecs)
import pytest

from macedonizer.corpus import normalize as normalize_module
from macedonizer.corpus.normalize import (
    Repairs,
    clean_whitespace,
    has_mojibake,
    needs_whitespace_repair,
    normalize,
    repair_escaped_breaks,
    repair_homoglyphs,
    repair_mojibake,
)

SENTENCE = "Македонија е земја во Југоисточна Европа: ѓ ќ ѕ љ њ џ ј ѐ ѝ Ѓ Ќ Ѕ Љ Њ Џ Ј Ѐ Ѝ."


def test_nfc_whitespace_and_invisible_characters():
    decomposed = "се\u0300 и\u0300"  # е + combining grave → ѐ, и + grave → ѝ
    assert clean_whitespace(decomposed) == "сѐ ѝ"
    assert clean_whitespace("a\u200bб\u00adв \t  г\r\n\r\n\r\nд\x07\ufeff") == "aбв г\n\nд"


def test_only_text_that_needs_it_takes_the_slow_whitespace_path():
    # Every character the whitespace patterns remove or collapse is caught by the cheap test ...
    changed = [ch for ch in map(chr, range(sys.maxunicode + 1))
               if normalize_module._INVISIBLE_RE.match(ch) or (ch.isspace() and ch != " ")]
    assert len(changed) > 60 and all(needs_whitespace_repair(f"а{ch}б") for ch in changed)
    assert needs_whitespace_repair("две  празни места")
    # ... and an ordinary line, the common case, skips the patterns.
    assert not needs_whitespace_repair(" " + SENTENCE + " ")
    assert clean_whitespace(" " + SENTENCE + " ") == SENTENCE


@pytest.mark.parametrize("codec", ["latin-1", "sloppy-windows-1252", "sloppy-windows-1251"])
def test_mojibake_is_repaired(codec):
    broken = SENTENCE.encode("utf-8").decode(codec)
    assert has_mojibake(broken)
    repairs = Repairs()
    assert normalize(broken, repairs) == SENTENCE
    assert repairs.mojibake == 1


def test_mojibake_with_lost_bytes_is_dropped():
    broken = "Струмица се наоѓа на југоистокот.".encode("utf-8").decode("cp1252", errors="replace")
    assert repair_mojibake(broken) is None
    repairs = Repairs()
    assert normalize(broken, repairs) == ""
    assert repairs.lines_dropped == {"mojibake": 1}


@pytest.mark.parametrize("text", ["Тито, СФРЈ и КПЈ", "Тој рече: „АРМ“.", "Во СФРЈ живееле многу народи и народности."])
def test_real_text_that_resembles_cp1251_mojibake_is_left_alone(text):
    assert repair_mojibake(text) == text


@pytest.mark.parametrize(
    "dirty, clean",
    [
        ("Јaзикoт", "Јазикот"),  # Latin a, o inside a Cyrillic word
        ("Тоа e добро.", "Тоа е добро."),  # a whole Latin "e" between Cyrillic words
        ("Скопје cо 500.000 жители", "Скопје со 500.000 жители"),
        ("Pусија", "Русија"),
        ("сè и сé", "сѐ и сѐ"),  # Latin è/é typed for ѐ
        ("5 kм", "5 км"),
        ("Во VІІ век", "Во VII век"),  # Cyrillic І inside a Latin Roman numeral
        ("Latin primае", "Latin primae"),  # Cyrillic а, е inside a Latin word
    ],
)
def test_homoglyphs_are_repaired(dirty, clean):
    text, n, ok = repair_homoglyphs(dirty)
    # n counts the words repaired: those that differ from the clean text.
    assert ok and text == clean and n == sum(a != b for a, b in zip(dirty.split(), clean.split()))


def test_words_with_latin_letters_are_whole_runs_of_letters():
    text = "Во Лондон (London), Јaзикoт и 5kм; ђак_cо Латиница"
    words = [m.group() for m in normalize_module._LATIN_WORD_RE.finditer(text)]
    assert words == [w for w in re.findall(r"[^\W\d_]+", text) if re.search("[A-Za-z]", w)]
    assert words == ["London", "Јaзикoт", "kм", "cо"]


@pytest.mark.parametrize("text", ["Тоа е OK.", "Ова е Windows-от.", "Sony и Samsung", "Тоа е TV."])
def test_latin_words_that_are_meant_as_latin_stay(text):
    assert repair_homoglyphs(text) == (text, 0, True)


def test_unrepairable_mixed_word_drops_the_line_not_the_document():
    repairs = Repairs()
    text = normalize("Прв ред е добар.\nРецепт за Rакија.\nТрет ред е добар.", repairs)
    assert text == "Прв ред е добар.\nТрет ред е добар."
    assert repairs.lines_dropped == {"mixed_script": 1}


def test_escaped_line_breaks_become_line_breaks_instead_of_dropping_the_line():
    # Firefox's Macedonian strings have these; read as letters, "\\n\\nИзгасете" was one mixed-script word.
    repairs = Repairs()
    text = normalize("Нема доволно меморија.\\n\\nИзгасете некои програми.\\tГотово.", repairs)
    assert text == "Нема доволно меморија.\n\nИзгасете некои програми. Готово."
    assert repairs.escaped_breaks == 3 and not repairs.lines_dropped


@pytest.mark.parametrize("text", [r"C:\new\tables", r"\textbf{Наслов}", r"Знакот \\n е нов ред.", "без обратна коса црта"])
def test_backslashes_that_are_not_escaped_breaks_stay(text):
    assert repair_escaped_breaks(text) == (text, 0)


def test_replacement_character_drops_the_line():
    repairs = Repairs()
    assert normalize("Ова \ufffd не е добро.", repairs) == ""
    assert repairs.lines_dropped == {"encoding_error": 1}
