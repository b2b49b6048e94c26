"""Honest masked-LM scores beside the baselines: of packed sequences (validation) and of text (``macedonizer eval``).

Positions are drawn at the masker's rate and every one of them is replaced
by ``[MASK]`` (:meth:`Masker.for_evaluation`): nothing scored is left
visible to copy. Two baselines counted over the model's own training tokens
(``token_counts.npy`` and ``ngram_counts.npz``, written by ``pretrain``)
are scored on the same positions: word frequencies, and a table of
left/right neighbours (:mod:`macedonizer.baselines`).

Any text file (one sentence or paragraph a line) is tokenised and packed
the way training data is and masked deterministically from a seed, so every
model scored on it is tested on the same positions.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModelForMaskedLM, AutoTokenizer
from transformers.utils import logging as hf_logging

from ..baselines import NGRAM_FILE, NgramBaseline, unigram_scores
from ..configs import MaskingConfig
from ..errors import MacedonizerError
from .data import Packer
from .device import autocast
from .masking import Masker, generator
from .model import mlm_parts


def evaluate_sequences(model, sequences: np.ndarray, masker: Masker, pad_id: int, device: torch.device,
                       token_counts: np.ndarray, ngram: NgramBaseline | None = None, seed: int = 0,
                       batch_size: int = 64, max_batches: int | None = None) -> dict:
    """Masked-LM loss, perplexity and accuracy on ``sequences``, scored honestly, beside the baselines.

    The unigram and (when ``ngram`` is given) n-gram baselines are scored on
    the same positions from the same visible input, with the standard errors
    of the paired per-token differences, which :mod:`macedonizer.verdict`
    uses as the evaluation noise.
    """
    mlm = model.mlm if hasattr(model, "mlm") else model
    masker = masker.for_evaluation()
    encoder, head = mlm_parts(mlm)
    was_training = mlm.training
    mlm.eval()
    losses, hits, batches_inputs, batches_labels = [], [], [], []
    starts = range(0, len(sequences), batch_size)
    if max_batches is not None:
        starts = list(starts)[:max_batches]
    with torch.no_grad():
        for b, start in enumerate(starts):
            ids = torch.from_numpy(np.asarray(sequences[start : start + batch_size]).astype(np.int64))
            inputs, labels = masker(ids, generator(seed, 1_000_003, b))
            selected = labels != -100
            if not selected.any():
                continue
            with autocast(device):
                mask = (ids != pad_id).to(device)
                hidden = encoder(input_ids=inputs.to(device), attention_mask=mask).last_hidden_state
                logits = head(hidden[selected.to(device)]).float()
            targets = labels[selected].to(device)
            losses.append(F.cross_entropy(logits, targets, reduction="none").cpu().numpy())
            hits.append((logits.argmax(-1) == targets).cpu().numpy())
            batches_inputs.append(inputs.numpy())
            batches_labels.append(labels.numpy())
    mlm.train(was_training)
    if not losses:
        raise MacedonizerError("Nothing to evaluate: the text yields no maskable tokens.")
    loss, hit = np.concatenate(losses).astype(np.float64), np.concatenate(hits)
    targets = np.concatenate([labels[labels != -100] for labels in batches_labels])
    unigram_losses, unigram_hits = unigram_scores(token_counts, targets)
    record = {
        "loss": round(float(loss.mean()), 5),
        "perplexity": round(math.exp(min(float(loss.mean()), 50)), 3),
        "masked_accuracy": round(float(hit.mean()), 5),
        **_baseline_scores("unigram", loss, hit, unigram_losses, unigram_hits),
    }
    if ngram is not None:
        ngram_losses, ngram_hits = ngram.scores_for(batches_inputs, batches_labels, masker.mask_id, pad_id)
        record.update(_baseline_scores("ngram", loss, hit, ngram_losses, ngram_hits))
    record["masked_tokens"] = int(len(loss))
    return record


def _baseline_scores(name: str, loss: np.ndarray, hit: np.ndarray, base_loss: np.ndarray, base_hit: np.ndarray) -> dict:
    """A baseline's loss and accuracy, and the standard errors of the model's paired differences from it."""
    n = max(1, len(loss) - 1)
    return {
        f"{name}_loss": round(float(base_loss.mean()), 5),
        f"{name}_accuracy": round(float(base_hit.mean()), 5),
        f"loss_vs_{name}_se": round(float(np.std(loss - base_loss) / math.sqrt(n)), 5),
        f"accuracy_vs_{name}_se": round(float(np.std(hit.astype(np.float64) - base_hit) / math.sqrt(n)), 5),
    }


# ---------------------------------------------------------------- text files


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
        model = model.to(self.device)
        return {name: evaluate_sequences(model, packed, self.masker, self.pad_id, self.device, self.counts,
                                         self.ngram, seed=self.seed, batch_size=self.batch_size)
                for name, packed in self.packed.items()}


def evaluate_text(model_dir: str | os.PathLike, paths: list[str], seq_len: int = 128, seed: int = 0,
                  device: str = "cpu", batch_size: int = 64) -> dict:
    """Scores of the model at ``model_dir`` on each file and on all of them together."""
    scorer = TextScorer(model_dir, paths, seq_len=seq_len, seed=seed, device=device, batch_size=batch_size)
    return scorer(AutoModelForMaskedLM.from_pretrained(model_dir))
