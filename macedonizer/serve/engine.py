"""Batched fill-mask for the service: the pipeline's answers, one forward pass per batch.

``Engine`` checks and encodes each text as a request arrives (so a bad text
is refused before it waits in a queue), then answers a whole batch of
encoded texts with one padded forward pass. The prediction head runs only on
the masked positions, which is most of the saving for small models (the head
projects onto the whole vocabulary). Scores, tokens and sequences are built
the way transformers' fill-mask pipeline builds them (tested against it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ..errors import MacedonizerError
from ..inference import FillMask
from ..train.model import prediction_head


@dataclass(frozen=True)
class Limits:
    """What one request may ask for, and how requests are batched."""

    max_inputs: int = 32
    """Texts in one request."""
    max_chars: int = 2000
    """Characters in one text."""
    max_top_k: int = 100
    """Largest ``top_k``."""
    max_targets: int = 100
    """Candidate words in ``targets``."""
    max_batch: int = 32
    """Texts in one forward pass."""
    batch_wait_ms: float = 2.0
    """How long a batch waits for more requests when the previous batch held several (after a
    batch of one it takes only what is queued, so a lone client never waits)."""
    max_queue: int = 1024
    """Texts waiting for a forward pass; beyond it requests are refused with 503."""


class RequestError(Exception):
    """A request the service refuses: an HTTP status and one sentence for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Query:
    """One encoded text and what to return for it."""

    ids: tuple[int, ...]
    top_k: int
    target_ids: np.ndarray | None = None


class Engine:
    """Encode texts, and answer batches of them with one forward pass."""

    def __init__(self, fill: FillMask, encoder=None):
        """``encoder`` replaces the model's own encoder (for ONNX Runtime); it needs a BERT, RoBERTa or ModernBERT
        head."""
        pipe = fill.pipeline
        self._fill = fill
        self.tokenizer = pipe.tokenizer
        self.model = pipe.model.eval()
        self._get_target_ids = pipe.get_target_ids
        self.mask_id = self.tokenizer.mask_token_id
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        self.max_tokens = min(self.tokenizer.model_max_length,
                              getattr(self.model.config, "max_position_embeddings", self.tokenizer.model_max_length))
        # BERT, RoBERTa and ModernBERT heads can run on the masked positions alone.
        self._head = prediction_head(self.model)
        if encoder is not None and self._head is None:
            raise MacedonizerError(f"{type(self.model).__name__} has no BERT, RoBERTa or ModernBERT head to run "
                                   "after an exported encoder; serve it with the torch backend.")
        self._encode = encoder or self._torch_encoder
        self._token_str = lru_cache(maxsize=65536)(lambda token: self.tokenizer.decode([token]))

    def _torch_encoder(self, input_ids, attention_mask):
        return self.model.base_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    @property
    def mask_token(self) -> str:
        return self._fill.mask_token

    def encode(self, text: str) -> tuple[int, ...]:
        """Token ids of one text, with ``<mask>``/``[MASK]`` as the mask token; refuses a text without one."""
        try:
            text = self._fill.prepare(text)
        except MacedonizerError:
            raise RequestError(422, f"The text has no mask token ({self.mask_token} or <mask>): "
                                    f"{text[:80]!r}") from None
        ids = tuple(self.tokenizer(text)["input_ids"])
        if len(ids) > self.max_tokens:
            raise RequestError(413, f"A text is {len(ids)} tokens long; this model reads at most {self.max_tokens}.")
        return ids

    def target_ids(self, targets: str | list[str]) -> np.ndarray:
        """Vocabulary ids of the candidate words, as the pipeline picks them."""
        try:
            return self._get_target_ids(targets)
        except ValueError:
            raise RequestError(422, "None of the targets is in the model's vocabulary.") from None

    def predict(self, queries: list[Query]) -> list:
        """The pipeline-shaped answer of each query: a list of predictions, or one list per mask.

        Texts of similar length share a forward pass; a text much longer than the others gets
        its own, rather than making them all compute on padding.
        """
        answers: list = [None] * len(queries)
        for group in _length_groups([len(q.ids) for q in queries]):
            for i, answer in zip(group, self._predict_padded([queries[i] for i in group])):
                answers[i] = answer
        return answers

    def _predict_padded(self, queries: list[Query]) -> list:
        width = max(len(q.ids) for q in queries)
        input_ids = torch.full((len(queries), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(queries), width), dtype=torch.long)
        for row, query in enumerate(queries):
            input_ids[row, :len(query.ids)] = torch.tensor(query.ids)
            attention[row, :len(query.ids)] = 1
        masked = (input_ids == self.mask_id) & attention.bool()
        with torch.inference_mode():
            if self._head is not None:
                logits = self._head(self._encode(input_ids, attention)[masked])
            else:
                logits = self.model(input_ids=input_ids, attention_mask=attention).logits[masked]
            probs = logits.float().softmax(dim=-1)
        per_query = probs.split(masked.sum(dim=1).tolist())
        return [self._answer(q, p) for q, p in zip(queries, per_query)]

    def _answer(self, query: Query, probs) -> list:
        """Mirrors ``FillMaskPipeline.postprocess`` for one text."""
        top_k = query.top_k
        if query.target_ids is not None:
            probs = probs[..., query.target_ids]
            top_k = min(top_k, len(query.target_ids))
        values, predictions = probs.topk(top_k)
        positions = [i for i, token in enumerate(query.ids) if token == self.mask_id]
        single_mask = len(positions) == 1
        result = []
        for position, row_values, row_predictions in zip(positions, values.tolist(), predictions.tolist()):
            row = []
            for score, token in zip(row_values, row_predictions):
                if query.target_ids is not None:
                    token = int(query.target_ids[token])
                tokens = list(query.ids)
                tokens[position] = token
                tokens = [t for t in tokens if t != self.pad_id]
                row.append({"score": score, "token": token, "token_str": self._token_str(token),
                            "sequence": self.tokenizer.decode(tokens, skip_special_tokens=single_mask)})
            result.append(row)
        return result[0] if single_mask else result


def _length_groups(lengths: list[int], max_padding: float = 0.25) -> list[list[int]]:
    """Indices grouped by length so that padding stays under ``max_padding`` of each group's tokens."""
    groups: list[list[int]] = []
    group: list[int] = []
    tokens = 0
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        # In ascending order, the newcomer is the longest: the group would be padded to its length.
        if group and lengths[i] * (len(group) + 1) > (1 + max_padding) * (tokens + lengths[i]):
            groups.append(group)
            group, tokens = [], 0
        group.append(i)
        tokens += lengths[i]
    return groups + [group]
