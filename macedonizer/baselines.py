"""The reference points a masked-LM must beat: word frequencies, then local context.

Both baselines see what the model sees and predict the token hidden at each
scored position, from counts over the model's own training tokens:

* **unigram**: the training-token frequencies (add-one smoothed). A model at
  this level learned which tokens are common and nothing else: the masked-LM
  plateau.
* **n-gram**: the token between a left and a right neighbour,
  ``P(c | l, r)``, from counts of ``(l, c, r)`` triples, backing off to the
  average of ``P(c | l)`` and ``P(c | r)`` and from there to the unigram.
  Each level is smoothed the Witten–Bell way (a context seen with ``T``
  distinct tokens in ``N`` occurrences gives its backoff distribution the
  weight ``T / (N + T)``), so there is no tuning constant. A neighbour that
  is itself masked is unknown to the baseline, as it is to the model: that
  side is left out of the context. A model that does not beat this baseline
  has learned no more of its context than a lookup table of neighbours.

The counts are taken once per data cache (``ngram_counts.npz`` beside
``token_counts.npy``) from at most ``MAX_NGRAM_TOKENS`` training tokens
spread evenly over the training sequences, and travel with every model.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

NGRAM_FILE = "ngram_counts.npz"
MAX_NGRAM_TOKENS = 200_000_000
"""Training tokens the n-gram counts are taken from at most (sequences spread evenly over the data)."""
_CHUNK_ROWS = 4096


def unigram_log_probs(token_counts: np.ndarray) -> np.ndarray:
    """log P(token) from training counts, add-one smoothed (no token is impossible)."""
    counts = token_counts.astype(np.float64) + 1.0
    return np.log(counts / counts.sum())


def unigram_scores(token_counts: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per target: ``-log P(target)`` under the training-token frequencies, and whether the commonest token is it."""
    return -unigram_log_probs(token_counts)[targets], targets == int(np.argmax(token_counts))


def unigram_baseline(token_counts: np.ndarray, labels) -> tuple[float, float]:
    """Loss and accuracy of always predicting the training-token frequencies."""
    losses, hits = unigram_scores(token_counts, np.asarray(labels.numpy() if hasattr(labels, "numpy") else labels))
    return float(losses.mean()), float(hits.mean())


