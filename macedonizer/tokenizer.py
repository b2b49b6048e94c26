"""The tokenizer stage: a WordPiece vocabulary that keeps Macedonian intact.

The usual BERT recipe, ``BertNormalizer(lowercase=True)``, strips accents:
ѓ→г, ќ→к, ѐ→е and ѝ ("to her") → и ("and"), silently merging words. Here the
normalizer always has ``strip_accents=False``; every Macedonian letter (and
its ``##`` continuation) is guaranteed a token of its own, so no Macedonian
word can ever become ``[UNK]``; and the stage ends by round-tripping a
sentence that uses every letter, or fails.

Training streams the corpus (the output of ``clean``, or any input ``clean``
accepts) into Hugging Face ``tokenizers``; one document in
``HOLDOUT_EVERY`` is held out to measure the vocabulary on unseen text.

Training is reproducible: the same corpus and settings give a byte-identical
``tokenizer.json`` and ``vocab.txt`` in any process, on any number of threads
(``_starting_vocabulary`` says how, and why it takes a second pass).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import unicodedata
from importlib.metadata import version
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path

from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors, trainers
from tokenizers.models import WordPiece

from .configs import TokenizerConfig
from .corpus.readers import iter_texts, resolve_inputs
from .errors import MacedonizerError
from .files import replace_folder, temporary_sibling
from .specs import portable

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
UPPER = "АБВГДЃЕЖЗЅИЈКЛЉМНЊОПРСТЌУФХЦЧЏШЀЍ"
LOWER = "абвгдѓежзѕијклљмнњопрстќуфхцчџшѐѝ"
MACEDONIAN_LETTERS = UPPER + LOWER
# Besides the Macedonian letters, what any Macedonian text may contain and
# must never turn into [UNK]: digits, Latin letters (names, units, code) and
# the punctuation of Macedonian typography.
BASIC_CHARACTERS = (
    "0123456789"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    ".,;:!?\"'()[]{}<>-–—/\\|@#$%&*+=_~^`„“”‘’«»…€§°№"
)
# Uses every Macedonian letter, upper and lower case, Ѐ ѐ Ѝ ѝ included.
SANITY_SENTENCE = (
    "Ѓорѓи и Ќиро, Ѕвонко, Љупка, Његош, Џемо и Ѝрина ѝ рекоа „сѐ е во ред“ на Ѐлена. "
    "Азбуката: А Б В Г Д Ѓ Е Ж З Ѕ И Ј К Л Љ М Н Њ О П Р С Т Ќ У Ф Х Ц Ч Џ Ш Ѐ Ѝ, "
    "а б в г д ѓ е ж з ѕ и ј к л љ м н њ о п р с т ќ у ф х ц ч џ ш ѐ ѝ."
)
AUTO_CHARS_PER_TOKEN = 1000
"""``vocab_size = 0``: one vocabulary entry per this many training characters, …"""
AUTO_VOCAB_RANGE = (4000, 32000)
"""… between these bounds (in thousands): a 32k vocabulary on a small corpus leaves most tokens rare and makes
the output layer most of a small model's work (docs/recipes.md measures it)."""
HOLDOUT_EVERY = 100
HOLDOUT_MAX_DOCS = 5000
MODEL_MAX_LENGTH = 512
MAX_INPUT_CHARS_PER_WORD = 100


def required_pieces(uncased: bool) -> list[str]:
    """Tokens that must exist so that no Macedonian word becomes [UNK]."""
    letters = LOWER if uncased else MACEDONIAN_LETTERS
    basic = BASIC_CHARACTERS.lower() if uncased else BASIC_CHARACTERS
    chars = list(dict.fromkeys(letters + basic))
    # Punctuation is always split off by the pre-tokenizer, so it needs no
    # continuation form; letters and digits need both.
    return chars + [f"##{ch}" for ch in chars if ch.isalnum()]


def _round_trip_form(text: str) -> str:
    """Text with whitespace around punctuation removed: what WordPiece decoding may change."""
    text = " ".join(text.split())
    return re.sub(r"\s*([^\w\s])\s*", r"\1", text)


# ---------------------------------------------------------------- building


