"""Signals that say why a run does or does not learn, recorded along training.

Every ``every`` steps (and at step 1) ``Probe`` appends one line to
``diagnostics.jsonl``:

- ``grad_norm``: gradient norm per layer group (``embeddings``, ``layer.0`` …
  ``layer.N``, ``head``), before clipping. Post-LayerNorm BERT without warm-up
  has top-layer gradients far larger than bottom-layer ones (Xiong et al. 2020).
- ``update_ratio``: ‖Δw‖ / ‖w‖ of the optimizer step, per layer group: how
  far one step moves the weights. Around 1e-3 is healthy; 1e-2 and more
  means the learning rate is too high for that layer (µP, Yang et al. 2022).
- ``attention_entropy`` and ``attention_logit_max``, per layer, on a fixed
  probe batch: mean entropy of the attention rows (nats; ln(seq_len) is
  uniform attention, near 0 is collapse onto one token) and the largest
  |q·k|/√d. Growing attention logits and entropy collapse precede
  divergence at high learning rates (Wortsman et al. 2023).
- ``logit_max`` and ``logit_std``: scale of the output logits on the probe
  batch's masked positions; runaway output logits are the other
  instability Wortsman et al. describe.

The attention signals come from forward hooks, so they work with any
attention implementation (SDPA does not return attention weights): on the
query and key projections of the BERT and pre-LayerNorm RoBERTa layouts, on
the attention module of ModernBERT (its fused ``Wqkv`` input and the rotary
angles, applied as the model applies them). The cost is a clone of the
weights and one forward pass of a few sequences every ``every`` steps.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from .files import read_jsonl

DIAGNOSTICS = "diagnostics.jsonl"
_LAYER = re.compile(r"(?:^|\.)layers?\.(\d+)\.")
"""A layer's parameters: ``….encoder.layer.N.…`` (BERT, RoBERTa) or ``model.layers.N.…`` (ModernBERT)."""


def layer_group(name: str) -> str:
    """The layer group of a parameter name: ``embeddings``, ``layer.N`` or ``head``."""
    match = _LAYER.search(name)
    if match:
        return f"layer.{match.group(1)}"
    return "embeddings" if ".embeddings." in name else "head"


