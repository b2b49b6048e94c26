"""The operations on a masked-LM: drop encoder layers, zero the smallest weights, measure the zeros."""

from __future__ import annotations

import copy
import re

from torch.nn.utils import prune

from ..train.model import layer_prefix
from .methods import PRUNED_WEIGHTS, Method, kept_layers


def encoder_matrices(model) -> dict:
    """The prunable weights: every 2-D weight inside the encoder layers, by parameter name."""
    prefix = layer_prefix(model)
    return {name: param for name, param in model.named_parameters()
            if name.startswith(prefix) and name.endswith(".weight") and param.ndim == 2}


def drop_layers(model, kept: list[int]):
    """A new masked-LM with only the ``kept`` encoder layers of ``model``, renumbered 0, 1, …; weights copied."""
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = len(kept)
    if getattr(config, "layer_types", None):  # ModernBERT: each layer's attention type
        config.layer_types = [config.layer_types[i] for i in kept]
    child = type(model)(config)
    prefix = layer_prefix(model)
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.(.*)")
    state = {}
    for key, value in model.state_dict().items():
        match = pattern.fullmatch(key)
        if match:
            if int(match.group(1)) not in kept:
                continue
            key = f"{prefix}{kept.index(int(match.group(1)))}.{match.group(2)}"
        state[key] = value.clone()
    _fold_first_norm(state, prefix, child)
    child.load_state_dict(state)
    return child


def _fold_first_norm(state: dict, prefix: str, child) -> None:
    """ModernBERT's first layer has no attention LayerNorm (it reads the normalised embeddings): a layer that
    becomes the first keeps its norm's gain, folded into its query/key/value matrix."""
    norm = f"{prefix}0.attn_norm.weight"
    if norm in state and norm not in child.state_dict():
        state[f"{prefix}0.attn.Wqkv.weight"] = state[f"{prefix}0.attn.Wqkv.weight"] * state.pop(norm)


def magnitude_prune(model, sparsity: float, scope: str) -> dict:
    """Zero the smallest encoder weights of ``model`` in place; return the keep-masks (bool) by parameter name."""
    names = list(encoder_matrices(model))
    targets = [(model.get_submodule(name.rsplit(".", 1)[0]), "weight") for name in names]
    if scope == "global":
        prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=sparsity)
    else:
        for module, attribute in targets:
            prune.l1_unstructured(module, attribute, amount=sparsity)
    masks = {}
    for name, (module, attribute) in zip(names, targets):
        masks[name] = module.weight_mask.bool()
        prune.remove(module, attribute)  # makes the zeros permanent: a plain weight again
    return masks


def apply_method(model, method: Method) -> tuple:
    """``(derived model, keep-masks or None)``; ``model`` itself is left untouched."""
    layers = model.config.num_hidden_layers
    if method.kind == "drop":
        return drop_layers(model, kept_layers(method.strategy, method.count, layers)), None
    child = copy.deepcopy(model)
    return child, magnitude_prune(child, method.sparsity, method.scope)


def sparsity_of(model) -> dict:
    """Exact zeros among the prunable weights, overall and per matrix."""
    matrices = encoder_matrices(model)
    zeros = {name: int((param == 0).sum()) for name, param in matrices.items()}
    total = sum(param.numel() for param in matrices.values())
    return {"achieved": round(sum(zeros.values()) / total, 6), "zero_weights": sum(zeros.values()),
            "prunable_weights": total, "pruned": PRUNED_WEIGHTS,
            "per_matrix": {name: round(zeros[name] / param.numel(), 4) for name, param in matrices.items()}}


def parameter_count(model) -> int:
    """Parameters of ``model``, tied embeddings counted once."""
    return sum(param.numel() for param in model.parameters())
