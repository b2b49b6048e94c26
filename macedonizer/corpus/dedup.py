"""Exact and near-duplicate removal.

Exact duplicates are found by a hash of the text with case, punctuation and
whitespace removed. Near duplicates by MinHash over word 5-gram shingles and
an LSH index (datasketch): a document whose estimated Jaccard similarity to
an earlier kept one reaches the threshold is dropped. Signatures are computed
in the worker processes; the index lives in the main process, which sees the
documents in input order, so the result does not depend on the worker count.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import xxhash
from datasketch import LeanMinHash, MinHashLSH

_NON_WORD_RE = re.compile(r"[\W_]+")
_SEED = 1
_SCHEME = "affine64"  # tells datasketch how the signatures were made (64-bit values)


def words_of(text: str) -> list[str]:
    """Lower-case words without punctuation: what both dedup keys are made of."""
    return _NON_WORD_RE.sub(" ", text.lower()).split()


def exact_key(words: list[str]) -> int:
    """64-bit hash of the text with case, punctuation and spacing removed."""
    return xxhash.xxh3_64_intdigest(" ".join(words).encode("utf-8"))


_MIX = np.uint64(0x9E3779B97F4A7C15)


@lru_cache(maxsize=4)
def _permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """Multipliers (odd) and offsets of the ``num_perm`` hash functions."""
    rng = np.random.default_rng(_SEED)
    a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
    return a, b


_WORD_HASHES: dict[str, int] = {}
_WORD_HASH_CACHE_SIZE = 500_000


def _word_hash(word: str) -> int:
    # Words follow Zipf's law: a dict lookup answers most of them.
    value = _WORD_HASHES.get(word)
    if value is None:
        if len(_WORD_HASHES) >= _WORD_HASH_CACHE_SIZE:
            _WORD_HASHES.clear()
        value = _WORD_HASHES[word] = xxhash.xxh64_intdigest(word.encode("utf-8"))
    return value


def signatures(word_lists: list[list[str]], num_perm: int, ngram: int) -> list[np.ndarray]:
    """MinHash signatures of many texts at once (one uint64 array each).

    Shingles are word n-grams (the whole text when it is shorter). Each word
    is hashed once, n-gram hashes are combined from those, and the
    ``num_perm`` hash functions h(x) = (a·x + b) >> 32 (multiply-shift, a
    universal family) are applied to the shingles of the whole batch in one
    numpy expression: per-document MinHash objects would cost more in
    overhead than in arithmetic. Signatures go into datasketch's LSH index.
    """
    a, b = _permutations(num_perm)
    word_lists = [words or [""] for words in word_lists]
    lengths = np.array([len(words) for words in word_lists])
    hashes = np.fromiter(
        (_word_hash(w) for words in word_lists for w in words), dtype=np.uint64, count=int(lengths.sum())
    )
    doc_of_word = np.repeat(np.arange(len(word_lists)), lengths)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    # Every doc gets the n-gram hashes that fit inside it; a doc shorter than
    # n gets one shingle of all its words. Build them with shifted additions.
    n_of_doc = np.minimum(lengths, ngram)
    shingles, owners = [], []
    for n in np.unique(n_of_doc):
        docs = np.flatnonzero(n_of_doc == n)
        span = len(hashes) - n + 1
        combined = hashes[:span].copy()
        with np.errstate(over="ignore"):
            for k in range(1, n):
                combined = combined * _MIX + hashes[k : k + span]
        inside = doc_of_word[:span] == doc_of_word[n - 1 :]
        wanted = np.isin(doc_of_word[:span], docs) & inside
        shingles.append(combined[wanted])
        owners.append(doc_of_word[:span][wanted])
    shingles_all = np.concatenate(shingles)
    owners_all = np.concatenate(owners)
    order = np.argsort(owners_all, kind="stable")
    shingles_all, owners_all = shingles_all[order], owners_all[order]
    offsets = np.searchsorted(owners_all, np.arange(len(word_lists)))
    with np.errstate(over="ignore"):
        # (num_perm, shingles): reducing along contiguous rows is 3x faster.
        permuted = (a[:, None] * shingles_all[None, :] + b[:, None]) >> np.uint64(32)
    return list(np.minimum.reduceat(permuted, offsets, axis=1).T)


class NearDuplicateIndex:
    """An LSH index that answers "have I kept something like this already?"."""

    def __init__(self, threshold: float, num_perm: int):
        self.num_perm = num_perm
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._next = 0

    def seen_or_add(self, hashvalues: np.ndarray) -> bool:
        """True if a near duplicate was kept before; otherwise remember this one."""
        minhash = LeanMinHash(seed=_SEED, hashvalues=hashvalues, scheme=_SCHEME)
        if self._lsh.query(minhash):
            return True
        self._lsh.insert(self._next, minhash, check_duplication=False)
        self._next += 1
        return False
