"""The modern variant (transformers' ModernBertForMaskedLM with our WordPiece tokenizer) through the whole chain."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from transformers import AutoModelForMaskedLM, AutoTokenizer, ModernBertForMaskedLM, pipeline

from macedonizer.cli import main
from macedonizer.configs import SIZES, MaskingConfig, ModelSize, TrainConfig, resolve_size
from macedonizer.train.evaluate import evaluate_sequences
from macedonizer.train.masking import Masker, generator
from macedonizer.train.model import ROPE_THETA, build_model, initial_model, non_embedding_parameters
from tests.train.conftest import SAMPLE, train_modern

VOCAB = {f"t{i}": i for i in range(96)} | {"[PAD]": 96, "[CLS]": 97, "[SEP]": 98, "[MASK]": 99}


def test_the_modern_model_has_the_registry_shape_and_our_special_tokens():
    model = build_model(SIZES["tiny"], VOCAB, TrainConfig(variant="modern"))
    config = model.config
    assert isinstance(model, ModernBertForMaskedLM) and config._attn_implementation == "sdpa"
    assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads, config.intermediate_size) == (
        2, 128, 2, 512)
    assert config.layer_types == ["full_attention", "full_attention"]  # global attention in every layer
    assert config.rope_parameters["full_attention"]["rope_theta"] == ROPE_THETA
    assert (config.pad_token_id, config.cls_token_id, config.sep_token_id) == (96, 97, 98)
    assert config.max_position_embeddings == 512
    biases = [name for name, _ in model.named_parameters() if name.endswith(".bias")]
    assert biases == ["decoder.bias"]  # no biases but the output's
    dropped = build_model(ModelSize(1, 64), VOCAB, TrainConfig(variant="modern", dropout=0.2)).config
    assert (dropped.embedding_dropout, dropped.attention_dropout, dropped.mlp_dropout) == (0.2, 0.2, 0.2)


def test_honest_scores_of_a_modern_model_are_its_own_loss_on_masked_text():
    """evaluate_sequences scores ModernBERT through its head and decoder as transformers computes the loss."""
    model = build_model(ModelSize(2, 64), VOCAB, TrainConfig(variant="modern")).eval()
    sequences = np.random.default_rng(0).integers(0, 96, (6, 16))
    sequences[:, 0], sequences[5, 10:] = 97, 96  # [CLS] first; one row padded
    masker = Masker(MaskingConfig(), VOCAB)
    counts = np.ones(len(VOCAB))
    record = evaluate_sequences(model, sequences, masker, 96, torch.device("cpu"), counts, seed=3, batch_size=6)
    ids = torch.from_numpy(sequences)
    inputs, labels = masker.for_evaluation()(ids, generator(3, 1_000_003, 0))
    assert (inputs[labels != -100] == 99).all()  # every scored token masked
    with torch.no_grad():
        full = model(input_ids=inputs, attention_mask=(ids != 96).long(), labels=labels)
    assert record["loss"] == pytest.approx(float(full.loss), abs=1e-4)
    assert record["masked_tokens"] == int((labels != -100).sum())


def test_cli_pretrains_and_evaluates_a_modern_model(tok, tmp_path):
    out = tmp_path / "m"
    result = CliRunner().invoke(main, ["pretrain", "--data", SAMPLE, "--tokenizer", str(tok), "--size", "L2/H64",
                                       "--variant", "modern", "--seq-len", "32", "--batch-size", "4",
                                       "--max-steps", "3", "-q", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["architectures"] == ["ModernBertForMaskedLM"]
    assert json.loads((out / "training_config.json").read_text())["train"]["variant"] == "modern"
    text = tmp_path / "t.txt"
    text.write_text("Утре ќе одам на пазар со мајка ми.\nВладата денес го усвои буџетот.\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", str(out), "--text", str(text), "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)["t.txt"]
    assert scores["masked_tokens"] > 0 and {"loss", "unigram_loss", "ngram_loss", "verdict"} <= set(scores)


def test_a_modern_folder_fills_masks_with_transformers_auto_classes(tok, tmp_path):
    """The saved tokenizer and config are all the fill-mask pipeline needs: our [MASK], our special ids."""
    out = train_modern(tok, tmp_path / "m")
    tokenizer, model = AutoTokenizer.from_pretrained(out), AutoModelForMaskedLM.from_pretrained(out)
    assert isinstance(model, ModernBertForMaskedLM)
    assert (tokenizer.mask_token, tokenizer.pad_token_id, tokenizer.cls_token_id) == (
        "[MASK]", model.config.pad_token_id, model.config.cls_token_id)
    text = "Скопје е главен [MASK] на Македонија."
    answers = pipeline("fill-mask", model=model, tokenizer=tokenizer)(text, top_k=3)
    encoded = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        logits = model(**encoded).logits[0, encoded["input_ids"][0].tolist().index(tokenizer.mask_token_id)]
    best = logits.softmax(-1).topk(3)
    assert [a["token"] for a in answers] == best.indices.tolist()
    assert [a["score"] for a in answers] == pytest.approx(best.values.tolist(), rel=1e-4)
    # Its records count its own parameters, not BERT's formula for the shape (the GLU layers are larger).
    for record in ("eval.json", "training_config.json"):
        assert json.loads((out / record).read_text(encoding="utf-8"))["parameters"] == model.num_parameters()
    assert non_embedding_parameters(model) > resolve_size("L2/H64").non_embedding_parameters()


def test_a_run_starting_from_a_modern_model_sets_its_dropout(tok, tmp_path):
    """``init_from`` (pruned models' recovery) gives a saved ModernBERT the run's dropout, in ModernBERT's fields."""
    model = initial_model(TrainConfig(init_from=str(train_modern(tok, tmp_path / "m")), dropout=0.3))
    assert isinstance(model, ModernBertForMaskedLM) and model.training
    assert (model.config.embedding_dropout, model.config.attention_dropout, model.config.mlp_dropout) == (0.3,) * 3
    assert model.model.embeddings.drop.p == 0.3 and model.model.layers[0].mlp.drop.p == 0.3


FILL_MASK = """
import sys
sys.modules["macedonizer"] = None  # plain transformers only
from transformers import pipeline
fill = pipeline("fill-mask", model=sys.argv[1])
out = fill("Утре ќе одам на [MASK].", top_k=3)
print(type(fill.model).__name__, len(out), all("token_str" in o and "score" in o for o in out))
"""


@pytest.mark.slow  # a fresh interpreter
def test_a_modern_model_fills_masks_without_macedonizer(tok, tmp_path):
    out = train_modern(tok, tmp_path / "m")
    result = subprocess.run([sys.executable, "-c", FILL_MASK, str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ModernBertForMaskedLM 3 True"
