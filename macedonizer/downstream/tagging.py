"""Words in, word pieces through the model, one tag per word out.

A word the tokenizer splits into several pieces is labelled on its first
piece; the other pieces (and [CLS], [SEP], padding) get -100, which the loss
and the scores ignore. The fast tokenizer's ``word_ids()`` (with
``is_split_into_words=True``) says which piece starts which word, so the
CoNLL-U file's word boundaries are kept exactly, whatever the WordPiece
pre-tokenizer does inside a word ("д-р" is three pieces of one word).

A sentence longer than ``max_length`` pieces is cut into consecutive chunks
of whole words that fit, so every word is trained on and tagged (none is
lost to truncation).
"""

from __future__ import annotations

import contextlib

import torch
import transformers

from ..errors import InputError
from .conllu import Sentence

IGNORE = -100


@contextlib.contextmanager
def quiet_transformers():
    """Hide transformers' per-load and per-save progress bars and the expected 'newly initialized classifier'
    warning of loading a masked-LM as a tagger (errors still show)."""
    verbosity, bars = transformers.logging.get_verbosity(), transformers.utils.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    try:
        yield
    finally:
        transformers.logging.set_verbosity(verbosity)
        if bars:
            transformers.utils.logging.enable_progress_bar()


def check_fast(tokenizer) -> None:
    if not getattr(tokenizer, "is_fast", False):
        raise InputError("Fine-tuning needs a fast tokenizer (tokenizer.json) in the model folder.")


def word_chunks(tokenizer, words: list[str], max_length: int) -> list[tuple[int, int]]:
    """``(start, end)`` word ranges whose pieces, with [CLS] and [SEP], fit in ``max_length``."""
    pieces = [0] * len(words)
    for word_id in tokenizer(words, is_split_into_words=True, add_special_tokens=False).word_ids():
        if word_id is not None:
            pieces[word_id] += 1
    budget = max(1, max_length - tokenizer.num_special_tokens_to_add())
    chunks, start, used = [], 0, 0
    for i, count in enumerate(pieces):
        if used + count > budget and i > start:
            chunks.append((start, i))
            start, used = i, 0
        used += count
    chunks.append((start, len(words)))
    return chunks


def encode(tokenizer, words: list[str], tags: list[str | None], label2id: dict[str, int],
           max_length: int) -> list[dict]:
    """Training features of one sentence (one per chunk): input ids, attention mask and first-piece labels.

    An unannotated word (tag None) or a tag unknown to ``label2id`` is labelled -100 (not trained on).
    """
    features = []
    for start, end in word_chunks(tokenizer, words, max_length):
        encoding = tokenizer(words[start:end], is_split_into_words=True, truncation=True, max_length=max_length)
        labels, previous = [], None
        for word_id in encoding.word_ids():
            first = word_id is not None and word_id != previous
            tag = tags[start + word_id] if first else None
            labels.append(label2id.get(tag, IGNORE) if tag is not None else IGNORE)
            previous = word_id
        features.append({"input_ids": encoding["input_ids"], "attention_mask": encoding["attention_mask"],
                         "labels": labels})
    return features


def encode_sentences(tokenizer, sentences: list[Sentence], label2id: dict[str, int], max_length: int) -> list[dict]:
    return [feature for sentence in sentences
            for feature in encode(tokenizer, [w.form for w in sentence], [w.upos for w in sentence], label2id,
                                  max_length)]


@torch.no_grad()
def predict(model, tokenizer, sentences: list[Sentence], max_length: int, batch_size: int = 32,
            fallback: str | None = None) -> list[list[str]]:
    """The model's tag for every word of ``sentences`` (read on the word's first piece).

    A word with no piece at all (a form the tokenizer drops entirely) gets ``fallback`` (default: the
    model's first label).
    """
    model.eval()
    id2label = {int(k): v for k, v in model.config.id2label.items()}
    fallback = fallback or id2label[0]
    device = next(model.parameters()).device
    jobs = [(s, start, [w.form for w in sentence[start:end]])
            for s, sentence in enumerate(sentences)
            for start, end in word_chunks(tokenizer, [w.form for w in sentence], max_length)]
    tags = [[fallback] * len(sentence) for sentence in sentences]
    for b in range(0, len(jobs), batch_size):
        batch = jobs[b:b + batch_size]
        encoding = tokenizer([words for _, _, words in batch], is_split_into_words=True, truncation=True,
                             max_length=max_length, padding=True, return_tensors="pt").to(device)
        best = model(**encoding).logits.argmax(-1).tolist()
        for row, (s, start, _) in enumerate(batch):
            previous = None
            for position, word_id in enumerate(encoding.word_ids(row)):
                if word_id is not None and word_id != previous:
                    tags[s][start + word_id] = id2label[best[row][position]]
                previous = word_id
    return tags
