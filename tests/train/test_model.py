from transformers import BertForMaskedLM

from macedonizer.configs import SIZES, ModelSize
from macedonizer.train.model import bert_config


def test_size_registry_matches_transformers():
    assert [(s.layers, s.hidden, s.heads, s.intermediate) for s in SIZES.values()] == [
        (2, 128, 2, 512), (4, 256, 4, 1024), (4, 512, 8, 2048), (8, 512, 8, 2048), (12, 768, 12, 3072),
        (24, 1024, 16, 4096)]
    for size in (SIZES["tiny"], ModelSize(3, 96)):
        model = BertForMaskedLM(bert_config(size, 1000))
        assert size.parameters(1000) == sum(p.numel() for p in model.parameters())