class Probe:
    """Records the diagnostics of one training run; see the module docstring."""

    def __init__(self, model, encoder, head, input_ids, attention_mask, labels, path: Path, every: int):
        import torch

        from .train.model import encoder_layers  # torch and transformers: only where a probe is made

        self.model, self.encoder, self.head = model, encoder, head
        self.input_ids, self.attention_mask, self.labels = input_ids, attention_mask, labels
        self.every = every
        self.groups: dict[str, list[tuple[str, torch.nn.Parameter]]] = {}
        for name, param in model.named_parameters():
            self.groups.setdefault(layer_group(name), []).append((name, param))
        self.layers = list(encoder_layers(encoder))
        self.file = open(path, "a", encoding="utf-8")
        self._record: dict = {}
        self._before: dict = {}

    def due(self, step: int) -> bool:
        """Whether optimizer step ``step`` (counted from 1) is a diagnostic step."""
        return step == 1 or step % self.every == 0

    def before_update(self) -> None:
        """After backward, before clipping: gradient norms, and the weights the step will change."""
        import torch

        self._record = {"grad_norm": {}}
        for group, params in self.groups.items():
            grads = [p.grad.detach().float().norm() for _, p in params if p.grad is not None]
            self._record["grad_norm"][group] = float(torch.stack(grads).norm()) if grads else 0.0
        self._before = {name: p.detach().clone() for params in self.groups.values() for name, p in params}

    def after_update(self, step: int) -> dict:
        """After the optimizer step: update ratios and the probe-batch signals; appends the record."""
        import torch

        ratios = {}
        with torch.no_grad():
            for group, params in self.groups.items():
                delta = sum(float((p.detach() - self._before[name]).float().pow(2).sum()) for name, p in params)
                weight = sum(float(self._before[name].float().pow(2).sum()) for name, _ in params)
                ratios[group] = math.sqrt(delta) / max(math.sqrt(weight), 1e-12)
        self._before = {}
        record = {"step": step, **self._record, "update_ratio": ratios, **self._probe()}
        self.file.write(json.dumps(_rounded(record)) + "\n")
        self.file.flush()
        return record

    def _probe(self) -> dict:
        import torch

        captured: dict[int, tuple] = {}
        handles = [handle for index, layer in enumerate(self.layers) for handle in _hook_scores(layer, index, captured)]
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                hidden = self.encoder(input_ids=self.input_ids, attention_mask=self.attention_mask).last_hidden_state
                logits = self.head(hidden[self.labels != -100]).float()
        finally:
            for handle in handles:
                handle.remove()
            self.model.train(was_training)
        entropies, logit_maxima = [], []
        keys_valid = self.attention_mask.bool()[:, None, None, :]  # batch, head, query, key
        queries_valid = self.attention_mask.bool()[:, None, :]
        for index in range(len(self.layers)):
            with torch.no_grad():
                q, k = (t.float() for t in _queries_keys(self.layers[index], captured[index]))
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
            scores = scores.masked_fill(~keys_valid, float("-inf"))
            log_p = torch.log_softmax(scores, dim=-1)
            entropy = -(log_p.exp() * log_p.nan_to_num(neginf=0.0)).sum(-1)  # batch, head, query
            entropies.append(float(entropy.mean(1)[queries_valid[:, 0]].mean()))
            logit_maxima.append(float(scores.masked_fill(~keys_valid, 0.0).abs().max()))
        return {"attention_entropy": entropies, "attention_logit_max": logit_maxima,
                "logit_max": float(logits.abs().max()) if logits.numel() else 0.0,
                "logit_std": float(logits.std()) if logits.numel() > 1 else 0.0}

    def close(self) -> None:
        self.file.close()


def _hook_scores(layer, index: int, captured: dict) -> list:
    """Forward hooks that keep what layer ``index``'s attention scores are computed from, in ``captured[index]``.

    BERT and RoBERTa: the query and key projections' outputs. ModernBERT: its attention module's input and
    rotary angles (its query and key are rotated inside the module, so the projection alone is not enough).
    """
    if hasattr(layer, "attn"):  # ModernBERT
        def keep(_module, args, kwargs, _output):
            captured[index] = (args[0] if args else kwargs["hidden_states"], kwargs["position_embeddings"])
        return [layer.attn.register_forward_hook(keep, with_kwargs=True)]
    attention, kept = layer.attention.self, captured.setdefault(index, {})
    return [module.register_forward_hook(lambda _m, _i, output, name=name: kept.__setitem__(name, output))
            for name, module in (("q", attention.query), ("k", attention.key))]


def _queries_keys(layer, kept) -> tuple:
    """The queries and keys (batch, head, position, head width) the layer's attention scores are made of."""
    if hasattr(layer, "attn"):
        from transformers.models.modernbert.modeling_modernbert import apply_rotary_pos_emb

        hidden, (cos, sin) = kept
        attention = layer.attn
        qkv = attention.Wqkv(hidden).view(*hidden.shape[:2], 3, -1, attention.head_dim)
        q, k = (qkv[:, :, i].transpose(1, 2) for i in (0, 1))
        return apply_rotary_pos_emb(q, k, cos, sin)
    heads = layer.attention.self.num_attention_heads
    return tuple(kept[name].view(*kept[name].shape[:2], heads, -1).transpose(1, 2) for name in ("q", "k"))


def _rounded(value):
    if isinstance(value, float):
        return float(f"{value:.4g}") if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def read_diagnostics(run_dir: Path) -> list[dict]:
    """The diagnostics records of a run (an empty list when it recorded none)."""
    path = Path(run_dir) / DIAGNOSTICS
    if not path.exists():
        return []
    return read_jsonl(path)