def count_ngrams(sequences: np.ndarray, vocab_size: int, special_ids: list[int],
                 max_tokens: int = MAX_NGRAM_TOKENS) -> dict[str, np.ndarray]:
    """Counts of ``(left, centre, right)`` triples over ``sequences`` (rows of token ids).

    Centres are the ordinary (non-special) tokens with a neighbour on both
    sides in their row; neighbours may be special (``[CLS]``, ``[SEP]``).
    Returns ``{"keys": sorted int64 keys (l·V + r)·V + c, "counts": int64}``.
    """
    rows, seq_len = sequences.shape
    keep = max(1, min(rows, max_tokens // max(1, seq_len)))
    picked = np.linspace(0, rows - 1, keep).astype(np.int64) if keep < rows else np.arange(rows)
    special = np.zeros(vocab_size, dtype=bool)
    special[[i for i in special_ids if 0 <= i < vocab_size]] = True
    keys_parts, count_parts = [], []
    for start in range(0, len(picked), _CHUNK_ROWS):
        block = np.asarray(sequences[picked[start:start + _CHUNK_ROWS]]).astype(np.int64)
        left, centre, right = block[:, :-2], block[:, 1:-1], block[:, 2:]
        ordinary = ~special[centre]
        keys = (left[ordinary] * vocab_size + right[ordinary]) * vocab_size + centre[ordinary]
        unique, counts = np.unique(keys, return_counts=True)
        keys_parts.append(unique)
        count_parts.append(counts)
    if not keys_parts:
        return {"keys": np.zeros(0, np.int64), "counts": np.zeros(0, np.int64)}
    keys, inverse = np.unique(np.concatenate(keys_parts), return_inverse=True)
    counts = np.bincount(inverse, weights=np.concatenate(count_parts)).astype(np.int64)
    return {"keys": keys, "counts": counts}


def save_ngrams(path: str | os.PathLike, counts: dict[str, np.ndarray], vocab_size: int) -> None:
    np.savez_compressed(path, keys=counts["keys"], counts=counts["counts"], vocab_size=np.int64(vocab_size))


@dataclass
class _Level:
    """One smoothing level: a context's counts of each next token (CSR rows), their sums and variety."""

    table: sparse.csr_matrix
    totals: np.ndarray
    types: np.ndarray

    @classmethod
    def build(cls, rows: np.ndarray, cols: np.ndarray, counts: np.ndarray, shape: tuple[int, int]) -> _Level:
        table = sparse.csr_matrix((counts.astype(np.float64), (rows, cols)), shape=shape)
        table.sum_duplicates()
        return cls(table, np.asarray(table.sum(axis=1)).ravel(), np.diff(table.indptr).astype(np.float64))

    def smooth(self, context: np.ndarray, backoff: np.ndarray) -> np.ndarray:
        """Witten–Bell: ``(C(ctx, c) + T(ctx)·backoff(c)) / (N(ctx) + T(ctx))``; unseen contexts keep the backoff."""
        seen = context >= 0
        seen[seen] = self.totals[context[seen]] > 0
        out = backoff.copy()
        if seen.any():
            ctx = context[seen]
            n, t = self.totals[ctx][:, None], self.types[ctx][:, None]
            out[seen] = (self.table[ctx].toarray() + t * backoff[seen]) / (n + t)
        return out


class NgramBaseline:
    """``P(centre | left, right)`` with Witten–Bell backoff to one-sided bigrams and the unigram."""

    def __init__(self, keys: np.ndarray, counts: np.ndarray, token_counts: np.ndarray):
        vocab = len(token_counts)
        self.vocab_size = vocab
        self.unigram = np.exp(unigram_log_probs(token_counts))
        pair, centre = np.divmod(keys, vocab)
        left, right = np.divmod(pair, vocab)
        self.pairs, pair_rows = np.unique(pair, return_inverse=True)
        self.both = _Level.build(pair_rows, centre, counts, (max(1, len(self.pairs)), vocab))
        self.left = _Level.build(left, centre, counts, (vocab, vocab))
        self.right = _Level.build(right, centre, counts, (vocab, vocab))
        self._memo: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    @classmethod
    def load(cls, path: str | os.PathLike, token_counts: np.ndarray) -> NgramBaseline:
        with np.load(Path(path)) as saved:
            if int(saved["vocab_size"]) != len(token_counts):
                raise ValueError(f"{path} was counted over another vocabulary ({int(saved['vocab_size'])} tokens)")
            return cls(saved["keys"], saved["counts"], token_counts)

    def distributions(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Rows of ``P(c | l, r)``; a neighbour id of -1 is unknown (masked or absent)."""
        rows = len(left)
        base = np.broadcast_to(self.unigram, (rows, self.vocab_size))
        from_left = self.left.smooth(left, base)
        from_right = self.right.smooth(right, base)
        known_left, known_right = (left >= 0)[:, None], (right >= 0)[:, None]
        one_sided = np.where(known_left & known_right, 0.5 * (from_left + from_right),
                             np.where(known_left, from_left, from_right))
        pair_rows = np.full(rows, -1, dtype=np.int64)
        both_known = (left >= 0) & (right >= 0)
        if len(self.pairs) and both_known.any():
            keys = left[both_known] * self.vocab_size + right[both_known]
            found = np.minimum(np.searchsorted(self.pairs, keys), len(self.pairs) - 1)
            pair_rows[both_known] = np.where(self.pairs[found] == keys, found, -1)
        return self.both.smooth(pair_rows, one_sided)

    def score(self, inputs: np.ndarray, labels: np.ndarray, mask_id: int, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
        """Per scored position (``labels != -100``, row-major): ``-log P(target)`` and whether the argmax is right.

        The context is the visible input: a neighbour that is ``[MASK]`` or
        padding, or beyond the row's ends, is unknown.
        """
        inputs, labels = np.asarray(inputs), np.asarray(labels)
        rows, cols = np.nonzero(labels != -100)
        padded = np.pad(inputs, ((0, 0), (1, 1)), constant_values=-1)
        left, right = padded[rows, cols], padded[rows, cols + 2]
        left = np.where((left == mask_id) | (left == pad_id), -1, left)
        right = np.where((right == mask_id) | (right == pad_id), -1, right)
        targets = labels[rows, cols]
        losses = np.empty(len(targets))
        correct = np.empty(len(targets), dtype=bool)
        for start in range(0, len(targets), 256):
            part = slice(start, start + 256)
            probs = self.distributions(left[part], right[part])
            chosen = probs[np.arange(len(probs)), targets[part]]
            losses[part] = -np.log(chosen)
            correct[part] = probs.argmax(axis=1) == targets[part]
        return losses, correct

    def scores_for(self, inputs: list[np.ndarray], labels: list[np.ndarray], mask_id: int,
                   pad_id: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`score` over batches, remembered: a run evaluates the same masked batches again and again."""
        digest = hashlib.sha256()
        for part in (*inputs, *labels):
            digest.update(np.ascontiguousarray(part).tobytes())
        key = digest.hexdigest()
        if key not in self._memo:
            scored = [self.score(i, l, mask_id, pad_id) for i, l in zip(inputs, labels)]
            self._memo[key] = (np.concatenate([s[0] for s in scored]), np.concatenate([s[1] for s in scored]))
        return self._memo[key]