def _build_tokenizer(vocab: dict[str, int] | None, uncased: bool):
    model = WordPiece(vocab or {}, unk_token="[UNK]", max_input_chars_per_word=MAX_INPUT_CHARS_PER_WORD)
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=uncased
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    if vocab is not None:
        # Registers them as special (never split, skipped when decoding); they
        # are in the vocabulary already, so their ids do not change.
        tokenizer.add_special_tokens(SPECIAL_TOKENS)
        tokenizer.post_processor = processors.TemplateProcessing(
            single="[CLS]:0 $A:0 [SEP]:0",
            pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
            special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
        )
    return tokenizer


def _ensure_required(vocab: dict[str, int], required: list[str]) -> tuple[dict[str, int], list[str]]:
    """Give every required piece an id, replacing the last-learned tokens.

    WordPiece learns tokens in order of usefulness, so the last ones are the
    cheapest to give up; the vocabulary keeps exactly its size.
    """
    missing = [piece for piece in required if piece not in vocab]
    if not missing:
        return vocab, []
    protected = set(SPECIAL_TOKENS) | set(required)
    by_id = sorted(vocab, key=vocab.get)
    victims = [tok for tok in reversed(by_id) if tok not in protected and len(tok.removeprefix("##")) > 1]
    if len(victims) < len(missing):
        raise MacedonizerError("The vocabulary is too small to hold every Macedonian letter; raise --vocab-size.")
    new_vocab = dict(vocab)
    for victim, piece in zip(victims, missing):
        new_vocab[piece] = new_vocab.pop(victim)
    return new_vocab, missing


# ---------------------------------------------------------------- the stage


class _Texts:
    """Streams corpus texts for training, setting aside a held-out slice."""

    def __init__(self, inputs: list[str]):
        self.sources, _ = resolve_inputs(inputs)
        self.read_stats: Counter = Counter()
        self.heldout: list[str] = []
        self.documents = 0
        self.characters = 0

    def __iter__(self) -> Iterator[str]:
        # Each pass starts the counts afresh: training reads the corpus twice.
        self.read_stats = Counter()
        self.heldout = []
        self.documents = self.characters = 0
        for raw in iter_texts(self.sources, self.read_stats):
            text = unicodedata.normalize("NFC", raw)
            self.documents += 1
            if self.documents % HOLDOUT_EVERY == 0 and len(self.heldout) < HOLDOUT_MAX_DOCS:
                self.heldout.append(text)
                continue
            self.characters += len(text)
            yield text


def _starting_vocabulary(texts: _Texts, uncased: bool, alphabet: list[str], progress: bool) -> list[str]:
    """The tokens the trainer starts from, numbered as it numbers them: a first, cheap pass.

    That is the alphabet (``alphabet`` and every character of the corpus) in
    code point order, then every ``##x`` piece, in code point order too.

    Why: ``tokenizers`` (0.23; no release fixes it, huggingface/tokenizers
    issue 1794) numbers the alphabet in code point order but gives a ``##x``
    piece its id when it first meets ``x`` inside a word while walking its
    word counts, a Rust ``HashMap`` whose order is seeded at random in every
    process; no setting or environment variable fixes it, and one thread does
    not help. Pairs of equal count are merged in the order of their ids, so
    every run learned a different vocabulary. Special tokens get their ids
    first, in the order given, and the trainer reuses the id of a token that
    already exists: passing these tokens after the real special tokens leaves
    no id to chance and keeps the trainer's own numbering, so it learns the
    merges it learned before, ties broken as before but in a fixed order.
    The pass is the trainer's own (with no merges), so the tokens are exactly
    those it would start from; it costs one more read of the corpus by the
    trainer, about a third of the stage's time for 32k on wiki.txt
    (``benchmarks/tokenizer_reproducibility.py`` measures it).
    """
    tokenizer = _build_tokenizer(None, uncased)
    trainer = trainers.WordPieceTrainer(vocab_size=0, initial_alphabet=alphabet, continuing_subword_prefix="##",
                                        show_progress=progress)
    tokenizer.train_from_iterator(texts, trainer)
    vocab = tokenizer.get_vocab()
    letters = [token for token in sorted(vocab, key=vocab.get) if not token.startswith("##")]
    return letters + sorted(token for token in vocab if token.startswith("##"))


