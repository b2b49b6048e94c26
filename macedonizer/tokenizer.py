"""The tokenizer stage: a WordPiece vocabulary that keeps Macedonian intact.

The usual BERT recipe, ``BertNormalizer(lowercase=True)``, strips accents:
ѓ→г, ќ→к, ѐ→е and ѝ ("to her") → и ("and"), silently merging words. Here the
normalizer always has ``strip_accents=False``; every Macedonian letter (and
its ``##`` continuation) is guaranteed a token of its own, so no Macedonian
word can ever become ``[UNK]``; so is every printable character of the
Unicode blocks in ``COVERED_BLOCKS`` that the vocabulary has room for, so
that symbols the corpus lacks (⟨ ⟩ ≤ → ℃) do not become ``[UNK]`` either;
and the stage ends by round-tripping a sentence that uses every letter, or
fails.

Training streams the corpus (the output of ``clean``, or any input ``clean``
accepts) into Hugging Face ``tokenizers``; one document in
``HOLDOUT_EVERY`` is held out to measure the vocabulary on unseen text.

Training is reproducible: the same corpus and settings give a byte-identical
``tokenizer.json`` and ``vocab.txt`` in any process, on any number of threads
(``_starting_vocabulary`` says how, and why it takes a second pass).
"""

from __future__ import annotations

import os
import re
import shutil
import string
import time
import unicodedata
from importlib.metadata import version
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors, trainers
from tokenizers.models import WordPiece

from .alphabet import corpus_alphabet
from .configs import TokenizerConfig
from .corpus.readers import iter_texts, resolve_inputs
from .errors import MacedonizerError
from .files import replace_folder, temporary_sibling, write_json
from .specs import portable

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
UPPER = "АБВГДЃЕЖЗЅИЈКЛЉМНЊОПРСТЌУФХЦЧЏШЀЍ"
LOWER = "абвгдѓежзѕијклљмнњопрстќуфхцчџшѐѝ"
MACEDONIAN_LETTERS = UPPER + LOWER
# Besides the Macedonian letters, what any Macedonian text may contain and
# must never turn into [UNK]: digits, Latin letters (names, units, code) and
# the punctuation of Macedonian typography.
BASIC_CHARACTERS = string.digits + string.ascii_letters + string.punctuation + "–—„“”‘’«»…€§°№"
# Unicode blocks whose printable characters all get a token (and a ## form where the pre-tokenizer leaves them
# inside words, as ° in 5°C), so that symbols a corpus lacks do not become [UNK]. Each takes room in this order,
# whole, while the alphabet stays within ALPHABET_SHARE of the vocabulary: first the blocks whose symbols became
# [UNK] in technical text (issue 18), then letters and shapes. Left aside: see docs/tokenizer.md.
COVERED_BLOCKS = (
    ("Latin-1 Supplement", 0x00A0, 0x00FF), ("General Punctuation", 0x2000, 0x206F),
    ("Currency Symbols", 0x20A0, 0x20CF), ("Letterlike Symbols", 0x2100, 0x214F),
    ("Miscellaneous Mathematical Symbols-A", 0x27C0, 0x27EF), ("Arrows", 0x2190, 0x21FF),
    ("Mathematical Operators", 0x2200, 0x22FF), ("Miscellaneous Technical", 0x2300, 0x23FF),
    ("Box Drawing", 0x2500, 0x257F), ("Greek and Coptic", 0x0370, 0x03FF),
    ("Superscripts and Subscripts", 0x2070, 0x209F), ("Latin Extended-A", 0x0100, 0x017F),
    ("Cyrillic", 0x0400, 0x04FF), ("Geometric Shapes", 0x25A0, 0x25FF),
)
ALPHABET_SHARE = 0.15
"""The covered blocks may fill the alphabet (special tokens included) up to this share of the vocabulary; every
entry they take is a merge the vocabulary does not learn (docs/tokenizer.md measures what it costs)."""
UNK_TOP_CHARACTERS = 10
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
    """Tokens that must exist so that no Macedonian word becomes [UNK], whatever the vocabulary size."""
    return _pieces(MACEDONIAN_LETTERS + BASIC_CHARACTERS, uncased)


def block_characters(first: int, last: int) -> str:
    """The printable characters of the code points ``first`` to ``last``, spaces aside."""
    return "".join(chr(cp) for cp in range(first, last + 1) if chr(cp).isprintable() and not chr(cp).isspace())


def _pieces(chars: str, uncased: bool) -> list[str]:
    """The tokens that keep each of ``chars`` out of [UNK] wherever it stands in a word.

    A character counts as the normalizer leaves it, as given and in NFC (the
    stage's form: 〈 U+2329 becomes 〈 U+3008), lowercased if ``uncased`` (İ
    becomes i and a combining dot). Each character needs its own token, and a
    ## form unless the pre-tokenizer always splits it off (punctuation is;
    symbols are not: 5°C is one word).
    """
    normalizer, pre_tokenizer = _normalizer(uncased), pre_tokenizers.BertPreTokenizer()
    pieces: dict[str, None] = {}
    for ch in chars:
        for form in (ch, unicodedata.normalize("NFC", ch)):
            for piece in normalizer.normalize_str(form):
                pieces[piece] = None
                if len(pre_tokenizer.pre_tokenize_str(f"a{piece}a")) != 3:
                    pieces[f"##{piece}"] = None
    return list(pieces)


