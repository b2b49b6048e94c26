"""Reading CoNLL-U files: each sentence as its words, each word with its Universal POS tag.

Only two columns matter here: FORM (2) and UPOS (4). The words of a
sentence are its syntactic words, one per line with an integer ID:

* multiword-token ranges (``1-2  ду  …``) are skipped: the words they span
  follow on their own lines, and the tags belong to those;
* empty nodes (``1.1``, enhanced dependencies) are skipped: they are not in
  the text;
* an UPOS of ``_`` means "not annotated": the word is kept (it is part of
  the sentence the model reads) with the tag ``None``; it is neither trained
  on nor scored.

Comments (``#``) and blank lines are allowed anywhere; a blank line ends a
sentence. A line that is none of these ends in one ``InputError`` naming the
file and the line number.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

from ..errors import InputError

COLUMNS = 10
_WORD_ID = re.compile(r"[1-9]\d*")
_SKIPPED_ID = re.compile(r"[1-9]\d*-[1-9]\d*|\d+\.[1-9]\d*")


class Word(NamedTuple):
    form: str
    upos: str | None
    """None where the file says ``_`` (not annotated)."""


Sentence = list[Word]


def read_conllu(path) -> list[Sentence]:
    """The sentences of the CoNLL-U file at ``path`` (at least one), or an ``InputError``."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"CoNLL-U file {path} not found.") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text (byte {exc.start}).") from None
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror}.") from None
    sentences, current = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            if current:
                sentences.append(current)
            current = []
        elif not line.startswith("#"):
            word = _parse_word(line, path, number)
            if word is not None:
                current.append(word)
    if current:
        sentences.append(current)
    if not sentences:
        raise InputError(f"{path} holds no CoNLL-U sentences.")
    return sentences


def _parse_word(line: str, path: Path, number: int) -> Word | None:
    columns = line.rstrip("\r\n").split("\t")
    if len(columns) != COLUMNS:
        raise InputError(f"{path}, line {number}: expected {COLUMNS} tab-separated columns, found {len(columns)}.")
    word_id, form, upos = columns[0], columns[1], columns[3]
    if _SKIPPED_ID.fullmatch(word_id):
        return None
    if not _WORD_ID.fullmatch(word_id):
        raise InputError(f"{path}, line {number}: bad word ID {word_id!r} (expected 1, 2, … or a range 1-2).")
    if not form or not upos or " " in upos:
        raise InputError(f"{path}, line {number}: empty FORM or bad UPOS {upos!r}.")
    return Word(form, None if upos == "_" else upos)


def tag_counts(sentences: list[Sentence]) -> dict[str, int]:
    """How often each tag occurs (unannotated words left out), commonest first."""
    counts: dict[str, int] = {}
    for sentence in sentences:
        for word in sentence:
            if word.upos is not None:
                counts[word.upos] = counts.get(word.upos, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
