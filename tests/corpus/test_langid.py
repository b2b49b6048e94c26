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


def test_score_is_a_probability():
    for text in MACEDONIAN + list(NEIGHBOURS.values()):
        assert 0.0 <= langid.score(text).mk_score <= 1.0
