"""The training diagnostics against direct computations on a tiny model."""

import json
import math

import pytest
import torch
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface, eager_mask
from transformers.models.modernbert.modeling_modernbert import eager_attention_forward

from macedonizer.configs import ModelSize, TrainConfig
from macedonizer.diagnostics import DIAGNOSTICS, Probe, layer_group, read_diagnostics
from macedonizer.train.model import SparseMLM, build_model, mlm_parts

VOCAB = {f"t{i}": i for i in range(60)} | {"[PAD]": 60, "[CLS]": 61, "[SEP]": 62, "[MASK]": 63}


def probe_batch():
    """Two rows of 12 tokens, the second padded after 8; about a third of the real tokens masked."""
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 60, (2, 12), generator=generator)
    attention_mask = torch.ones_like(ids)
    ids[1, 8:], attention_mask[1, 8:] = 60, 0
    labels = torch.where(torch.rand(ids.shape, generator=generator) < 0.35, ids, torch.full_like(ids, -100))
    labels[1, 8:] = -100
    return ids, attention_mask, labels


def tiny(variant: str):
    torch.manual_seed(0)
    return build_model(ModelSize(2, 32), VOCAB, TrainConfig(variant=variant, init="bert"))


def direct_group(name: str) -> str:
    """The layer group written out for the three layouts' parameter names."""
    parts = name.split(".")
    for word in ("layer", "layers"):
        if word in parts:
            return f"layer.{parts[parts.index(word) + 1]}"
    return "embeddings" if "embeddings" in parts else "head"


@pytest.mark.parametrize("variant", ["post-ln", "pre-ln", "modern"])
def test_the_probe_records_what_a_direct_computation_gives(variant, tmp_path):
    model = tiny(variant)
    ids, attention_mask, labels = probe_batch()
    encoder, head = mlm_parts(model)
    probe = Probe(model, encoder, head, ids, attention_mask, labels, tmp_path / DIAGNOSTICS, every=5)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    SparseMLM(model)(ids, attention_mask, labels)[0].backward()

    probe.before_update()
    named = dict(model.named_parameters())
    before = {name: p.detach().clone() for name, p in named.items()}
    grads = {name: p.grad.detach().clone() for name, p in named.items() if p.grad is not None}
    optimizer.step()
    record = probe.after_update(5)
    probe.close()
    assert model.training  # the probe's eval pass leaves the model as it found it

    groups = {direct_group(name) for name in named}
    assert groups == {"embeddings", "layer.0", "layer.1", "head"} == set(record["grad_norm"])
    for group in groups:
        members = [name for name in named if direct_group(name) == group]
        grad_norm = math.sqrt(sum(float(grads[n].pow(2).sum()) for n in members if n in grads))
        delta = math.sqrt(sum(float((named[n].detach() - before[n]).pow(2).sum()) for n in members))
        weight = math.sqrt(sum(float(before[n].pow(2).sum()) for n in members))
        assert record["grad_norm"][group] == pytest.approx(grad_norm, rel=1e-5)
        assert record["update_ratio"][group] == pytest.approx(delta / weight, rel=1e-4)
    assert record["grad_norm"]["head"] > 0 and record["update_ratio"]["layer.0"] > 0

    signals = direct_modern_signals if variant == "modern" else direct_signals
    entropy, attention_logit_max, logit_max, logit_std = signals(model, ids, attention_mask, labels)
    assert record["attention_entropy"] == pytest.approx(entropy, rel=1e-4)
    assert record["attention_logit_max"] == pytest.approx(attention_logit_max, rel=1e-4)
    assert (record["logit_max"], record["logit_std"]) == pytest.approx((logit_max, logit_std), rel=1e-4)
    line = json.loads((tmp_path / DIAGNOSTICS).read_text().strip())
    assert line["step"] == 5 and line["grad_norm"]["head"] == float(f"{record['grad_norm']['head']:.4g}")
    assert read_diagnostics(tmp_path) == [line]


