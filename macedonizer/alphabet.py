"""The characters a WordPiece trainer starts from, read off a corpus without training.

``tokenizers``' WordPiece trainer starts from its alphabet, every character of
every word the normalizer and pre-tokenizer make of the corpus, and from the
``##x`` piece of every character ``x`` that stands inside a word after its
first character. ``corpus_alphabet`` finds both sets in one pass of numpy over
the code points, several times faster than the trainer's own word counting
(the tokenizer stage used to run a training pass with no merges for them).

It relies on what ``BertNormalizer`` and ``BertPreTokenizer`` do: the
normalizer maps each character on its own (drops it, makes it a space, pads an
ideograph with spaces, lowercases it, maybe into two), and the pre-tokenizer
splits at each whitespace and around each punctuation mark, whatever their
neighbours. So what becomes of a character is asked of the library once, for
the character alone; in a text, the one thing that depends on its neighbours
is whether its normalized form carries on a word that the one before left
open (a dropped character in between changes nothing).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

CHUNK_CHARS = 1 << 21
"""Documents are scanned in batches of about this many characters."""
_CODE_POINTS = 0x110000
# Flags of a code point, by its normalized form: dropped; starts inside a word; ends inside one.
_DROPPED, _OPENS, _CLOSES = 1, 2, 4


class _Scan:
    """The alphabet and the inner characters found so far, and what each code point met becomes."""

    def __init__(self, normalizer, pre_tokenizer):
        self.normalizer, self.pre_tokenizer = normalizer, pre_tokenizer
        self.flags = np.zeros(_CODE_POINTS, np.uint8)
        self.known = np.zeros(_CODE_POINTS, bool)
        self.seen = np.zeros(_CODE_POINTS, bool)
        self.follows = np.zeros(_CODE_POINTS, bool)  # met right after a character that leaves a word open
        self.first: dict[int, str] = {}  # the first character of each one's normalized form
        self.letters: set[str] = set()
        self.inner: set[str] = set()
        self._kinds: dict[str, int] = {}

    def _kind(self, ch: str) -> int:
        """How the pre-tokenizer splits ``a{ch}a``: 1 piece, a word character; 2, a space; 3, punctuation."""
        if ch not in self._kinds:
            self._kinds[ch] = len(self.pre_tokenizer.pre_tokenize_str(f"a{ch}a"))
        return self._kinds[ch]

    def _learn(self, code_point: int) -> None:
        form = self.normalizer.normalize_str(chr(code_point))
        kinds = [self._kind(ch) for ch in form]
        self.known[code_point] = True
        if not form:
            self.flags[code_point] = _DROPPED
            return
        self.first[code_point] = form[0]
        self.flags[code_point] = _OPENS * (kinds[0] == 1) | _CLOSES * (kinds[-1] == 1)
        self.letters.update(ch for ch, kind in zip(form, kinds) if kind != 2)
        self.inner.update(form[i] for i in range(1, len(form)) if kinds[i - 1] == kinds[i] == 1)

    def scan(self, text: str) -> None:
        """Learn the code points ``text`` brings, then mark those that carry on a word the one before left open
        (dropped ones taken out first: their neighbours meet)."""
        code_points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
        self.seen[code_points] = True
        for code_point in np.flatnonzero(self.seen & ~self.known).tolist():
            self._learn(code_point)
        flags = self.flags[code_points]
        if not (kept := (flags & _DROPPED) == 0).all():
            code_points, flags = code_points[kept], flags[kept]
        inside = (flags[1:] & _OPENS).astype(bool) & (flags[:-1] & _CLOSES).astype(bool)
        self.follows[code_points[1:][inside]] = True

    def result(self) -> tuple[set[str], set[str]]:
        return self.letters, self.inner | {self.first[cp] for cp in np.flatnonzero(self.follows).tolist()}


def corpus_alphabet(texts: Iterable[str], normalizer, pre_tokenizer) -> tuple[set[str], set[str]]:
    """The characters of the words ``normalizer`` and ``pre_tokenizer`` make of ``texts`` (each text apart, as
    the trainer reads it), and those of them that stand after the first character of a word.

    Only for normalizers that map each character on its own and pre-tokenizers that split at characters
    whatever their neighbours, such as ``BertNormalizer`` and ``BertPreTokenizer``.
    """
    scan = _Scan(normalizer, pre_tokenizer)
    batch: list[str] = []
    size = 0
    for text in texts:
        batch.append(text)
        size += len(text)
        if size >= CHUNK_CHARS:
            scan.scan(" ".join(batch))  # a space ends any word
            batch, size = [], 0
    if batch:
        scan.scan(" ".join(batch))  # a space ends any word
    return scan.result()

