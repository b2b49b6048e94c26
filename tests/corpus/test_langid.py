import math

import pytest

from macedonizer.corpus import langid

MACEDONIAN = [
    "Утре ќе одам на пазар со мајка ми.",
    "Тој не сакаше да ѝ каже што се случило.",
    "Во Охрид секое лето доаѓаат илјадници туристи.",
    "Владата денес го усвои предлог-буџетот за следната година.",
    "Ме изгреба мачка.",
]
NEIGHBOURS = {
    "bg": "Той каза, че няма време за среща тази седмица.",
    "bg-no-special-letters": "Това е добре, но вече е късно.",
    "sr": "Студенти су протестовали испред зграде факултета.",
    "sr-no-special-letters": "Он је био у граду код својих родитеља.",
    "ru": "Мы долго гуляли по парку, а потом зашли в кафе.",
    "uk": "Сьогодні в Києві відбулася зустріч міністрів.",
    "be": "Учора ў Мінску прайшоў вялікі фестываль.",
}


@pytest.mark.parametrize("text", MACEDONIAN)
def test_macedonian_scores_high(text):
    assert langid.score(text).mk_score >= 0.5


@pytest.mark.parametrize("name", sorted(NEIGHBOURS))
def test_neighbours_score_low(name):
    assert langid.score(NEIGHBOURS[name]).mk_score < 0.5


def test_latin_script_scores_zero():
    verdict = langid.score("The quick brown fox jumps over the lazy dog.")
    assert verdict.mk_score == 0.0 and verdict.script == "latin"
    assert langid.score("12 345 — 678").script == "none"


def test_letters_alone_decide_without_the_statistical_model():
    # ќ and ѓ are Macedonian; ъ, щ (bg) and ђ, ћ (sr) are not.
    assert langid.score("Ќе дојдам со Ѓорѓи.", use_statistical=False).mk_score > 0.9
    assert langid.score("Ще дойда с Георги, ъгъл.", use_statistical=False).mk_score < 0.1
    assert langid.score("Ђорђе ће доћи.", use_statistical=False).mk_score < 0.1


def test_a_foreign_name_inside_macedonian_text_is_tolerated():
    text = ("Јелена Томашевиќ (српски: Јелена Томашевић) е српска пејачка која има добиено голем број награди "
            "за нејзините песни и настапила на многу фестивали во регионот.")
    assert langid.score(text).mk_score > 0.9


def test_abbreviations_are_not_prepositions():
    # "в." is век (century) and "с." село (village) in Macedonian, not bg/ru "в", "с".
    assert langid.rule_evidence("во 19 в. во с. Брајчино") == langid.rule_evidence("во 19 во Брајчино")


def test_score_is_the_logistic_of_the_evidence_and_ranks_macedonian_first():
    neighbours = [langid.score(text) for text in NEIGHBOURS.values()]
    for text in MACEDONIAN:
        ours = langid.score(text)
        # Every Macedonian sentence scores above every neighbour, and more evidence means a higher score.
        assert all(ours.mk_score > other.mk_score and ours.evidence > other.evidence for other in neighbours), text
    for verdict in [langid.score(text) for text in MACEDONIAN] + neighbours:
        assert verdict.mk_score == pytest.approx(1.0 / (1.0 + math.exp(-verdict.evidence)), rel=1e-9, abs=1e-300)


# Everyday short sentences, the same 25 in each language, written for this
# test: the hard case for a language filter (few words, few telling letters).
SHORT_SENTENCES = {
"sr": """Он је дошао кући касно.|Ово је моја кућа.|Где си био синоћ?|Шта радиш сутра?|Идем у школу сваки дан.|Она воли да чита књиге.|Били смо на мору прошле године.|Не знам шта да кажем.|То је било веома лепо.|Мој брат ради у Београду.|Данас је леп дан.|Колико кошта ова кошуља?|Они су стигли на време.|Морамо да разговарамо о томе.|Волим те.|Сутра идемо на излет.|Пас спава испод стола.|Њена мајка је лекар.|Нисам гладан.|Хвала вам на помоћи.|Где је станица?|Видимо се касније.|Ја сам студент.|Лепо време данас.|Купио сам нови телефон.""",
"bg": """Той дойде късно вкъщи.|Това е моята къща.|Къде беше снощи?|Какво правиш утре?|Ходя на училище всеки ден.|Тя обича да чете книги.|Бяхме на море миналата година.|Не знам какво да кажа.|Беше много хубаво.|Брат ми работи в София.|Днес е хубав ден.|Колко струва тази риза?|Те пристигнаха навреме.|Трябва да говорим за това.|Обичам те.|Утре отиваме на екскурзия.|Кучето спи под масата.|Майка ѝ е лекар.|Не съм гладен.|Благодаря за помощта.|Къде е гарата?|Ще се видим по-късно.|Аз съм студент.|Хубаво време днес.|Купих си нов телефон.""",
"mk": """Тој дојде дома доцна.|Ова е мојата куќа.|Каде беше синоќа?|Што правиш утре?|Одам на училиште секој ден.|Таа сака да чита книги.|Бевме на море минатата година.|Не знам што да кажам.|Тоа беше многу убаво.|Брат ми работи во Скопје.|Денес е убав ден.|Колку чини оваа кошула?|Тие пристигнаа навреме.|Мораме да разговараме за тоа.|Те сакам.|Утре одиме на излет.|Кучето спие под масата.|Нејзината мајка е лекар.|Не сум гладен.|Благодарам за помошта.|Каде е станицата?|Ќе се видиме подоцна.|Јас сум студент.|Убаво време денес.|Купив нов телефон.""",
}


@pytest.mark.parametrize("language, most_wrong", [("mk", 0), ("sr", 1), ("bg", 5)])
def test_short_everyday_sentences(language, most_wrong):
    sentences = SHORT_SENTENCES[language].split("|")
    if language == "mk":
        wrong = [s for s in sentences if langid.score(s).mk_score < 0.5]
    else:
        wrong = [s for s in sentences if langid.score(s).mk_score >= 0.5]
    assert len(wrong) <= most_wrong, wrong
