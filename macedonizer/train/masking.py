"""Dynamic masked-LM masking, drawn from seeded generators.

Every draw comes from a generator of the run's seed and where it is used
(``generator(seed, step, micro_step)`` in training, fixed offsets for
evaluation and the diagnostics batch), so the masks of a step are the same
in a resumed run and under any number of processes.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..configs import MaskingConfig
from .data import SPECIAL_TOKENS


def generator(seed: int, *parts: int) -> torch.Generator:
    """A torch generator seeded from ``seed`` and ``parts`` (a step, a micro-batch, a batch)."""
    mixed = np.random.SeedSequence([seed, *parts]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(mixed))


class Masker:
    """Dynamic MLM masking on batches of token ids (torch tensors)."""

    def __init__(self, config: MaskingConfig, vocab: dict[str, int]):
        self.config = config
        size = max(vocab.values()) + 1
        self.special = torch.zeros(size, dtype=torch.bool)
        for token in SPECIAL_TOKENS:
            if token in vocab:
                self.special[vocab[token]] = True
        self.continuation = torch.zeros(size, dtype=torch.bool)
        for token, index in vocab.items():
            if token.startswith("##"):
                self.continuation[index] = True
        self.mask_id = vocab["[MASK]"]
        # Random replacements come from ordinary tokens only.
        self.ordinary = torch.nonzero(~self.special).flatten()
        self.vocab = vocab
        self._evaluation: Masker | None = None

    def for_evaluation(self) -> Masker:
        """The same positions drawn at this masker's rate, every one of them replaced by ``[MASK]``.

        Evaluation must not leave a scored token in the input (a model that
        copies its input would score on it) nor swap in a random one.
        """
        if self.config.mask_share == 1.0 and self.config.random_share == 0.0:
            return self
        if self._evaluation is None:  # built once: a run evaluates many times, and building walks the vocabulary
            self._evaluation = Masker(replace(self.config, mask_share=1.0, random_share=0.0), self.vocab)
        return self._evaluation

    def __call__(self, input_ids: torch.Tensor, generator: torch.Generator, total_rows: int | None = None,
                 row_offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (inputs, labels); labels are -100 where nothing is predicted.

        Under data parallelism each process holds rows ``row_offset …`` of a
        batch of ``total_rows``: the random draws are made for the whole
        batch and sliced, so the masks do not depend on the process count.
        """
        ids = input_ids.long()
        rows = slice(row_offset, row_offset + ids.shape[0])
        shape = (total_rows or ids.shape[0], ids.shape[1])

        def draw(fn, *args):
            return fn(*args, shape, generator=generator)[rows]

        special = self.special[ids]
        scores = draw(torch.rand)
        if self.config.whole_word:
            # Every piece of a word takes the draw of the word's first piece.
            continuation = self.continuation[ids] & ~special
            positions = torch.arange(ids.shape[1]).expand_as(ids)
            starts = torch.cummax(torch.where(continuation, torch.zeros_like(positions), positions), dim=1).values
            scores = torch.gather(scores, 1, starts)
        chosen = (scores < self.config.rate) & ~special
        labels = torch.where(chosen, ids, torch.full_like(ids, -100))
        action = draw(torch.rand)
        to_mask = chosen & (action < self.config.mask_share)
        to_random = chosen & (action >= self.config.mask_share) & (
            action < self.config.mask_share + self.config.random_share
        )
        inputs = ids.clone()
        inputs[to_mask] = self.mask_id
        random_tokens = self.ordinary[draw(torch.randint, len(self.ordinary))]
        inputs[to_random] = random_tokens[to_random]
        return inputs, labels
