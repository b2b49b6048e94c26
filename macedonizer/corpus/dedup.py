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
from datasketch import LeanMinHash, MinHash, MinHashLSH

_NON_WORD_RE = re.compile(r"[\W_]+")
_SEED = 1
_SCHEME = "affine32"  # datasketch >= 2 default; pinned so signatures stay comparable


def exact_key(text: str) -> int:
    """64-bit hash of the text with case, punctuation and spacing removed."""
    normalised = _NON_WORD_RE.sub(" ", text.lower()).strip()
    return xxhash.xxh3_64_intdigest(normalised.encode("utf-8"))


def _hash32(data: bytes) -> int:
    return xxhash.xxh32_intdigest(data)


def shingles(text: str, n: int) -> set[bytes]:
    words = _NON_WORD_RE.sub(" ", text.lower()).split()
    if len(words) <= n:
        return {" ".join(words).encode("utf-8")}
    return {" ".join(words[i : i + n]).encode("utf-8") for i in range(len(words) - n + 1)}


@lru_cache(maxsize=4)
def _permutations(num_perm: int):
    # Drawing the permutations dominates MinHash() construction: do it once.
    return MinHash(num_perm=num_perm, seed=_SEED, scheme=_SCHEME).permutations


def signature(text: str, num_perm: int, ngram: int) -> np.ndarray:
    """The MinHash signature of ``text`` (uint64 array of ``num_perm`` values)."""
    minhash = MinHash(
        num_perm=num_perm,
        seed=_SEED,
        hashfunc=_hash32,
        permutations=_permutations(num_perm),
        scheme=_SCHEME,
    )
    minhash.update_batch(list(shingles(text, ngram)))
    return minhash.hashvalues


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
