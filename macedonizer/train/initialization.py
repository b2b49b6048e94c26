"""How a fresh model starts: the initialisation that lets a small BERT leave the masked-LM plateau.

A BERT initialised the usual way (every weight drawn with std 0.02) first
learns word frequencies and then sits on that plateau for a long time: its
attention is uniform, and nothing tells it that the neighbours of a masked
word are the best clue (measured in docs/recipes.md: tiny stayed at the
unigram loss for 49M tokens). ``local`` initialisation starts it where that
lesson has been learned, without changing the architecture, so the result is
a plain ``BertForMaskedLM`` (or pre-LN RoBERTa, or ModernBERT) that loads anywhere:

* weights are drawn with std ``1/√hidden`` instead of 0.02 (the scale at
  which signals neither vanish nor blow up through a layer);
* the embedding space is split in two: word embeddings start in the first
  half, position embeddings are sinusoids in the second half;
* in the first layer every attention head, in later layers half of them,
  start as *positional* heads: their query and key read only the position
  half, the query rotated so that position ``i`` matches ``i + offset``
  (offsets −1, +1, −2, +2, …), so each of these heads starts by gathering
  its neighbour's word, the evidence an n-gram model uses.

ModernBERT (``modern``) has no position embeddings and no biases: its
positions are rotary, applied to every query and key. The same start is made
there with what it has (``rotary_local_init``): the second half of every
word embedding is one shared, constant vector (a bias the layers can read),
and the positional heads' query and key read only that constant, the key
turned by the rotary angle of its offset, so that the rotation of
positions ``i`` and ``i + offset`` aligns them.

Training is free to change all of it; it only decides where training starts.
"""

from __future__ import annotations

import math

import torch

OFFSETS = (-1, 1, -2, 2, -3, 3, -4, 4)
SHARPNESS = 4.0
"""Scale of the positional heads' queries: at 4, a head puts about half its attention on its neighbour."""
ROTARY_SHARPNESS = 2.5
"""Length of each rotary pair of a ModernBERT positional head's query and key: at 2.5, a head 64 wide puts
about half its attention on its neighbour."""


def default_std(init: str, hidden: int) -> float:
    """The weight std of ``init`` for a model of width ``hidden``."""
    return 1 / math.sqrt(hidden) if init == "local" else 0.02


def sinusoids(positions: int, dims: int) -> torch.Tensor:
    """Interleaved (sin, cos) pairs of ``dims // 2`` geometric frequencies, highest first."""
    pairs = dims // 2
    frequencies = 1.0 / (10000 ** (torch.arange(pairs, dtype=torch.float64) / max(1, pairs)))
    angles = torch.arange(positions, dtype=torch.float64)[:, None] * frequencies
    table = torch.zeros(positions, 2 * pairs, dtype=torch.float64)
    table[:, 0::2], table[:, 1::2] = torch.sin(angles), torch.cos(angles)
    return table


