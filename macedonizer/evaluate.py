"""``macedonizer eval``: masked-LM loss and accuracy of a model on plain text.

Any text file (one sentence or paragraph a line) is tokenised and packed
the way training data is, masked deterministically from a seed (every scored
token replaced by ``[MASK]``), and scored beside two baselines counted over
the model's own training tokens (``token_counts.npy`` and
``ngram_counts.npz``, written by ``pretrain``): word frequencies, and a
table of left/right neighbours (:mod:`macedonizer.baselines`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .baselines import NGRAM_FILE, NgramBaseline
from .data import Masker, Packer
from .configs import MaskingConfig
from .errors import MacedonizerError


def pack_lines(tokenizer, lines: list[str], seq_len: int) -> np.ndarray:
    """Pack text lines into ``[CLS] … [SEP] … [SEP]`` sequences, as for training."""
    sequences: list[list[int]] = []
    cls_id, sep_id, pad_id = (tokenizer.convert_tokens_to_ids(t) for t in ("[CLS]", "[SEP]", "[PAD]"))
    packer = Packer(seq_len, cls_id, sep_id, pad_id, lambda sequence: sequences.append(list(sequence)))
    for ids in tokenizer(lines, add_special_tokens=False)["input_ids"]:
        packer.add(ids)
    packer.close()
    return np.asarray(sequences, dtype=np.int64).reshape(-1, seq_len)


def read_lines(path: str | os.PathLike) -> list[str]:
    """The non-empty lines of a text file, stripped; a missing, unreadable or empty file is a user error."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.strip() for line in f if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise MacedonizerError(f"Cannot read {path}: {exc}") from None
    if not lines:
        raise MacedonizerError(f"{path} has no text.")
    return lines


class TextScorer:
    """Text files packed and masked once, to score any model that shares ``model_dir``'s tokenizer.

    Every model scored by one scorer is tested on exactly the same masked
    positions, so their numbers compare (a pruned model against its parent).
    """

    def __init__(self, model_dir: str | os.PathLike, paths: list[str], seq_len: int = 128, seed: int = 0,
                 device: str = "cpu", batch_size: int = 64):
        import torch
        from transformers import AutoConfig, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        model_dir = Path(model_dir)
        counts_path = model_dir / "token_counts.npy"
        if not (model_dir / "config.json").is_file():
            raise MacedonizerError(f"No model at {model_dir} (expected config.json and weights).")
        if not counts_path.is_file():
            raise MacedonizerError(f"{model_dir} has no token_counts.npy: the unigram baseline needs the model's "
                                   "training-token frequencies (written by `macedonizer pretrain`).")
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        seq_len = min(seq_len, AutoConfig.from_pretrained(model_dir).max_position_embeddings)
        self.packed = {Path(path).name: pack_lines(tokenizer, read_lines(path), seq_len) for path in paths}
        if len(paths) > 1:
            self.packed["all"] = np.concatenate(list(self.packed.values()))
        self.masker = Masker(MaskingConfig(), tokenizer.get_vocab())
        self.pad_id = tokenizer.pad_token_id
        self.counts = np.load(counts_path)
        ngram_path = model_dir / NGRAM_FILE
        self.ngram = NgramBaseline.load(ngram_path, self.counts) if ngram_path.is_file() else None
        self.device = torch.device(device)
        self.seed, self.batch_size = seed, batch_size

    def __call__(self, model) -> dict:
        """Scores of ``model`` on each file (and on all of them together when there are several)."""
        from .pretrain import evaluate_sequences

        model = model.to(self.device)
        return {name: evaluate_sequences(model, packed, self.masker, self.pad_id, self.device, self.counts,
                                         self.ngram, seed=self.seed, batch_size=self.batch_size)
                for name, packed in self.packed.items()}


def evaluate_text(model_dir: str | os.PathLike, paths: list[str], seq_len: int = 128, seed: int = 0,
                  device: str = "cpu", batch_size: int = 64) -> dict:
    """Scores of the model at ``model_dir`` on each file and on all of them together."""
    from transformers import AutoModelForMaskedLM

    scorer = TextScorer(model_dir, paths, seq_len=seq_len, seed=seed, device=device, batch_size=batch_size)
    return scorer(AutoModelForMaskedLM.from_pretrained(model_dir))
