"""The model a run trains: a fresh or a saved masked-LM, the sparse masked-LM head, AdamW, compile and DDP.

``build_model`` gives transformers' ``BertForMaskedLM`` (post-LN),
``RobertaPreLayerNormForMaskedLM`` (pre-LN) or ``ModernBertForMaskedLM``
(modern) with SDPA attention, so checkpoints are standard. ``SparseMLM``
applies the prediction head only to the masked positions: for small models
the vocabulary projection of every position is most of the work, and 85% of
it is thrown away by the loss. ``mlm_parts`` and ``encoder_layers`` are the
one place that knows where each architecture keeps its encoder, head and
layers. ``build_optimizer`` is AdamW (fused on CUDA), µP-scaled where asked.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch._dynamo
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from transformers import (AutoConfig, AutoModelForMaskedLM, BertConfig, BertForMaskedLM, ModernBertConfig,
                          ModernBertForMaskedLM, RobertaPreLayerNormConfig, RobertaPreLayerNormForMaskedLM)

from ..configs import MAX_POSITIONS, ModelSize, TrainConfig
from ..diagnostics import layer_group
from ..errors import MacedonizerError
from .data import tokenizer_fingerprint
from .device import Dist
from .initialization import default_std, local_init

MUP_BASE_WIDTH = 128
"""The width whose learning rate ``lr_scaling="mup"`` keeps (tiny's): wider models scale it down."""
ROPE_THETA = 10_000.0
"""The rotary base of ``modern``: the original RoPE's, for our 512 positions (ModernBERT's 160,000 is for 8,192)."""


def _shape(size: ModelSize, vocab_size: int) -> dict:
    """The transformers config fields that say a shape."""
    return {"vocab_size": vocab_size, "hidden_size": size.hidden, "num_hidden_layers": size.layers,
            "num_attention_heads": size.heads, "intermediate_size": size.intermediate}


def bert_config(size: ModelSize, vocab_size: int, **overrides) -> BertConfig:
    """A transformers ``BertConfig`` of this shape."""
    return BertConfig(**_shape(size, vocab_size), max_position_embeddings=MAX_POSITIONS, **overrides)


def pre_ln_config(size: ModelSize, vocab_size: int, pad_token_id: int, **overrides) -> RobertaPreLayerNormConfig:
    """A ``RobertaPreLayerNormConfig`` of this shape: the pre-LayerNorm variant.

    RoBERTa numbers positions from ``pad_token_id + 1``, so the position
    table is that much longer than ``MAX_POSITIONS``.
    """
    return RobertaPreLayerNormConfig(**_shape(size, vocab_size), type_vocab_size=2, pad_token_id=pad_token_id,
                                     max_position_embeddings=MAX_POSITIONS + pad_token_id + 1, **overrides)


def modern_config(size: ModelSize, vocab_size: int, **overrides) -> ModernBertConfig:
    """A ``ModernBertConfig`` of this shape: global attention in every layer (no sliding windows at ≤ 512
    tokens), the original rotary base, the registry's feed-forward size for each half of the GLU."""
    return ModernBertConfig(**_shape(size, vocab_size), max_position_embeddings=MAX_POSITIONS,
                            layer_types=["full_attention"] * size.layers,
                            rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": ROPE_THETA}},
                            **overrides)


def dropout_fields(model_type: str, dropout: float) -> dict:
    """The config fields that hold the dropout of a ``bert``, ``roberta-prelayernorm`` or ``modernbert`` model."""
    if model_type == "modernbert":
        return {"embedding_dropout": dropout, "attention_dropout": dropout, "mlp_dropout": dropout}
    return {"hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout}


def build_model(size: ModelSize, vocab: dict[str, int], config: TrainConfig):
    """A freshly initialised masked-LM of ``config.variant``, loadable with ``AutoModelForMaskedLM``."""
    std = config.init_std or default_std(config.init, size.hidden)
    ids = {"pad_token_id": vocab["[PAD]"], "bos_token_id": vocab["[CLS]"], "eos_token_id": vocab["[SEP]"]}
    if config.variant == "modern":
        model_config = modern_config(size, len(vocab), **ids, cls_token_id=vocab["[CLS]"],
                                     sep_token_id=vocab["[SEP]"], initializer_range=std,
                                     **dropout_fields("modernbert", config.dropout))
        model_class = ModernBertForMaskedLM
    elif config.variant == "pre-ln":
        model_config = pre_ln_config(size, len(vocab), **ids, initializer_range=std,
                                     **dropout_fields("roberta-prelayernorm", config.dropout))
        model_class = RobertaPreLayerNormForMaskedLM
    else:
        model_config = bert_config(size, len(vocab), pad_token_id=vocab["[PAD]"], initializer_range=std,
                                   **dropout_fields("bert", config.dropout))
        model_class = BertForMaskedLM
    model_config._attn_implementation = "sdpa"
    model = model_class(model_config)
    if config.init == "local":
        local_init(model)
    return model


def initial_shape(init_from: str, tokenizer_dir: Path) -> ModelSize:
    """The shape of the saved model a run starts from, which must use the run's tokenizer."""
    folder = Path(init_from)
    try:
        saved = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        raise MacedonizerError(f"No model to start from at {folder} (expected config.json and weights).") from None
    if (tokenizer_dir / "tokenizer.json").is_file() and (
            not (folder / "tokenizer.json").is_file()
            or tokenizer_fingerprint(folder) != tokenizer_fingerprint(tokenizer_dir)):
        raise MacedonizerError(f"{folder} was not saved with the tokenizer {tokenizer_dir}; "
                               "start from a model of the same tokenizer.")
    return ModelSize(saved["num_hidden_layers"], saved["hidden_size"], saved["num_attention_heads"],
                     saved["intermediate_size"], name=folder.name)


def initial_model(config: TrainConfig):
    """The saved model at ``config.init_from``, with this run's dropout, in training mode."""
    model_type = AutoConfig.from_pretrained(config.init_from).model_type
    model = AutoModelForMaskedLM.from_pretrained(config.init_from, attn_implementation="sdpa",
                                                 **dropout_fields(model_type, config.dropout))
    return model.train()  # from_pretrained returns it in eval mode, which would switch dropout off


def non_embedding_parameters(model) -> int:
    """Parameters of the transformer layers: what ``ModelSize.non_embedding_parameters`` counts for BERT, here
    counted on the model itself (the modern variant's GLU layers are larger)."""
    return sum(param.numel() for param in encoder_layers(model).parameters())


def mlm_parts(model):
    """The encoder and the prediction head (hidden states → vocabulary logits) of one of our masked-LMs."""
    return model.base_model, prediction_head(model)


def prediction_head(model):
    """The prediction head of a BERT (``cls``), RoBERTa (``lm_head``) or ModernBERT masked-LM; None for others.

    ModernBERT's is ``head`` (dense, GELU, LayerNorm) followed by ``decoder`` (the vocabulary projection, tied
    to the word embeddings): the two as one module.
    """
    if isinstance(model, ModernBertForMaskedLM):
        return torch.nn.Sequential(model.head, model.decoder)
    for name in ("cls", "lm_head"):
        if hasattr(model, name):
            return getattr(model, name)
    return None


def encoder_layers(model) -> torch.nn.ModuleList:
    """The transformer layers of a masked-LM (or of its encoder), bottom first."""
    base = getattr(model, "base_model", model)
    return base.layers if isinstance(base.config, ModernBertConfig) else base.encoder.layer


def layer_prefix(model) -> str:
    """The parameter-name prefix of ``model``'s layers: ``bert.encoder.layer.``, ``model.layers.``, …"""
    layers = encoder_layers(model)
    return next(name for name, module in model.named_modules() if module is layers) + "."


class SparseMLM(torch.nn.Module):
    """A masked-LM whose head sees only the masked positions: (loss, correct predictions, masked tokens)."""

    def __init__(self, mlm):
        super().__init__()
        self.mlm = mlm
        self._parts = mlm_parts(mlm)  # a tuple: not registered again as submodules (the mlm holds them)

    def forward(self, input_ids, attention_mask, labels):
        encoder, head = self._parts
        hidden = encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        selected = labels != -100
        logits = head(hidden[selected]).float()
        targets = labels[selected]
        loss = F.cross_entropy(logits, targets)
        correct = (logits.detach().max(-1).indices == targets).sum()  # 4× faster than argmax on CPUs
        return loss, correct, targets.numel()


class CompileOrEager(torch.nn.Module):
    """``torch.compile`` of a module, falling back to the module itself (with one line saying why) when the
    compiler fails on this machine (no C++ compiler for the CPU backend, an unsupported GPU, ...)."""

    def __init__(self, module, verbose: bool = True):
        super().__init__()
        self.eager, self.verbose = module, verbose
        self.compiled = torch.compile(module)
        self.failed: str | None = None

    def forward(self, *args):
        if self.failed is None:
            try:
                return self.compiled(*args)
            except torch._dynamo.exc.TorchDynamoException as exc:
                self.failed = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
                if self.verbose:
                    print(f"torch.compile is not available here ({self.failed}); training on without it.",
                          file=sys.stderr)
        return self.eager(*args)


def trained_module(sparse: SparseMLM, compile_: bool, verbose: bool, dist: Dist, device: torch.device):
    """What a training step calls: ``sparse``, compiled where asked, under DDP with several processes."""
    trained = CompileOrEager(sparse, verbose) if compile_ else sparse
    if dist.world > 1:
        trained = DistributedDataParallel(trained, device_ids=[device.index] if device.type == "cuda" else None)
    return trained


def build_optimizer(model, config: TrainConfig, size: ModelSize, device: torch.device) -> torch.optim.AdamW:
    """AdamW; each group's ``lr_scale`` multiplies the scheduled learning rate (µP scales hidden matrices)."""
    hidden_scale = MUP_BASE_WIDTH / size.hidden if config.lr_scaling == "mup" else 1.0
    grouped: dict[tuple[bool, float], list] = {}
    for name, param in model.named_parameters():
        no_decay = param.ndim < 2 or "LayerNorm" in name
        scale = hidden_scale if not no_decay and layer_group(name).startswith("layer.") else 1.0
        grouped.setdefault((no_decay, scale), []).append(param)
    groups = [{"params": params, "weight_decay": 0.0 if no_decay else config.weight_decay, "lr_scale": scale}
              for (no_decay, scale), params in grouped.items()]
    kwargs = {"fused": True} if device.type == "cuda" else {}
    return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas, eps=config.eps, **kwargs)


def held_at_zero(model, weight_masks: dict | None, device: torch.device) -> list:
    """``(parameter, mask)`` pairs for the weights a pruned model keeps at zero."""
    params = dict(model.named_parameters())
    unknown = sorted(set(weight_masks or {}) - set(params))
    if unknown:
        raise ValueError(f"weight_masks names parameters the model does not have: {unknown[:3]}")
    return [(params[name], mask.to(device)) for name, mask in (weight_masks or {}).items()]