def _is_word(token: str) -> bool:
    return token == "[UNK]" or any(ch.isalnum() for ch in token)


def coverage(tokenizer, texts: list[str], batch_size: int = 1000) -> dict:
    """Fertility, share of words split and [UNK] rate of ``tokenizer`` on ``texts``.

    Words are the pre-tokenizer's pieces that hold a letter or digit
    (punctuation is not a word); the rates count only their tokens.
    """
    words = split_words = tokens = unknown = 0
    for start in range(0, len(texts), batch_size):
        for encoding in tokenizer.encode_batch(texts[start : start + batch_size], add_special_tokens=False):
            previous = None
            in_word = False
            pieces = 0
            for word_id, token in zip(encoding.word_ids, encoding.tokens):
                if word_id != previous:
                    previous = word_id
                    in_word = _is_word(token)
                    pieces = 0
                    words += in_word
                if in_word:
                    pieces += 1
                    tokens += 1
                    unknown += token == "[UNK]"
                    split_words += pieces == 2
    return {
        "texts": len(texts),
        "words": words,
        "tokens": tokens,
        "fertility": round(tokens / words, 4) if words else None,
        "split_word_share": round(split_words / words, 4) if words else None,
        "unk_rate": round(unknown / tokens, 6) if tokens else None,
    }


def vocabulary_makeup(vocab: dict[str, int]) -> dict[str, int]:
    """How many tokens are special, Cyrillic, Latin, digits, punctuation, continuations."""
    counts: Counter = Counter()
    for token in sorted(vocab, key=vocab.get):  # by id: the counts' order is the same in every process
        if token in SPECIAL_TOKENS:
            counts["special"] += 1
            continue
        if token.startswith("##"):
            counts["continuation"] += 1
            token = token[2:]
        if any("\u0400" <= ch <= "\u04ff" for ch in token):
            counts["cyrillic"] += 1
        elif any(ch.isalpha() and ch.isascii() or "\u00c0" <= ch <= "\u024f" for ch in token):
            counts["latin"] += 1
        elif token.isdigit():
            counts["digits"] += 1
        elif all(not ch.isalnum() for ch in token):
            counts["punctuation"] += 1
        else:
            counts["other"] += 1
    return dict(counts)


