"""Honest scoring: every scored token masked, so a model that copies its input gains nothing."""

from types import SimpleNamespace

import numpy as np
import torch

from macedonizer.baselines import unigram_log_probs
from macedonizer.configs import MaskingConfig
from macedonizer.sweep import classify
from macedonizer.train.evaluate import evaluate_sequences
from macedonizer.train.masking import Masker
from macedonizer.verdict import judge

VOCAB = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4} | {f"w{i}": 5 + i for i in range(45)}
V = len(VOCAB)
RNG = np.random.default_rng(0)
COUNTS = RNG.integers(1, 1000, V)
COUNTS[:5] = 0


class _OneHot(torch.nn.Module):
    def forward(self, input_ids, attention_mask):
        return SimpleNamespace(last_hidden_state=torch.nn.functional.one_hot(input_ids, V).float())


class _CopyHead(torch.nn.Module):
    """Word frequencies, plus a strong vote for whatever token is in the input at that position."""

    def __init__(self):
        super().__init__()
        self.prior = torch.nn.Parameter(torch.tensor(unigram_log_probs(COUNTS), dtype=torch.float32))

    def forward(self, hidden):
        return self.prior + 3.0 * hidden * (1 - torch.nn.functional.one_hot(torch.tensor(4), V).float())


class CopyModel(torch.nn.Module):
    """A masked-LM that learned only to copy its input (the 10% of training targets left unchanged)."""

    def __init__(self):
        super().__init__()
        self.base_model, self.cls = _OneHot(), _CopyHead()


def sequences(rows=64, length=32):
    ids = RNG.choice(np.arange(5, V), size=(rows, length), p=COUNTS[5:] / COUNTS[5:].sum())
    ids[:, 0] = 2
    return ids


def test_a_model_that_copies_its_input_does_not_learn():
    data, masker = sequences(), Masker(MaskingConfig(), VOCAB)
    scores = evaluate_sequences(CopyModel(), data, masker, 0, torch.device("cpu"), COUNTS, seed=0)
    # Scored honestly it is exactly the unigram baseline: nothing to copy at a [MASK].
    assert abs(scores["loss"] - scores["unigram_loss"]) < 1e-4
    assert scores["masked_accuracy"] == scores["unigram_accuracy"]
    assert judge(scores).level == "untrained"
    assert not judge({**scores, "ngram_loss": 99, "ngram_accuracy": 0}).learned  # must beat both baselines
    assert classify([7.0] * 20, scores, start_loss=np.log(V))[0] == "plateau"


def test_the_training_masking_would_have_let_it_copy():
    """The same model under 80/10/10 at evaluation time 'beats' the unigram baseline: the copy effect."""
    data, masker = sequences(), Masker(MaskingConfig(), VOCAB)
    ids = torch.from_numpy(data)
    inputs, labels = masker(ids, torch.Generator().manual_seed(0))
    model = CopyModel()
    logits = model.cls(model.base_model(inputs, None).last_hidden_state)[labels != -100]
    targets = labels[labels != -100]
    copy_loss = torch.nn.functional.cross_entropy(logits, targets).item()
    unigram_loss = float(-unigram_log_probs(COUNTS)[targets.numpy()].mean())
    assert copy_loss < unigram_loss - 0.1


def test_evaluation_masks_every_scored_position():
    masker = Masker(MaskingConfig(rate=0.3, mask_share=0.5, random_share=0.3), VOCAB).for_evaluation()
    ids = torch.from_numpy(sequences())
    inputs, labels = masker(ids, torch.Generator().manual_seed(1))
    scored = labels != -100
    assert scored.float().mean().item() > 0.25
    assert (inputs[scored] == VOCAB["[MASK]"]).all() and (inputs[~scored] == ids[~scored]).all()
