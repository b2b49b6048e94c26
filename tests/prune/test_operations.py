import torch

from macedonizer.prune import apply_method, encoder_matrices, parse_method
from tests.prune.conftest import load


def test_magnitude_pruning_arithmetic_in_both_scopes(parent):
    original = load(parent[0])
    prunable = encoder_matrices(original)
    assert len(prunable) == 4 * 6  # q, k, v, attention output, FFN in and out, per layer
    total = sum(p.numel() for p in prunable.values())
    for scope in ("layer", "global"):
        child, masks = apply_method(original, parse_method(f"sparsity:0.6:{scope}"))
        matrices = encoder_matrices(child)
        zeros = {name: int((p == 0).sum()) for name, p in matrices.items()}
        assert all(torch.equal(masks[name], matrices[name] != 0) for name in matrices)
        if scope == "layer":
            assert all(zeros[n] == round(0.6 * p.numel()) for n, p in matrices.items())
        else:
            assert sum(zeros.values()) == round(0.6 * total)
            assert len({zeros[n] / p.numel() for n, p in matrices.items()}) > 1  # ranked together, not per matrix
            pruned = torch.cat([prunable[n][~masks[n]].abs() for n in masks])
            kept = torch.cat([prunable[n][masks[n]].abs() for n in masks])
            assert pruned.max() <= kept.min()  # the smallest magnitudes went
        # Embeddings, LayerNorm, biases and the head are untouched, and so is the parent.
        for name, value in child.state_dict().items():
            if name not in matrices:
                assert torch.equal(value, original.state_dict()[name]), name
    assert all(int((p == 0).sum()) == 0 for p in encoder_matrices(original).values())
