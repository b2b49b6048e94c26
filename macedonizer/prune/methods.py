"""What a pruning method is: ``Method``, its spec syntax, and which layers a layer drop keeps. Torch-free."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import MacedonizerError

STRATEGIES = ("top", "bottom", "alternate", "symmetric")
SCOPES = ("global", "layer")
DEFAULT_SPARSITIES = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MANIFEST = "prune.json"
REPORT_JSON = "prune_report.json"
REPORT_PNG = "prune_report.png"
PRUNED_WEIGHTS = ("the attention query, key, value and output matrices and both feed-forward matrices of every "
                  "encoder layer; embeddings, LayerNorm, biases and the prediction head stay dense")
_SYNTAX = "use drop:STRATEGY:K (STRATEGY top, bottom, alternate or symmetric) or sparsity:S[:global|layer]"


@dataclass(frozen=True)
class Method:
    """One way to derive a smaller model; ``str()`` gives its canonical spec."""

    kind: str
    """``drop`` (remove layers) or ``sparsity`` (magnitude pruning)."""
    strategy: str = ""
    """drop: which layers go — top, bottom, alternate or symmetric."""
    count: int = 0
    """drop: how many layers go."""
    sparsity: float = 0.0
    """sparsity: the share of prunable weights set to zero, in (0, 1)."""
    scope: str = "global"
    """sparsity: rank weights over the whole encoder (global) or within each matrix (layer)."""

    def __str__(self) -> str:
        if self.kind == "drop":
            return f"drop:{self.strategy}:{self.count}"
        return f"sparsity:{self.sparsity:g}:{self.scope}"

    def describe(self, layers: int) -> str:
        """What was done, in words, for a model of ``layers`` layers."""
        if self.kind == "sparsity":
            ranked = "over the whole encoder" if self.scope == "global" else "within each matrix"
            return (f"magnitude pruning to {100 * self.sparsity:.4g}% sparsity, the smallest weights ranked "
                    f"{ranked} ({PRUNED_WEIGHTS})")
        where = {"top": f"the top {self.count}", "bottom": f"the bottom {self.count}",
                 "alternate": f"{self.count}, every other one from the top,",
                 "symmetric": f"the middle {self.count}"}[self.strategy]
        kept = ", ".join(str(i) for i in kept_layers(self.strategy, self.count, layers))
        return f"dropping {where} of its {layers} layers (parent layers {kept} kept, in order)"


def parse_method(spec: str, layers: int | None = None) -> Method:
    """Parse ``drop:top:2`` or ``sparsity:0.5[:global|layer]``; with ``layers``, also check it fits the model."""
    parts = spec.strip().lower().split(":")
    if parts[0] == "drop" and len(parts) == 3 and parts[1] in STRATEGIES and re.fullmatch(r"\d+", parts[2]):
        method = Method("drop", strategy=parts[1], count=int(parts[2]))
        if layers is not None:
            kept_layers(method.strategy, method.count, layers)
        return method
    if parts[0] == "sparsity" and len(parts) in (2, 3) and (len(parts) == 2 or parts[2] in SCOPES):
        try:
            sparsity = float(parts[1])
        except ValueError:
            sparsity = -1.0
        if not 0 < sparsity < 1:
            raise MacedonizerError(f"Bad pruning method {spec!r}: the sparsity must be a number between 0 and 1.")
        return Method("sparsity", sparsity=sparsity, scope=parts[2] if len(parts) == 3 else "global")
    raise MacedonizerError(f"Unknown pruning method {spec!r}: {_SYNTAX}.")


def drop_counts(strategy: str, layers: int) -> range:
    """How many layers ``strategy`` can drop from a model of ``layers`` layers (at least one layer stays)."""
    if strategy == "alternate":  # layers L-1, L-3, … : there are only ceil(L/2) of them
        return range(1, min(layers - 1, (layers + 1) // 2) + 1)
    return range(1, layers)


def kept_layers(strategy: str, count: int, layers: int) -> list[int]:
    """The indices of the parent's layers that stay, in order."""
    allowed = drop_counts(strategy, layers)
    if count not in allowed:
        limit = f"between 1 and {allowed[-1]}" if allowed else "impossible (the model has one layer)"
        raise MacedonizerError(f"drop:{strategy}:{count} does not fit a {layers}-layer model: K must be {limit}.")
    dropped = {
        "top": range(layers - count, layers),
        "bottom": range(count),
        "alternate": range(layers - 1, -1, -2)[:count],
        "symmetric": range((layers - count) // 2, (layers - count) // 2 + count),  # odd rest: one more on top
    }[strategy]
    return [i for i in range(layers) if i not in dropped]