@dataclass
class Alphabet:
    """The tokens a vocabulary must hold besides the special tokens; the blocks they cover and those left out for
    want of room, each with the entries it adds."""

    pieces: list[str]
    blocks: dict[str, int] = field(default_factory=dict)
    left_out: dict[str, int] = field(default_factory=dict)


def plan_alphabet(vocab_size: int, uncased: bool) -> Alphabet:
    """The letters, digits and punctuation every vocabulary needs, then the blocks ``vocab_size`` has room for."""
    alphabet = Alphabet(required_pieces(uncased))
    minimum = len(SPECIAL_TOKENS) + len(alphabet.pieces)
    if vocab_size <= minimum:
        raise MacedonizerError(
            f"--vocab-size {vocab_size} is not larger than the alphabet: it must exceed {minimum} "
            f"(special tokens, every letter, digit and punctuation mark, and their ## forms)."
        )
    room = int(vocab_size * ALPHABET_SHARE) - minimum
    seen = set(alphabet.pieces)
    for name, first, last in COVERED_BLOCKS:
        new = [piece for piece in _pieces(block_characters(first, last), uncased) if piece not in seen]
        seen.update(new)
        if alphabet.left_out or len(new) > room:
            alphabet.left_out[name] = len(new)
            continue
        alphabet.pieces += new
        alphabet.blocks[name] = len(new)
        room -= len(new)
    return alphabet


def _round_trip_form(text: str) -> str:
    """Text with whitespace around punctuation removed: what WordPiece decoding may change."""
    text = " ".join(text.split())
    return re.sub(r"\s*([^\w\s])\s*", r"\1", text)


# ---------------------------------------------------------------- building


def _build_tokenizer(vocab: dict[str, int] | None, uncased: bool):
    model = WordPiece(vocab or {}, unk_token="[UNK]", max_input_chars_per_word=MAX_INPUT_CHARS_PER_WORD)
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = _normalizer(uncased)
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


def _normalizer(uncased: bool):
    return normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=False,
                                      lowercase=uncased)


# ---------------------------------------------------------------- the stage


class _Texts:
    """Streams corpus texts for training, setting aside a held-out slice."""

    def __init__(self, inputs: list[str]):
        self.sources, _ = resolve_inputs(inputs)
        self.read_stats: Counter = Counter()
        self.heldout: list[str] = []
        self.documents = self.characters = 0

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


def _starting_vocabulary(texts: _Texts, uncased: bool, required: list[str]) -> list[str]:
    """The tokens the trainer starts from, numbered as it numbers them: a first, cheap pass.

    That is the alphabet (``required``'s characters and the corpus's) in code
    point order, then every ``##x`` piece (the corpus's and ``required``'s),
    in code point order too; a required ``##x`` the corpus lacks takes the
    place of the last merge.

    Why: ``tokenizers`` (0.23; huggingface/tokenizers issue 1794) numbers the
    alphabet in code point order but gives a ``##x`` piece its id when it
    first meets ``x`` inside a word while walking its word counts, a Rust
    ``HashMap`` seeded at random in every process (no setting fixes it, nor
    one thread). Pairs of equal count are merged in the order of their ids,
    so every run learned a different vocabulary. Special tokens get their ids
    first, in the order given, and the trainer reuses the id of a token that
    exists: passing these after the real special tokens leaves no id to
    chance and keeps the trainer's own numbering. The pass is numpy's
    (``alphabet.corpus_alphabet``), not the trainer's: the same tokens as a
    training pass with no merges (what it was before; a test holds the two
    equal) in a tenth of its time, 0.3 s for wiki.txt
    (``benchmarks/tokenizer_reproducibility.py`` measures it).
    """
    letters, inner = corpus_alphabet(texts, _normalizer(uncased), pre_tokenizers.BertPreTokenizer())
    letters |= {piece for piece in required if not piece.startswith("##")}
    pieces = {f"##{ch}" for ch in inner} | {piece for piece in required if piece.startswith("##")}
    return sorted(letters) + sorted(pieces)


def _is_word(token: str) -> bool:
    return token == "[UNK]" or any(ch.isalnum() for ch in token)