@torch.no_grad()
def local_init(model, sharpness: float = SHARPNESS) -> None:
    """Rewrite a freshly initialised masked-LM in place (see the module docstring)."""
    if model.config.model_type == "modernbert":
        rotary_local_init(model)
        return
    embeddings, layers = model.base_model.embeddings, model.base_model.encoder.layer
    std = model.config.initializer_range
    hidden = embeddings.word_embeddings.weight.shape[1]
    half = hidden // 2
    embeddings.word_embeddings.weight[:, half:] = 0
    embeddings.token_type_embeddings.weight.zero_()
    table = sinusoids(embeddings.position_embeddings.weight.shape[0], hidden - half)
    positions = torch.zeros_like(embeddings.position_embeddings.weight)
    positions[:, half:half + table.shape[1]] = (table * std * math.sqrt(2)).to(positions.dtype)
    embeddings.position_embeddings.weight.copy_(positions)
    heads = model.config.num_attention_heads
    head_dim = hidden // heads
    pairs = min(head_dim, hidden - half) // 2
    frequencies = 1.0 / (10000 ** (torch.arange(pairs, dtype=torch.float64) / max(1, (hidden - half) // 2)))
    for index, layer in enumerate(layers):
        attention = layer.attention.self
        positional = heads if index == 0 else max(1, heads // 2)
        for head in range(positional):
            _positional_head(attention.query, attention.key, head * head_dim, head_dim, half, frequencies,
                             OFFSETS[head % len(OFFSETS)], sharpness)


def _positional_head(query, key, row: int, head_dim: int, column: int, frequencies: torch.Tensor, offset: int,
                     sharpness: float) -> None:
    """Make one head's query at position i match the key at i + ``offset`` through the sinusoids.

    Only the head's first ``2 · len(frequencies)`` dimensions are rewritten; any others (a head wider than
    the position half) keep their random init, so no dimension starts with zero query and key (it would
    get no gradient and stay dead).
    """
    used = slice(row, row + min(head_dim, 2 * len(frequencies)))
    for linear in (query, key):
        linear.weight[used] = 0
        if linear.bias is not None:
            linear.bias[used] = 0
    for f, frequency in enumerate(frequencies.tolist()):
        r, c = row + 2 * f, column + 2 * f  # (sin, cos) of frequency f
        key.weight[r, c] = key.weight[r + 1, c + 1] = 1.0
        # sin(a + b) = sin a cos b + cos a sin b; cos(a + b) = cos a cos b − sin a sin b, with b = offset · ω.
        cos, sin = math.cos(frequency * offset), math.sin(frequency * offset)
        query.weight[r, c], query.weight[r, c + 1] = sharpness * cos, sharpness * sin
        query.weight[r + 1, c], query.weight[r + 1, c + 1] = -sharpness * sin, sharpness * cos


@torch.no_grad()
def rotary_local_init(model, sharpness: float = ROTARY_SHARPNESS) -> None:
    """``local_init`` of a ModernBERT: a constant half in every word embedding, positional heads through it."""
    words = model.base_model.embeddings.tok_embeddings.weight
    hidden = words.shape[1]
    half = hidden // 2
    constant = torch.ones(hidden - half, dtype=torch.float64)
    constant[1::2] = -1  # zero mean: the embedding LayerNorm subtracts the mean, and would erase a uniform one
    words[:, half:] = (constant * float(words[:, :half].std())).to(words.dtype)
    direction = torch.zeros(hidden, dtype=torch.float64)
    direction[half:] = constant / constant.norm()
    # After the embedding LayerNorm (both halves at the same scale), an input's length along the constant.
    reach = math.sqrt(hidden - half)
    config, layers = model.config, model.base_model.layers
    heads = config.num_attention_heads
    head_dim = hidden // heads
    for index, layer in enumerate(layers):
        qkv = layer.attn.Wqkv.weight.view(3, heads, head_dim, hidden)  # rows: query, key, value; head; width
        theta = config.rope_parameters[layer.attention_type]["rope_theta"]
        frequencies = theta ** (-2 * torch.arange(head_dim // 2, dtype=torch.float64) / head_dim)
        for head in range(heads if index == 0 else max(1, heads // 2)):
            query, key = _rotary_pair(frequencies, OFFSETS[head % len(OFFSETS)])
            for row, vector in ((0, query), (1, key)):
                qkv[row, head] = (sharpness / reach * torch.outer(vector, direction)).to(qkv.dtype)


def _rotary_pair(frequencies: torch.Tensor, offset: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit query and key pairs (ModernBERT's rotary layout: pair f is dimensions f and f + width/2) whose
    product after rotating to positions i and j is Σ cos((j − i − offset)·ω_f): largest at j = i + offset."""
    pairs = len(frequencies)
    query, key = torch.zeros(2 * pairs, dtype=torch.float64), torch.zeros(2 * pairs, dtype=torch.float64)
    query[:pairs] = 1.0
    key[:pairs], key[pairs:] = torch.cos(offset * frequencies), -torch.sin(offset * frequencies)
    return query, key