@torch.no_grad()
def direct_signals(model, ids, attention_mask, labels):
    """Attention entropy per layer from the model's own attention weights (eager attention); the largest
    |q·k|/√d from each layer's input; the output logits' max and std at the masked positions."""
    model.eval()
    for module in model.modules():
        if hasattr(module, "config"):
            module.config._attn_implementation = "eager"
    out = model(input_ids=ids, attention_mask=attention_mask, output_attentions=True, output_hidden_states=True)
    model.train()
    valid = attention_mask.bool()
    entropies, logit_maxima = [], []
    for index, (layer, probs) in enumerate(zip(model.base_model.encoder.layer, out.attentions)):
        rows = -(probs * probs.clamp_min(1e-30).log()).sum(-1)  # batch, head, query
        entropies.append(float(rows.mean(1)[valid].mean()))
        hidden = out.hidden_states[index]
        if hasattr(layer.attention, "LayerNorm") and not hasattr(layer.attention.output, "LayerNorm"):
            hidden = layer.attention.LayerNorm(hidden)  # pre-LN: the attention sees the normalised input
        attention = layer.attention.self
        heads, width = attention.num_attention_heads, attention.attention_head_size
        q = attention.query(hidden).view(2, -1, heads, width).transpose(1, 2)
        k = attention.key(hidden).view(2, -1, heads, width).transpose(1, 2)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(width)
        logit_maxima.append(float(scores[valid[:, None, None, :].expand_as(scores)].abs().max()))
    logits = out.logits[labels != -100]
    return entropies, logit_maxima, float(logits.abs().max()), float(logits.std())


SCORES: list = []


def _recorded_attention(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
    """Eager attention that keeps its logits: the queries and keys as the model rotated them."""
    SCORES.append((query @ key.transpose(-1, -2)) * scaling)
    return eager_attention_forward(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout,
                                   **kwargs)


AttentionInterface.register("recorded", _recorded_attention)
AttentionMaskInterface.register("recorded", eager_mask)  # padding masked as for eager attention


@torch.no_grad()
def direct_modern_signals(model, ids, attention_mask, labels):
    """ModernBERT's attention logits and weights from inside its own attention call; the output logits."""
    model.eval()
    model.set_attn_implementation("recorded")
    SCORES.clear()
    out = model(input_ids=ids, attention_mask=attention_mask, output_attentions=True)
    model.train()
    valid = attention_mask.bool()
    entropies = [float((-(p * p.clamp_min(1e-30).log()).sum(-1)).mean(1)[valid].mean()) for p in out.attentions]
    logit_maxima = [float(s[valid[:, None, None, :].expand_as(s)].abs().max()) for s in SCORES]
    logits = out.logits[labels != -100]
    return entropies, logit_maxima, float(logits.abs().max()), float(logits.std())


def test_layer_groups_and_due_steps(tmp_path):
    for variant in ("post-ln", "pre-ln", "modern"):
        for name, _ in tiny(variant).named_parameters():
            assert layer_group(name) == direct_group(name), name
    assert layer_group("bert.encoder.layer.11.output.dense.weight") == "layer.11"
    assert layer_group("roberta_prelayernorm.embeddings.word_embeddings.weight") == "embeddings"
    assert layer_group("cls.predictions.transform.dense.weight") == "head"
    assert layer_group("model.layers.3.attn.Wqkv.weight") == "layer.3"
    assert layer_group("model.embeddings.tok_embeddings.weight") == "embeddings"
    assert layer_group("head.dense.weight") == layer_group("decoder.bias") == "head"
    model = tiny("post-ln")
    encoder, head = mlm_parts(model)
    probe = Probe(model, encoder, head, *probe_batch(), tmp_path / DIAGNOSTICS, every=4)
    assert [step for step in range(1, 13) if probe.due(step)] == [1, 4, 8, 12]
    probe.close()
    assert read_diagnostics(tmp_path / "nowhere") == []