def _read_eval_text(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return [unicodedata.normalize("NFC", line.strip()) for line in f if line.strip()]
    except FileNotFoundError:
        raise MacedonizerError(f"Evaluation text not found: {path}") from None
    except UnicodeDecodeError:
        raise MacedonizerError(f"Evaluation text is not UTF-8: {path}") from None


def sanity_check(tokenizer) -> None:
    """Round-trip a sentence that uses every letter, or fail the stage."""
    encoding = tokenizer.encode(SANITY_SENTENCE)
    decoded = tokenizer.decode(encoding.ids)
    expected = tokenizer.normalizer.normalize_str(SANITY_SENTENCE)
    if "[UNK]" in encoding.tokens or _round_trip_form(decoded) != _round_trip_form(expected):
        raise MacedonizerError(
            f"Tokenizer sanity check failed: {SANITY_SENTENCE!r} came back as {decoded!r}."
        )


def auto_vocab_size(inputs: list[str]) -> int:
    """The vocabulary ``vocab_size = 0`` gives ``inputs``: a pass over the training text to count its characters."""
    texts = _Texts(inputs)
    for _ in texts:
        pass
    low, high = AUTO_VOCAB_RANGE
    return max(low, min(high, texts.characters // AUTO_CHARS_PER_TOKEN // 1000 * 1000))


def run(inputs: list[str], out_dir: str | os.PathLike, config: TokenizerConfig | None = None,
        progress: bool = True) -> Path:
    """Train the tokenizer on ``inputs`` and write a ``BertTokenizerFast`` folder to ``out_dir``."""
    config = config or TokenizerConfig()
    out = Path(out_dir)
    if config.vocab_size == 0:
        config = replace(config, vocab_size=auto_vocab_size(inputs))
    required = required_pieces(config.uncased)
    minimum = len(SPECIAL_TOKENS) + len(required)
    if config.vocab_size <= minimum:
        raise MacedonizerError(
            f"--vocab-size {config.vocab_size} is not larger than the alphabet: it must exceed {minimum} "
            f"(special tokens, every letter, digit and punctuation mark, and their ## forms)."
        )
    eval_texts = {Path(p).name: _read_eval_text(p) for p in config.eval_texts}

    started = time.time()
    texts = _Texts(inputs)
    alphabet = [piece for piece in required if not piece.startswith("##")]
    start = _starting_vocabulary(texts, config.uncased, alphabet, progress)
    if texts.documents == 0:
        raise MacedonizerError("The corpus contains no text to train on.")
    tokenizer = _build_tokenizer(None, config.uncased)
    trainer = trainers.WordPieceTrainer(
        vocab_size=config.vocab_size,
        min_frequency=config.min_frequency,
        # The tokens it would start from anyway, given their ids up front so
        # that the training is reproducible (_starting_vocabulary); the
        # vocabulary holds the same tokens, so vocab_size needs no change.
        special_tokens=SPECIAL_TOKENS + start,
        initial_alphabet=alphabet,
        continuing_subword_prefix="##",
        show_progress=progress,
    )
    tokenizer.train_from_iterator(texts, trainer)
    learned = tokenizer.get_vocab()
    if len(learned) < config.vocab_size:
        raise MacedonizerError(
            f"The corpus is too small for a vocabulary of {config.vocab_size}: it yields only {len(learned)} "
            f"tokens ({texts.characters:,} characters); lower --vocab-size or add text."
        )
    vocab, added = _ensure_required(learned, required)
    tokenizer = _build_tokenizer(vocab, config.uncased)
    train_seconds = time.time() - started
    sanity_check(tokenizer)

    evaluation = {}
    if texts.heldout:
        evaluation["held-out"] = coverage(tokenizer, texts.heldout)
    for name, lines in eval_texts.items():
        evaluation[name] = coverage(tokenizer, lines)
    stats = {
        "vocab_size": len(vocab),
        "uncased": config.uncased,
        "corpus": {"inputs": [portable(text) for text in inputs], "documents": texts.documents,
                   "training_characters": texts.characters,
                   "held_out_documents": len(texts.heldout), "skipped_on_read": dict(texts.read_stats)},
        "vocabulary": vocabulary_makeup(vocab),
        "required_pieces_added": added,
        "evaluation": evaluation,
        "sanity_sentence": SANITY_SENTENCE,
        "config": {**{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()},
                   "eval_texts": [portable(p) for p in config.eval_texts]},
        "timings_s": {"train": round(train_seconds, 2), "total": round(time.time() - started, 2)},
        "versions": _versions(),
    }
    _write(out, tokenizer, vocab, config, stats)
    return out


def _versions() -> dict:
    return {name: version(name) for name in ("macedonizer", "tokenizers")}


def _write(out: Path, tokenizer, vocab: dict[str, int], config: TokenizerConfig, stats: dict) -> None:
    """Write the tokenizer folder atomically: a temporary sibling, then a rename."""
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    try:
        tmp = temporary_sibling(out)
        tokenizer.save(str(tmp / "tokenizer.json"))
        with open(tmp / "vocab.txt", "w", encoding="utf-8") as f:
            for token in sorted(vocab, key=vocab.get):
                f.write(token + "\n")
        special = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                   "cls_token": "[CLS]", "mask_token": "[MASK]"}
        _dump(tmp / "special_tokens_map.json", special)
        _dump(tmp / "tokenizer_config.json", {
            # BertTokenizerFast (transformers 4) and BertTokenizer (5) rebuild
            # their normalizer from these keys: strip_accents must be False
            # explicitly, or lowercasing would strip ѓ ќ ѐ ѝ again.
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": config.uncased,
            "strip_accents": False,
            "tokenize_chinese_chars": True,
            "model_max_length": MODEL_MAX_LENGTH,
            "clean_up_tokenization_spaces": True,
            **special,
        })
        _dump(tmp / "stats.json", stats)
        replace_folder(tmp, out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        where = f" ({exc.filename})" if exc.filename else ""
        raise MacedonizerError(f"Cannot write the tokenizer{where}: {exc.strerror or exc}.") from None


def _dump(path: Path, data: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=2)
        f.write("\n")
