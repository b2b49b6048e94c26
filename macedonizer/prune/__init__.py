"""Smaller models from a trained one: layer dropping and magnitude pruning.

Two cheap ways to derive more family members from a good model, and to show
how much of a model its accuracy needs:

- **Layer dropping** (Sajjad et al., "Poor Man's BERT"): remove K encoder
  layers — the ``top`` ones, the ``bottom`` ones, every other one from the
  top (``alternate``) or the middle ones (``symmetric``) — and renumber the
  rest, giving a standard, shallower ``BertForMaskedLM``.
- **Magnitude pruning** (the lottery-ticket line, Chen et al. 2020): set the
  smallest-magnitude entries of the encoder's weight matrices to exactly
  zero — the attention query, key, value and output matrices and both
  feed-forward matrices of every layer; embeddings, LayerNorm, biases and the
  prediction head stay dense. ``global`` ranks all those entries together,
  ``layer`` prunes every matrix to the same sparsity on its own.

Either can be followed by a few steps of masked-LM training (``recover``)
through ``pretrain.run`` itself, starting from the pruned weights with the
zeros held in place. ``derive`` writes one pruned model (a standard folder
with ``eval.json``, ``prune.json`` and a card); ``report`` measures every
strategy and sparsity on a held-out text.

The modules, one idea each:

* ``methods``: ``Method``, the ``drop:STRATEGY:K`` / ``sparsity:S[:SCOPE]``
  syntax (``parse_method``) and which layers a drop keeps. Torch-free.
* ``operations``: dropping layers, magnitude pruning, measuring sparsity.
* ``derived``: ``derive`` (one pruned model, with recovery) and ``summary``.
* ``reporting``: ``report`` and ``format_report`` (every strategy and sparsity).

The names of ``methods`` are imported here; the others on first use, through
the module ``__getattr__`` below: their modules load torch and transformers
(3.6 s more than this package, measured on two cores), which the build
config, checking methods with ``parse_method``, and ``macedonizer --help``
do not need.
"""

from __future__ import annotations

import importlib

from .methods import (DEFAULT_SPARSITIES, MANIFEST, PRUNED_WEIGHTS, REPORT_JSON, REPORT_PNG, SCOPES, STRATEGIES,
                      Method, drop_counts, kept_layers, parse_method)

_LOADED_ON_USE = {
    "encoder_matrices": "operations", "drop_layers": "operations", "magnitude_prune": "operations",
    "apply_method": "operations", "sparsity_of": "operations",
    "derive": "derived", "summary": "derived",
    "report": "reporting", "format_report": "reporting",
}

__all__ = ["DEFAULT_SPARSITIES", "MANIFEST", "PRUNED_WEIGHTS", "REPORT_JSON", "REPORT_PNG", "SCOPES", "STRATEGIES",
           "Method", "drop_counts", "kept_layers", "parse_method", *_LOADED_ON_USE]


def __getattr__(name: str):
    if name in _LOADED_ON_USE:
        return getattr(importlib.import_module(f".{_LOADED_ON_USE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
