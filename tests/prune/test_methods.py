import pytest

from macedonizer.errors import MacedonizerError
from macedonizer.prune import kept_layers, parse_method


@pytest.mark.parametrize("spec, layers, kept", [
    ("drop:top:1", 4, [0, 1, 2]), ("drop:top:3", 4, [0]), ("drop:bottom:2", 4, [2, 3]),
    ("drop:alternate:1", 4, [0, 1, 2]), ("drop:alternate:2", 4, [0, 2]), ("drop:alternate:4", 12, [0, 1, 2, 3, 4, 6, 8, 10]),
    ("drop:symmetric:1", 4, [0, 2, 3]), ("drop:symmetric:2", 4, [0, 3]), ("drop:symmetric:4", 12, [0, 1, 2, 3, 8, 9, 10, 11]),
])
def test_which_layers_each_strategy_keeps(spec, layers, kept):
    method = parse_method(spec, layers)
    assert kept_layers(method.strategy, method.count, layers) == kept
    assert str(method) == spec


@pytest.mark.parametrize("spec, message", [
    ("drop:top:4", "drop:top:4 does not fit a 4-layer model: K must be between 1 and 3."),
    ("drop:bottom:0", "K must be between 1 and 3"),
    ("drop:alternate:3", "K must be between 1 and 2"),
    ("drop:middle:1", "Unknown pruning method 'drop:middle:1'"),
    ("drop:top:two", "Unknown pruning method"),
    ("sparsity:1.5", "the sparsity must be a number between 0 and 1"),
    ("sparsity:0:global", "between 0 and 1"),
    ("sparsity:0.5:row", "Unknown pruning method"),
    ("quantize:8", "Unknown pruning method"),
])
def test_bad_methods_are_one_clear_sentence(spec, message):
    with pytest.raises(MacedonizerError, match=message):
        parse_method(spec, layers=4)


def test_sparsity_parses_with_a_default_scope():
    assert str(parse_method("sparsity:0.5")) == "sparsity:0.5:global"
    assert str(parse_method(" Sparsity:0.25:LAYER ")) == "sparsity:0.25:layer"
