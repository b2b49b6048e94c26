"""Scores of a tagger against gold tags, and the most-frequent-tag baseline every score is read against.

Scores count words, as the CoNLL-U file splits them (never the model's word
pieces); unannotated words (UPOS ``_``) are not scored.

* ``accuracy``: correct words / scored words.
* ``per_tag``: precision, recall and F1 of each tag that occurs in the gold
  tags or the predictions, with its gold count (``support``).
* ``macro_f1``: the unweighted mean of those F1s (rare tags weigh as much as
  NOUN: a tagger that ignores them shows it here, not in the accuracy).

The **most-frequent-tag** tagger is learned from the training file: each
word form *as written* (case kept: sentence-initial capitals are rare, and
a capital is evidence for PROPN) gets the tag it carried most often there
(ties: the commoner tag overall, then alphabetical order); a form never
seen gets the commonest tag of the whole file. It is stored with each
fine-tuned model (``most_frequent_tag.json``), so ``eval`` scores it on any
test file.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..errors import InputError
from ..files import read_json, write_json
from .conllu import Sentence, tag_counts

BASELINE_FILE = "most_frequent_tag.json"


def score(sentences: list[Sentence], predicted: list[list[str]]) -> dict:
    """Accuracy, macro F1 and per-tag precision/recall/F1 of ``predicted`` against the gold tags."""
    gold_counts, predicted_counts, hits = Counter(), Counter(), Counter()
    correct = total = 0
    for sentence, tags in zip(sentences, predicted, strict=True):
        for word, tag in zip(sentence, tags, strict=True):
            if word.upos is None:
                continue
            total += 1
            gold_counts[word.upos] += 1
            predicted_counts[tag] += 1
            if tag == word.upos:
                correct += 1
                hits[tag] += 1
    per_tag = {}
    for tag in sorted(gold_counts.keys() | predicted_counts.keys()):
        precision = hits[tag] / predicted_counts[tag] if predicted_counts[tag] else 0.0
        recall = hits[tag] / gold_counts[tag] if gold_counts[tag] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_tag[tag] = {"precision": precision, "recall": recall, "f1": f1, "support": gold_counts[tag]}
    return {"accuracy": correct / total if total else 0.0,
            "macro_f1": sum(t["f1"] for t in per_tag.values()) / len(per_tag) if per_tag else 0.0,
            "words": total, "per_tag": per_tag}


def learn_most_frequent_tag(sentences: list[Sentence]) -> dict:
    """The most-frequent-tag table of ``sentences``: ``{"default": tag, "forms": {form: tag}}``."""
    overall = tag_counts(sentences)
    if not overall:
        raise InputError("The training file has no annotated words (every UPOS is '_').")
    rank = {tag: i for i, tag in enumerate(overall)}  # commonest first, ties alphabetical
    by_form: dict[str, Counter] = {}
    for sentence in sentences:
        for word in sentence:
            if word.upos is not None:
                by_form.setdefault(word.form, Counter())[word.upos] += 1
    forms = {form: min(counts, key=lambda tag: (-counts[tag], rank[tag])) for form, counts in by_form.items()}
    return {"default": next(iter(overall)), "forms": dict(sorted(forms.items()))}


def tag_most_frequent(table: dict, sentences: list[Sentence]) -> list[list[str]]:
    """The most-frequent-tag tagger's tags for every word of ``sentences``."""
    forms, default = table["forms"], table["default"]
    return [[forms.get(word.form, default) for word in sentence] for sentence in sentences]


def save_baseline(table: dict, folder: Path) -> None:
    write_json(Path(folder) / BASELINE_FILE, table)


def load_baseline(folder: Path) -> dict | None:
    """The folder's most-frequent-tag table, or None where it has none."""
    table = read_json(Path(folder) / BASELINE_FILE)
    return table if table and "forms" in table and "default" in table else None
