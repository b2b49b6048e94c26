"""Word-level labels on word pieces: the first piece of each word carries its tag, every other piece -100."""

from transformers import AutoModelForTokenClassification, AutoTokenizer

from macedonizer.downstream.conllu import Word
from macedonizer.downstream.tagging import IGNORE, encode, predict, word_chunks

WORDS = ["Учителката", "ѝ", "даде", "нова", "книга", "."]
TAGS = ["NOUN", "PRON", "VERB", None, "NOUN", "PUNCT"]
LABELS = {"NOUN": 0, "PRON": 1, "VERB": 2, "PUNCT": 3}


def test_first_piece_of_each_word_carries_its_tag(tiny_model):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    assert len(tokenizer.tokenize("Учителката")) > 1  # the point: a word split into pieces
    [feature] = encode(tokenizer, WORDS, TAGS, LABELS, max_length=64)
    word_ids = tokenizer(WORDS, is_split_into_words=True).word_ids()
    assert len(feature["labels"]) == len(word_ids) == len(feature["input_ids"])
    expected = [IGNORE if w is None or w == p or TAGS[w] is None else LABELS[TAGS[w]]
                for w, p in zip(word_ids, [None] + word_ids[:-1])]
    assert feature["labels"] == expected
    assert [label for label in feature["labels"] if label != IGNORE] == [0, 1, 2, 0, 3]  # "нова" is unlabelled


def test_long_sentences_are_cut_between_words_and_every_word_is_kept(tiny_model):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    words, tags = WORDS * 6, ["NOUN"] * 36
    chunks = word_chunks(tokenizer, words, max_length=12)
    assert len(chunks) > 1 and chunks[0][0] == 0 and chunks[-1][1] == len(words)
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))
    features = encode(tokenizer, words, tags, LABELS, max_length=12)
    assert all(len(f["input_ids"]) <= 12 for f in features)
    assert sum(label != IGNORE for f in features for label in f["labels"]) == len(words)


def test_predict_gives_one_tag_per_word_read_on_first_pieces(tagger):
    tokenizer = AutoTokenizer.from_pretrained(tagger)
    model = AutoModelForTokenClassification.from_pretrained(tagger)
    sentence = [Word(w, None) for w in WORDS * 6]
    [tags] = predict(model, tokenizer, [sentence], max_length=12)
    assert len(tags) == len(sentence) and set(tags) <= set(model.config.label2id)
    [whole] = predict(model, tokenizer, [sentence[:6]], max_length=64)
    assert tags[:len(whole)][:2] == whole[:2]  # the first chunk holds the same first words
