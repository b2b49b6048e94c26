"""Fill-mask for apps: ``FillMask(model)("Скопје е [MASK] на Македонија.")``.

A thin layer over transformers' fill-mask pipeline: the model is loaded once,
``<mask>`` is accepted as well as the model's own mask token, texts are
scored in batches, and the answer has the pipeline's fields (``score``,
``token``, ``token_str``, ``sequence``). A text with one mask gets a list of
predictions; a text with several masks gets one such list per mask.
"""

from __future__ import annotations

import os
from pathlib import Path

from safetensors import SafetensorError
from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline
from transformers.utils import logging as hf_logging

from .errors import InputError, MacedonizerError, first_line

MASK_ALIASES = ("<mask>", "[MASK]")


def is_local(source: str) -> bool:
    """Whether a model name means a folder on this machine rather than a Hub repo id.

    A repo id is ``NAME`` or ``NAMESPACE/NAME``; an existing path, an absolute or
    ``./``-relative one, or one with more than one ``/`` is a folder.
    """
    return (Path(source).exists() or source.startswith((".", "/", "~")) or source.count("/") > 1
            or "\\" in source)


# What transformers raises for a source that holds no loadable masked-LM: OSError for a missing file,
# an unreadable config or a Hub repo not found (or unreachable); ValueError for a folder without a
# config.json, an unknown model type or a damaged tokenizer.json; SafetensorError for damaged weights.
NOT_A_MODEL = (OSError, ValueError, SafetensorError)


def load_masked_lm(source: str | os.PathLike, where: str):
    """``(tokenizer, model)`` from a folder or Hub repo; an InputError naming ``where`` when there is no model."""
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        return AutoTokenizer.from_pretrained(source), AutoModelForMaskedLM.from_pretrained(source)
    except NOT_A_MODEL as exc:
        raise InputError(f"Cannot load the model {where}: {first_line(exc)}") from None


class FillMask:
    """Predict the words hidden behind mask tokens."""

    def __init__(self, model: str | os.PathLike, device: str | int | None = None, batch_size: int = 16):
        source = str(model)
        looks_like_path = is_local(source)
        if looks_like_path and not Path(source).is_dir():
            raise InputError(f"Model folder not found: {source}")
        tokenizer, mlm = load_masked_lm(source, f"{source!r} {'from the folder' if looks_like_path else 'from the Hub'}")
        if tokenizer.mask_token is None:
            raise MacedonizerError(f"The model {source!r} has no mask token; it is not a masked language model.")
        self.mask_token = tokenizer.mask_token
        self.batch_size = batch_size
        self._pipeline = pipeline("fill-mask", model=mlm, tokenizer=tokenizer, device=device)

    @property
    def pipeline(self):
        """The transformers fill-mask pipeline underneath (its ``model`` and ``tokenizer``)."""
        return self._pipeline

    def prepare(self, text: str) -> str:
        """The text with ``<mask>`` and ``[MASK]`` as the model's mask token; no mask is an error."""
        for alias in MASK_ALIASES:
            text = text.replace(alias, self.mask_token)
        if self.mask_token not in text:
            raise MacedonizerError(f"The text has no mask token ({self.mask_token} or <mask>): {text!r}")
        return text

    def __call__(self, texts: str | list[str], top_k: int = 5, targets: list[str] | None = None):
        """Predictions for one text (a list) or for several (a list per text)."""
        single = isinstance(texts, str)
        batch = [self.prepare(t) for t in ([texts] if single else texts)]
        if top_k < 1:
            raise MacedonizerError("top_k must be at least 1.")
        kwargs = {"top_k": top_k, "batch_size": self.batch_size}
        if targets:
            kwargs["targets"] = targets
        results = self._pipeline(batch, **kwargs)
        if len(batch) == 1:  # the pipeline unwraps a batch of one
            results = [results]
        results = [_plain(r) for r in results]
        return results[0] if single else results


def _plain(value):
    """Python floats and ints, so answers serialise to JSON as they are."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: (float(v) if k == "score" else int(v) if k == "token" else v) for k, v in value.items()}
    return value
