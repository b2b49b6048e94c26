"""Scores and the most-frequent-tag baseline, on files small enough to count by hand."""

import pytest

from macedonizer.downstream.conllu import Word, read_conllu
from macedonizer.downstream.scoring import learn_most_frequent_tag, load_baseline, save_baseline, score, \
    tag_most_frequent
from macedonizer.errors import InputError

TRAIN = """\
1\tТој\t_\tPRON\t_\t_\t_\t_\t_\t_
2\tе\t_\tAUX\t_\t_\t_\t_\t_\t_
3\tтука\t_\tADV\t_\t_\t_\t_\t_\t_

1\tе\t_\tAUX\t_\t_\t_\t_\t_\t_
2\tтој\t_\tPRON\t_\t_\t_\t_\t_\t_
3\tе\t_\tVERB\t_\t_\t_\t_\t_\t_
4\tтука\t_\t_\t_\t_\t_\t_\t_\t_
5\tе\t_\tAUX\t_\t_\t_\t_\t_\t_
"""


def test_most_frequent_tag_per_form_as_written(tmp_path):
    path = tmp_path / "train.conllu"
    path.write_text(TRAIN, encoding="utf-8")
    table = learn_most_frequent_tag(read_conllu(path))
    # е: AUX 3, VERB 1; the `_` on тука is not counted; AUX is the commonest tag (3), PRON 2, ADV and VERB 1.
    assert table == {"default": "AUX", "forms": {"Тој": "PRON", "е": "AUX", "тој": "PRON", "тука": "ADV"}}
    test = [[Word("ТОЈ", "PRON"), Word("е", "VERB"), Word("тука", "ADV"), Word("нов", None)]]
    assert tag_most_frequent(table, test) == [["AUX", "AUX", "ADV", "AUX"]]
    save_baseline(table, tmp_path)
    assert load_baseline(tmp_path) == table


def test_ties_go_to_the_commoner_tag_overall():
    sentences = [[Word("а", "CCONJ"), Word("а", "INTJ"), Word("и", "CCONJ")]]
    assert learn_most_frequent_tag(sentences)["forms"]["а"] == "CCONJ"


def test_no_annotated_words_is_an_input_error():
    with pytest.raises(InputError, match="no annotated words"):
        learn_most_frequent_tag([[Word("а", None)]])


def test_accuracy_per_tag_f1_and_macro_f1_exact():
    gold = [[Word("a", "NOUN"), Word("b", "NOUN"), Word("c", "VERB"), Word("d", None)],
            [Word("e", "ADJ")]]
    result = score(gold, [["NOUN", "VERB", "VERB", "NOUN"], ["NOUN"]])
    assert result["words"] == 4 and result["accuracy"] == pytest.approx(2 / 4)
    noun, verb, adj = (result["per_tag"][t] for t in ("NOUN", "VERB", "ADJ"))
    assert (noun["precision"], noun["recall"], noun["f1"], noun["support"]) == pytest.approx((0.5, 0.5, 0.5, 2))
    assert (verb["precision"], verb["recall"], verb["f1"]) == pytest.approx((0.5, 1.0, 2 / 3))
    assert (adj["precision"], adj["recall"], adj["f1"], adj["support"]) == (0.0, 0.0, 0.0, 1)
    assert result["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0) / 3)
