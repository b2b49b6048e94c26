"""Pruning a ModernBERT: its layers live at ``model.layers.N``, and its first layer has no attention LayerNorm."""

import json

import torch
from transformers import AutoModelForMaskedLM, ModernBertForMaskedLM

from macedonizer.configs import ModelSize, TrainConfig
from macedonizer.prune import apply_method, derive, drop_layers, encoder_matrices, parse_method
from macedonizer.train.model import build_model
from tests.train.conftest import train_modern

VOCAB = {f"t{i}": i for i in range(60)} | {"[PAD]": 60, "[CLS]": 61, "[SEP]": 62, "[MASK]": 63}
IDS = torch.randint(0, 60, (2, 10), generator=torch.Generator().manual_seed(0))


def modern(layers: int = 3) -> ModernBertForMaskedLM:
    model = build_model(ModelSize(layers, 64), VOCAB, TrainConfig(variant="modern")).eval()
    with torch.no_grad():
        for layer in model.model.layers[1:]:  # a trained model's norms are not all ones
            layer.attn_norm.weight.uniform_(0.5, 1.5)
    return model


def state(layer) -> dict:
    return {name: value.clone() for name, value in layer.state_dict().items()}


def test_dropping_the_top_layers_of_a_modern_model_computes_what_its_bottom_layers_did(tmp_path):
    model = modern()
    child = drop_layers(model, [0, 1])
    assert child.config.num_hidden_layers == 2 and child.config.layer_types == ["full_attention"] * 2
    model.model.layers = model.model.layers[:2]  # the parent without its top layer
    with torch.no_grad():
        assert torch.allclose(child(input_ids=IDS).logits, model(input_ids=IDS).logits, atol=1e-6)
    child.save_pretrained(tmp_path / "child")
    assert AutoModelForMaskedLM.from_pretrained(tmp_path / "child").config.layer_types == ["full_attention"] * 2


def test_a_layer_that_becomes_the_first_keeps_its_norm_folded_into_its_attention():
    model = modern()
    child = drop_layers(model, [1, 2])
    old, new = model.model.layers, child.model.layers
    assert isinstance(new[0].attn_norm, torch.nn.Identity)  # ModernBERT's first layer: no attention norm
    rest = {k: v for k, v in state(new[0]).items() if k != "attn.Wqkv.weight"}
    assert rest and all(torch.equal(v, state(old[1])[k]) for k, v in rest.items())
    assert all(torch.equal(v, state(old[2])[k]) for k, v in state(new[1]).items())
    normalised = torch.nn.functional.layer_norm(torch.randn(2, 10, 64), (64,))
    with torch.no_grad():  # on a normalised input its attention reads what the parent's layer read
        assert torch.allclose(new[0].attn.Wqkv(normalised), old[1].attn.Wqkv(old[1].attn_norm(normalised)),
                              atol=1e-4)


def test_magnitude_pruning_finds_the_modern_layers_matrices():
    model = modern(2)
    assert sorted(encoder_matrices(model)) == sorted(f"model.layers.{i}.{m}.weight" for i in range(2)
                                                     for m in ("attn.Wqkv", "attn.Wo", "mlp.Wi", "mlp.Wo"))
    child, masks = apply_method(model, parse_method("sparsity:0.5:layer"))
    assert all(int((p == 0).sum()) == p.numel() // 2 for p in encoder_matrices(child).values())
    assert set(masks) == set(encoder_matrices(model))


def test_derive_writes_a_smaller_modern_model_with_its_card(tok, tmp_path):
    parent = train_modern(tok, tmp_path / "models" / "modern")
    out = derive(parent, tmp_path / "models" / "modern-bottom-1", "drop:bottom:1", progress=False)
    child = AutoModelForMaskedLM.from_pretrained(out)
    assert isinstance(child, ModernBertForMaskedLM) and child.config.num_hidden_layers == 1
    assert json.loads((out / "prune.json").read_text())["layers_kept"] == [1]
    assert "ModernBERT (`ModernBertForMaskedLM`)" in (out / "README.md").read_text(encoding="utf-8")
