"""``macedonizer eval``: masked-LM loss and accuracy of a model on plain text.

Any text file (one sentence or paragraph a line) is tokenised and packed
the way training data is, masked deterministically from a seed, and scored;
the unigram baseline uses the model's own training-token frequencies
(``token_counts.npy``, written by ``pretrain``), so "beats the baseline"
means the model learned more than which tokens are common.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .data import Masker, MaskingConfig, Packer
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


def evaluate_text(model_dir: str | os.PathLike, paths: list[str], seq_len: int = 128, seed: int = 0,
                  device: str = "cpu", batch_size: int = 64) -> dict:
    """Scores of the model at ``model_dir`` on each file and on all of them together."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    from .pretrain import evaluate_sequences

    model_dir = Path(model_dir)
    counts_path = model_dir / "token_counts.npy"
    if not (model_dir / "config.json").is_file():
        raise MacedonizerError(f"No model at {model_dir} (expected config.json and weights).")
    if not counts_path.is_file():
        raise MacedonizerError(f"{model_dir} has no token_counts.npy: the unigram baseline needs the model's "
                               "training-token frequencies (written by `macedonizer pretrain`).")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForMaskedLM.from_pretrained(model_dir).to(device)
    seq_len = min(seq_len, model.config.max_position_embeddings)
    counts = np.load(counts_path)
    masker = Masker(MaskingConfig(), tokenizer.get_vocab())
    results = {}
    packed_all = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                lines = [line.strip() for line in f if line.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            raise MacedonizerError(f"Cannot read {path}: {exc}") from None
        if not lines:
            raise MacedonizerError(f"{path} has no text.")
        packed = pack_lines(tokenizer, lines, seq_len)
        packed_all.append(packed)
        results[Path(path).name] = evaluate_sequences(
            model, packed, masker, tokenizer.pad_token_id, torch.device(device), counts, seed=seed,
            batch_size=batch_size)
    if len(paths) > 1:
        results["all"] = evaluate_sequences(
            model, np.concatenate(packed_all), masker, tokenizer.pad_token_id, torch.device(device), counts,
            seed=seed, batch_size=batch_size)
    return results
