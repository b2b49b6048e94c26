"""CoNLL-U reading: words and tags, the lines that are skipped, and errors that name the line."""

import pytest

from macedonizer.downstream.conllu import Word, read_conllu, tag_counts
from macedonizer.errors import InputError

ROW = "{id}\t{form}\t_\t{upos}\t_\t_\t_\t_\t_\t_"


def write(tmp_path, *lines, name="x.conllu"):
    path = tmp_path / name
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_words_and_tags_with_comments_and_blank_lines(tmp_path):
    path = write(tmp_path, "# sent_id = 1", ROW.format(id=1, form="Јас", upos="PRON"),
                 ROW.format(id=2, form="читам", upos="VERB"), "", "", "# second",
                 ROW.format(id=1, form="Да", upos="PART"))  # no blank line at the end
    assert read_conllu(path) == [[Word("Јас", "PRON"), Word("читам", "VERB")], [Word("Да", "PART")]]


def test_multiword_ranges_and_empty_nodes_are_skipped(tmp_path):
    path = write(tmp_path, ROW.format(id="1-2", form="ду", upos="_"), ROW.format(id=1, form="до", upos="ADP"),
                 ROW.format(id=2, form="у", upos="DET"), ROW.format(id="2.1", form="е", upos="AUX"),
                 ROW.format(id=3, form="град", upos="NOUN"))
    assert [w.form for w in read_conllu(path)[0]] == ["до", "у", "град"]


def test_underscore_tag_keeps_the_word_unlabelled(tmp_path):
    path = write(tmp_path, ROW.format(id=1, form="ова", upos="_"), ROW.format(id=2, form="е", upos="AUX"))
    sentences = read_conllu(path)
    assert sentences == [[Word("ова", None), Word("е", "AUX")]]
    assert tag_counts(sentences) == {"AUX": 1}


@pytest.mark.parametrize("bad, why", [
    ("1\tград\tNOUN", "expected 10 tab-separated columns, found 3"),
    (ROW.format(id="x", form="град", upos="NOUN"), "bad word ID 'x'"),
    (ROW.format(id=2, form="град", upos=""), "empty FORM or bad UPOS"),
])
def test_a_malformed_line_names_the_file_and_the_line(tmp_path, bad, why):
    path = write(tmp_path, "# c", ROW.format(id=1, form="Јас", upos="PRON"), "", bad)
    with pytest.raises(InputError, match=f"x.conllu, line 4: {why}"):
        read_conllu(path)


def test_missing_empty_and_non_utf8_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_conllu(tmp_path / "nothing.conllu")
    with pytest.raises(InputError, match="no CoNLL-U sentences"):
        read_conllu(write(tmp_path, "# only a comment", ""))
    latin = tmp_path / "latin.conllu"
    latin.write_bytes(ROW.format(id=1, form="град", upos="NOUN").encode("cp1251"))
    with pytest.raises(InputError, match="not UTF-8"):
        read_conllu(latin)
