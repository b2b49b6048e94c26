"""Exact and near-duplicate removal.

Exact duplicates are found by a hash of the text with case, punctuation and
whitespace removed. Near duplicates by MinHash over word 5-gram shingles and
LSH banding (bands and rows chosen by datasketch for the threshold): a
document that shares a band with an earlier kept one is dropped. Signatures
and band keys are computed in the worker processes, a batch at a time; the
index lives in the main process, which sees the documents in input order, so
the result does not depend on the worker count.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import chain

import numpy as np
import xxhash
from datasketch import MinHashLSH

_WORD_RE = re.compile(r"[^\W_]+")
_SEED = 1


def words_of(text: str) -> list[str]:
    """Lower-case words without punctuation: what both dedup keys are made of."""
    return _WORD_RE.findall(text.lower())


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


class _WordHashes(dict):
    """word -> 64-bit xxhash, computed on first sight.

    Words follow Zipf's law, so a dict lookup answers most of them, and
    ``map(cache.__getitem__, words)`` runs the lookups in C.
    """

    max_size = 500_000

    def __missing__(self, word: str) -> int:
        if len(self) >= self.max_size:
            self.clear()
        value = self[word] = xxhash.xxh64_intdigest(word.encode("utf-8"))
        return value


_WORD_HASHES = _WordHashes()


def signatures(word_lists: list[list[str]], num_perm: int, ngram: int) -> list[np.ndarray]:
    """MinHash signatures of many texts at once (one uint64 array each).

    Shingles are word n-grams (the whole text when it is shorter). Each word
    is hashed once, n-gram hashes are combined from those, and the
    ``num_perm`` hash functions h(x) = (a·x + b) >> 32 (multiply-shift, a
    universal family) are applied to the shingles of the whole batch at once
    (``_min_hashes``): per-document MinHash objects would cost more in
    overhead than in arithmetic. Their LSH band keys come from ``band_keys``.
    """
    a, b = _permutations(num_perm)
    word_lists = [words or [""] for words in word_lists]
    lengths = np.array([len(words) for words in word_lists])
    hashes = np.fromiter(
        map(_WORD_HASHES.__getitem__, chain.from_iterable(word_lists)), dtype=np.uint64, count=int(lengths.sum())
    )
    doc_of_word = np.repeat(np.arange(len(word_lists)), lengths)
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
    return list(_min_hashes(shingles_all, offsets, a, b).T)


# Bytes of one block of permuted shingles: small enough to stay in the CPU's L2 cache.
_BLOCK_BYTES = 1 << 20


def _min_hashes(shingles: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(num_perm, docs): per hash function, the minimum of (a·x + b) >> 32 over each doc's shingles.

    The shift is monotone, so it is applied to the minima rather than to every
    shingle, and the permutations are applied a few rows at a time into one
    reused buffer that fits in cache: the whole (num_perm, shingles) matrix at
    once is many times slower, bound by memory rather than arithmetic.
    """
    rows = max(1, _BLOCK_BYTES // (8 * len(shingles)))
    out = np.empty((len(a), len(offsets)), dtype=np.uint64)
    buffer = np.empty((min(rows, len(a)), len(shingles)), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for start in range(0, len(a), rows):
            block = buffer[: len(a[start : start + rows])]
            np.multiply(a[start : start + rows, None], shingles[None, :], out=block)
            block += b[start : start + rows, None]
            np.minimum.reduceat(block, offsets, axis=1, out=out[start : start + rows])
    out >>= np.uint64(32)
    return out


@lru_cache(maxsize=16)
def lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band) that best separate Jaccard ``threshold``.

    datasketch chooses them by weighing false positives against false
    negatives; we reuse its choice and do the banding ourselves, so that the
    band keys are computed in the workers and the main process only looks
    them up.
    """
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return lsh.b, lsh.r


def band_keys(signatures: list[np.ndarray], threshold: float, num_perm: int) -> list[list[int]]:
    """For each signature, one 64-bit key per LSH band."""
    if not signatures:
        return []
    bands, rows = lsh_bands(threshold, num_perm)
    matrix = np.stack(signatures)[:, : bands * rows].reshape(len(signatures), bands, rows)
    keys = np.zeros((len(signatures), bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for r in range(rows):
            keys = keys * _MIX + matrix[:, :, r] + np.uint64(r + 1)
    return keys.tolist()


class NearDuplicateIndex:
    """An LSH index that answers "have I kept something like this already?".

    A document is a near duplicate when one of its bands equals that band of
    a document kept before (the standard MinHash LSH candidate rule).
    """

    def __init__(self, threshold: float, num_perm: int):
        bands, _ = lsh_bands(threshold, num_perm)
        self._tables: list[set[int]] = [set() for _ in range(bands)]

    def seen_or_add(self, keys: list[int]) -> bool:
        """True if a near duplicate was kept before; otherwise remember this one."""
        tables = self._tables
        for table, key in zip(tables, keys):
            if key in table:
                return True
        for table, key in zip(tables, keys):
            table.add(key)
        return False
