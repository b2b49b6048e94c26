import random
from dataclasses import replace

import pytest

from macedonizer.corpus.document import Document
from macedonizer.corpus.filters import (
    QualityConfig,
    QualityFilter,
    duplicate_ngram_ratio,
    remove_boilerplate_lines,
    too_repetitive,
    top_ngram_ratio,
)

GOOD = ("Македонската кујна е позната по тавче гравче, ајвар и пастрмајлија, а секој регион "
        "има свои посебни јадења што се подготвуваат за празниците.")


def check(text, config=None):
    return QualityFilter(config)(Document(text, "test", "test:1"))


def test_good_text_passes():
    assert check(GOOD) == (True, None)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("Кратко.", "too_short"),
        ("Најдобро Македонија!!!!!!!!!!!!!!", "too_few_words"),
        ("а б в г д ѓ е ж з ѕ и ј к л љ м н њ о п р с т", "mean_word_length"),
        ("#вести #македонија #скопје #спорт #економија #култура #денес", "symbol_ratio"),
        ("Резултати: 12:3, 45:6, 78:9, 10:11, 12:13, 14:15, 16:17, 18:19 во 2023/2024.", "digit_ratio"),
        ("Цени 1 2 3 4 5 6 7 8 денари за сите производи", "alpha_word_ratio"),
        ("\n".join(["• прва ставка на листата", "• втора ставка на листата", "• трета ставка"]), "bullet_lines"),
        ("\n".join(["Прочитајте ја целата приказна за градоначалникот и новиот градски парк...",
                    "Уште една вест што сигурно ја пропуштивте во текот на изминатата недела...",
                    "Погледнете што се случи вчера попладне на плоштадот во центарот на градот..."]),
         "ellipsis_lines"),
        ("\n".join(["Најдобрите цени во градот се кај нас!"] * 4 + [GOOD]), "duplicate_lines"),
    ],
)
def test_each_rule_names_its_reason(text, reason):
    assert check(text) == (False, reason)


def test_repetition_rules_apply_to_long_documents_only():
    repeated = " ".join(["купете сега најевтино"] * 40)
    assert check(repeated) == (False, "repeated_ngrams")
    short = "Купете сега. " + "Купете сега. " + GOOD
    assert check(short)[0]


def test_thresholds_are_configurable():
    config = replace(QualityConfig(), min_words=50)
    assert check(GOOD, config) == (False, "too_few_words")


def test_ngram_ratios_follow_gopher_definitions():
    words = ["a", "b", "a", "b", "c"]
    # The top bigram "a b" occurs twice and covers 4 of the 5 characters.
    assert top_ngram_ratio(words, 2) == pytest.approx(4 / 5)
    assert duplicate_ngram_ratio(words, 2) == pytest.approx(4 / 5)
    assert duplicate_ngram_ratio(["a", "b", "c", "d"], 2) == 0.0


def gopher_repetition(words, config):
    """Gopher's rules as written: every n-gram counted, no shortcut."""
    return (any(top_ngram_ratio(words, n) > limit for n, limit in config.max_top_ngram_ratio)
            or any(duplicate_ngram_ratio(words, n) > limit for n, limit in config.max_duplicate_ngram_ratio))


def test_repetition_shortcuts_decide_as_gopher_does():
    config = QualityConfig()
    rng = random.Random(0)
    # From no repetition to a lot: vocabularies of 4 to 400 words, one long word repeated or not.
    docs = [GOOD.lower().split() * 8, ("купете сега најевтино " * 40).split()]
    for size in (4, 12, 40, 120, 400):
        vocabulary = [f"збор{i}" * rng.randint(1, 3) for i in range(size)] + ["и", "на", "македонските"]
        docs += [[rng.choice(vocabulary) for _ in range(rng.randint(100, 400))] for _ in range(40)]
    decisions = [too_repetitive(words, config) for words in docs]
    assert decisions == [gopher_repetition(words, config) for words in docs]
    assert 0 < sum(decisions) < len(docs)


def test_boilerplate_lines_are_removed_and_text_kept():
    text = "\n".join([
        "Почетна", "Вести", "Владата го усвои буџетот за следната година.",
        "Оваа страница користи колачиња за подобро искуство.", "Прочитај повеќе", "© 2024 Сите права се задржани.",
    ])
    assert remove_boilerplate_lines(text) == ("Владата го усвои буџетот за следната година.", 5)


@pytest.mark.parametrize("text", [
    "Децата му оставаат на Дедо Мраз чаша млеко и чинија со колачиња.",
    "Програмскиот јазик JavaScript се користи во веб-прелистувачите.",
])
def test_words_that_also_appear_in_banners_are_not_boilerplate(text):
    assert remove_boilerplate_lines(text) == (text, 0)
