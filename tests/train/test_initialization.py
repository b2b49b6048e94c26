import math

import pytest
import torch

from macedonizer.configs import ModelSize, TrainConfig
from macedonizer.train.initialization import sinusoids
from macedonizer.train.model import build_model

VOCAB = {f"t{i}": i for i in range(200)} | {"[PAD]": 200, "[CLS]": 201, "[SEP]": 202, "[MASK]": 203}


def attention(model, length=64):
    model.config._attn_implementation = "eager"
    for module in model.modules():
        if hasattr(module, "config"):
            module.config._attn_implementation = "eager"
    ids = torch.randint(0, 200, (4, length), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return model.base_model(input_ids=ids, output_attentions=True).attentions


@pytest.mark.parametrize("variant", ["post-ln", "pre-ln", "modern"])
def test_local_init_starts_heads_on_their_neighbours(variant):
    model = build_model(ModelSize(2, 128), VOCAB, TrainConfig(variant=variant, dropout=0.0)).eval()
    first = attention(model)[0].mean(0)  # heads × L × L, averaged over the batch
    i = torch.arange(8, 56)
    assert first[0, i, i - 1].mean() > 0.3  # head 0 looks one to the left
    assert first[1, i, i + 1].mean() > 0.3  # head 1 one to the right
    assert model.config.initializer_range == pytest.approx(1 / math.sqrt(128))
    plain = build_model(ModelSize(2, 128), VOCAB, TrainConfig(variant=variant, init="bert", dropout=0.0)).eval()
    uniform = attention(plain)[0].mean(0)
    assert uniform[:, i, i - 1].max() < 0.05 and plain.config.initializer_range == 0.02


def test_local_init_keeps_words_and_positions_apart():
    model = build_model(ModelSize(4, 256), VOCAB, TrainConfig())
    embeddings = model.base_model.embeddings
    assert embeddings.word_embeddings.weight[:, 128:].abs().max() == 0
    assert embeddings.position_embeddings.weight[:, :128].abs().max() == 0
    assert float(embeddings.word_embeddings.weight[:, :128].detach().std()) == pytest.approx(1 / 16, rel=0.05)
    table = sinusoids(16, 8)
    assert table[3, 0] == pytest.approx(math.sin(3)) and table[3, 1] == pytest.approx(math.cos(3))


def test_no_query_or_key_dimension_starts_dead():
    """A head wider than the position half keeps its other dimensions random: all-zero query and key rows
    would get no gradient and stay zero for ever."""
    for size in (ModelSize(2, 64), ModelSize(2, 128), ModelSize(4, 256)):
        model = build_model(size, VOCAB, TrainConfig())
        for layer in model.base_model.encoder.layer:
            attention = layer.attention.self
            dead = (attention.query.weight.abs().sum(1) == 0) & (attention.key.weight.abs().sum(1) == 0)
            assert not dead.any(), size


def test_modern_local_init_gives_every_word_the_same_second_half():
    """ModernBERT has no position embeddings: the positional heads read a constant half of every word."""
    model = build_model(ModelSize(2, 128), VOCAB, TrainConfig(variant="modern"))
    words = model.base_model.embeddings.tok_embeddings.weight.detach()
    assert torch.equal(words[:, 64:], words[:1, 64:].expand(len(words), -1))
    assert float(words[0, 64:].mean()) == pytest.approx(0.0, abs=1e-7) and float(words[:, :64].std()) > 0.05
    for layer in model.base_model.layers:  # no query and key dimension starts dead
        query, key = layer.attn.Wqkv.weight[:128], layer.attn.Wqkv.weight[128:256]
        assert not ((query.abs().sum(1) == 0) & (key.abs().sum(1) == 0)).any()