def coverage(tokenizer, texts: list[str], batch_size: int = 1000) -> dict:
    """Fertility, share of words split and [UNK] rate of ``tokenizer`` on ``texts``, and what caused the [UNK]s.

    Words are the pre-tokenizer's pieces that hold a letter or digit
    (punctuation is not a word); the rates count only their tokens. An
    [UNK] is blamed on each character of its word that has no token for its
    place (itself first, its ``##`` form after); one with none to blame is a
    word over ``MAX_INPUT_CHARS_PER_WORD`` characters.
    """
    vocab = tokenizer.get_vocab()
    words = split_words = tokens = unknown = long_words = 0
    culprits: Counter = Counter()
    for start in range(0, len(texts), batch_size):
        batch = texts[start : start + batch_size]
        for text, encoding in zip(batch, tokenizer.encode_batch(batch, add_special_tokens=False)):
            previous, in_word, pieces = None, False, 0
            for word_id, token, (begin, end) in zip(encoding.word_ids, encoding.tokens, encoding.offsets):
                if word_id != previous:
                    previous = word_id
                    in_word = _is_word(token)
                    pieces = 0
                    words += in_word
                if in_word:
                    pieces += 1
                    tokens += 1
                    split_words += pieces == 2
                    if token == "[UNK]":
                        unknown += 1
                        missing = _unknown_characters(tokenizer, vocab, text[begin:end])
                        culprits.update(missing)
                        long_words += not missing
    return {
        "texts": len(texts),
        "words": words,
        "tokens": tokens,
        "fertility": round(tokens / words, 4) if words else None,
        "split_word_share": round(split_words / words, 4) if words else None,
        "unk_rate": round(unknown / tokens, 6) if tokens else None,
        "unk_characters": dict(sorted(culprits.items(), key=lambda item: (-item[1], item[0]))[:UNK_TOP_CHARACTERS]),
        "unk_long_words": long_words,
    }


def _unknown_characters(tokenizer, vocab: dict[str, int], word: str) -> set[str]:
    """The characters of an [UNK] word that have no token for their place in it."""
    word = "".join(tokenizer.normalizer.normalize_str(word).split())  # the normalizer pads ideographs with spaces
    return {ch for i, ch in enumerate(word) if (f"##{ch}" if i else ch) not in vocab}


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
        raise MacedonizerError(f"Tokenizer sanity check failed: {SANITY_SENTENCE!r} came back as {decoded!r}.")


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
    if chosen := config.vocab_size == 0:  # then a corpus yielding fewer tokens than the chosen size is no error
        config = replace(config, vocab_size=auto_vocab_size(inputs))
    alphabet = plan_alphabet(config.vocab_size, config.uncased)
    eval_texts = {Path(p).name: _read_eval_text(p) for p in config.eval_texts}

    started = time.time()
    texts = _Texts(inputs)
    vocab = _train(texts, config, alphabet.pieces, progress, at_most=chosen)
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
        "alphabet": {"required": len(SPECIAL_TOKENS) + len(alphabet.pieces),
                     "room": int(config.vocab_size * ALPHABET_SHARE),
                     "blocks": alphabet.blocks, "blocks_left_out": alphabet.left_out},
        "evaluation": evaluation,
        "sanity_sentence": SANITY_SENTENCE,
        "config": {**{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()},
                   "eval_texts": [portable(p) for p in config.eval_texts]},
        "timings_s": {"train": round(train_seconds, 2), "total": round(time.time() - started, 2)},
        "versions": _versions(),
    }
    _write(out, tokenizer, vocab, config, stats)
    return out


def _train(texts: _Texts, config: TokenizerConfig, required: list[str], progress: bool, at_most: bool = False
           ) -> dict[str, int]:
    """The special tokens, the starting vocabulary (every required piece), then merges; ``at_most``: the size
    is a ceiling (the automatic size), not one the corpus must reach."""
    start = _starting_vocabulary(texts, config.uncased, required)
    if texts.documents == 0:
        raise MacedonizerError("The corpus contains no text to train on.")
    if len(SPECIAL_TOKENS) + len(start) > config.vocab_size:
        raise MacedonizerError(
            f"The alphabet does not fit in a vocabulary of {config.vocab_size}: the corpus's characters and the "
            f"covered blocks, with their ## forms, take {len(SPECIAL_TOKENS) + len(start)}; raise --vocab-size."
        )
    tokenizer = _build_tokenizer(None, config.uncased)
    # The starting tokens, required ## pieces among them, get their ids up front so that the training is
    # reproducible (_starting_vocabulary); they count towards vocab_size.
    trainer = trainers.WordPieceTrainer(vocab_size=config.vocab_size, min_frequency=config.min_frequency,
                                        special_tokens=SPECIAL_TOKENS + start, continuing_subword_prefix="##",
                                        show_progress=progress)
    tokenizer.train_from_iterator(texts, trainer)
    vocab = tokenizer.get_vocab()
    if len(vocab) < config.vocab_size and not at_most:
        raise MacedonizerError(
            f"The corpus is too small for a vocabulary of {config.vocab_size}: it yields only {len(vocab)} "
            f"tokens ({texts.characters:,} characters); lower --vocab-size or add text."
        )
    return vocab


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
        write_json(tmp / "special_tokens_map.json", special)
        write_json(tmp / "tokenizer_config.json", {
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
        write_json(tmp / "stats.json", stats)
        replace_folder(tmp, out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        where = f" ({exc.filename})" if exc.filename else ""
        raise MacedonizerError(f"Cannot write the tokenizer{where}: {exc.strerror or exc}.") from None
