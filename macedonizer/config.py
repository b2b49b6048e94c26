"""Named model sizes, in the style of Google's BERT miniatures.

``ModelSize.from_name("mini")`` gives a shape; custom shapes are a
``ModelSize(layers=…, hidden=…)`` (heads default to hidden/64, the
intermediate size to 4·hidden).
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_POSITIONS = 512
PRECISIONS = ("auto", "bf16", "fp32")
"""Training precision: auto (bf16 autocast where the device computes bf16 natively), bf16 or fp32."""
INITS = ("local", "bert")
"""How a fresh model starts (``macedonizer.initialization``)."""


@dataclass(frozen=True)
class ModelSize:
    """The shape of one BERT."""

    layers: int
    """Transformer layers (L)."""
    hidden: int
    """Hidden size (H)."""
    heads: int = 0
    """Attention heads; 0 means H/64."""
    intermediate: int = 0
    """Feed-forward size; 0 means 4H."""
    name: str = "custom"

    def __post_init__(self):
        if self.heads == 0:
            object.__setattr__(self, "heads", max(1, self.hidden // 64))
        if self.intermediate == 0:
            object.__setattr__(self, "intermediate", 4 * self.hidden)
        if self.layers < 1 or self.hidden < 1 or self.hidden % self.heads:
            raise ValueError(f"invalid shape: L{self.layers}/H{self.hidden} with {self.heads} heads")

    @classmethod
    def from_name(cls, name: str) -> ModelSize:
        try:
            return SIZES[name]
        except KeyError:
            raise KeyError(f"unknown size {name!r} (known: {', '.join(SIZES)})") from None

    def bert_config(self, vocab_size: int, **overrides):
        """A transformers ``BertConfig`` of this shape."""
        from transformers import BertConfig

        return BertConfig(**self._shape(vocab_size), max_position_embeddings=MAX_POSITIONS, **overrides)

    def pre_ln_config(self, vocab_size: int, pad_token_id: int, **overrides):
        """A transformers ``RobertaPreLayerNormConfig`` of this shape: the pre-LayerNorm variant.

        RoBERTa numbers positions from ``pad_token_id + 1``, so the position
        table is that much longer than ``MAX_POSITIONS``.
        """
        from transformers import RobertaPreLayerNormConfig

        return RobertaPreLayerNormConfig(**self._shape(vocab_size),
                                         max_position_embeddings=MAX_POSITIONS + pad_token_id + 1,
                                         type_vocab_size=2, pad_token_id=pad_token_id, **overrides)

    def _shape(self, vocab_size: int) -> dict:
        """The transformers config fields that say this shape."""
        return {"vocab_size": vocab_size, "hidden_size": self.hidden, "num_hidden_layers": self.layers,
                "num_attention_heads": self.heads, "intermediate_size": self.intermediate}

    def parameters(self, vocab_size: int) -> int:
        """Parameters of ``BertForMaskedLM`` of this shape (tied output embeddings)."""
        h, i, layers = self.hidden, self.intermediate, self.layers
        embeddings = (vocab_size + MAX_POSITIONS + 2) * h + 2 * h
        per_layer = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h
        head = h * h + h + 2 * h + vocab_size  # transform, LayerNorm, output bias
        return embeddings + layers * per_layer + head

    def non_embedding_parameters(self) -> int:
        """Parameters in the transformer layers: what the FLOPs of a token scale with."""
        h, i = self.hidden, self.intermediate
        return self.layers * (4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h)


SIZES = {
    name: ModelSize(layers, hidden, name=name)
    for name, layers, hidden in [
        ("tiny", 2, 128),
        ("mini", 4, 256),
        ("small", 4, 512),
        ("medium", 8, 512),
        ("base", 12, 768),
        ("large", 24, 1024),
    ]
}


@dataclass(frozen=True)
class Recipe:
    """The training settings a size starts from, where a config or the command line does not say otherwise.

    Measured for tiny and mini on Macedonian Wikipedia (docs/recipes.md has the runs and the commands that
    reproduce them); the larger sizes follow the usual rule that wider models train at lower learning rates.
    """

    lr: float
    batch_size: int
    warmup: float
    dropout: float
    variant: str
    """``post-ln`` (BERT) or ``pre-ln``: from 4 layers on, post-LN stayed on the plateau where pre-LN left it."""


RECIPES = {
    "tiny": Recipe(lr=3e-3, batch_size=32, warmup=0.05, dropout=0.0, variant="post-ln"),
    "mini": Recipe(lr=2e-3, batch_size=32, warmup=0.05, dropout=0.0, variant="pre-ln"),
    "small": Recipe(lr=1e-3, batch_size=64, warmup=0.05, dropout=0.1, variant="pre-ln"),
    "medium": Recipe(lr=7e-4, batch_size=128, warmup=0.05, dropout=0.1, variant="pre-ln"),
    "base": Recipe(lr=4e-4, batch_size=256, warmup=0.06, dropout=0.1, variant="pre-ln"),
    "large": Recipe(lr=2e-4, batch_size=256, warmup=0.06, dropout=0.1, variant="pre-ln"),
}


def recipe_for(size: str) -> Recipe:
    """The recipe of a named size, or of the named size nearest in width for a shape such as ``L6/H384``."""
    if size in RECIPES:
        return RECIPES[size]
    hidden = int(size.rsplit("H", 1)[-1]) if "H" in size and size.rsplit("H", 1)[-1].isdigit() else SIZES["tiny"].hidden
    nearest = min(RECIPES, key=lambda name: (abs(SIZES[name].hidden - hidden), SIZES[name].layers))
    return RECIPES[nearest]
