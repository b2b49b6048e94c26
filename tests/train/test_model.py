import pytest
import torch
from transformers import BertForMaskedLM

from macedonizer.configs import SIZES, ModelSize, TrainConfig, resolve_size
from macedonizer.train.loop import flops_per_token
from macedonizer.train.model import SparseMLM, bert_config, build_model, non_embedding_parameters


def test_size_registry_matches_transformers():
    assert [(s.layers, s.hidden, s.heads, s.intermediate) for s in SIZES.values()] == [
        (2, 128, 2, 512), (4, 256, 4, 1024), (4, 512, 8, 2048), (8, 512, 8, 2048), (12, 768, 12, 3072),
        (24, 1024, 16, 4096)]
    for size in (SIZES["tiny"], ModelSize(3, 96)):
        model = BertForMaskedLM(bert_config(size, 1000))
        assert size.parameters(1000) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("variant", ["post-ln", "pre-ln", "modern"])
def test_the_sparse_head_scores_as_the_full_masked_lm(variant):
    """The head on the masked positions alone gives the loss transformers computes from every position's logits."""
    vocab = {f"t{i}": i for i in range(96)} | {"[PAD]": 96, "[CLS]": 97, "[SEP]": 98, "[MASK]": 99}
    model = build_model(ModelSize(2, 64), vocab, TrainConfig(variant=variant)).eval()
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 96, (3, 16), generator=generator)
    attention_mask = torch.ones_like(ids)
    ids[2, 12:], attention_mask[2, 12:] = 96, 0  # a padded row
    labels = torch.where(torch.rand(ids.shape, generator=generator) < 0.3, ids, torch.full_like(ids, -100))
    labels[2, 12:] = -100
    with torch.no_grad():
        loss, correct, masked = SparseMLM(model)(ids, attention_mask, labels)
        full = model(input_ids=ids, attention_mask=attention_mask, labels=labels)
    selected = labels != -100
    assert masked == int(selected.sum()) > 5
    assert float(loss) == pytest.approx(float(full.loss), abs=1e-6)
    assert int(correct) == int((full.logits[selected].argmax(-1) == labels[selected]).sum())


def test_non_embedding_parameters_are_bert_s_formula_for_bert_and_counted_for_modern():
    vocab = {f"t{i}": i for i in range(60)} | {"[PAD]": 60, "[CLS]": 61, "[SEP]": 62, "[MASK]": 63}
    size = resolve_size("L2/H64")
    for variant in ("post-ln", "pre-ln"):
        assert non_embedding_parameters(build_model(size, vocab, TrainConfig(variant=variant))) == \
            size.non_embedding_parameters()
    modern = build_model(size, vocab, TrainConfig(variant="modern"))
    assert non_embedding_parameters(modern) == sum(p.numel() for p in modern.model.layers.parameters())
    assert flops_per_token(size, 32, non_embedding_parameters(modern)) > flops_per_token(size, 32)
