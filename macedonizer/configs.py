"""Every setting of the product, in one torch-free module: model sizes, recipes and the stage configs.

Each config is a frozen dataclass that checks itself in ``__post_init__``
and raises ``ConfigError`` with one sentence, so a bad value fails the same
way from Python, the command line (whose options are derived from these
fields, docstrings included) and a TOML build config.

Settings that change what a run produces (``TrainConfig``, ``MaskingConfig``)
are kept apart from those that change only how it runs: speed, logging,
checkpoints (``RunConfig``). Only the first enter a build's fingerprint and
the resume check.

``ModelSize.from_name("mini")`` gives a shape; custom shapes are a
``ModelSize(layers=…, hidden=…)`` (heads default to hidden/64, the
intermediate size to 4·hidden), or ``resolve_size("L4/H256")``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields

from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from .errors import ConfigError

MAX_POSITIONS = 512
PRECISIONS = ("auto", "bf16", "fp32")
"""Training precision: auto (bf16 autocast where the device computes bf16 natively), bf16 or fp32."""
INITS = ("local", "bert")
"""How a fresh model starts (``macedonizer.train.initialization``)."""
VARIANTS = ("post-ln", "pre-ln", "modern")
"""``post-ln``: BERT (``BertForMaskedLM``); ``pre-ln``: ``RobertaPreLayerNormForMaskedLM``; ``modern``:
``ModernBertForMaskedLM`` (pre-norm, GLU, rotary positions, no biases, global attention in every layer); all
with the same WordPiece tokenizer."""
LR_SCALINGS = ("none", "mup")
SCHEDULES = ("linear", "cosine")
TASKS = ("upos",)
"""Downstream tasks ``finetune`` and ``eval --task`` know: upos (Universal POS tagging, CoNLL-U)."""
CHOICES = {"precision": PRECISIONS, "init": INITS, "variant": VARIANTS, "lr_scaling": LR_SCALINGS,
           "schedule": SCHEDULES, "task": TASKS}
"""Fields (of any config) whose value is one of a fixed list: the command line offers them as choices."""
BUDGET_KEYS = ("max_steps", "tokens", "time_s")
"""A run's budget: exactly one of these; none given means ``DEFAULT_MAX_STEPS``."""
DEFAULT_MAX_STEPS = 1000
SPDX_LICENCES = ("apache-2.0", "mit", "cc-by-4.0", "cc-by-sa-4.0", "cc-by-nc-4.0", "cc0-1.0", "bsd-3-clause",
                 "gpl-3.0", "lgpl-3.0", "openrail", "other")
"""Licences a model card may declare (Hub metadata ids)."""


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
            raise ConfigError(f"Invalid shape: L{self.layers}/H{self.hidden} with {self.heads} heads.")

    @classmethod
    def from_name(cls, name: str) -> ModelSize:
        try:
            return SIZES[name]
        except KeyError:
            raise ConfigError(f"Unknown size {name!r}: use {', '.join(SIZES)} or L<layers>/H<hidden>.") from None

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
    """``post-ln`` (BERT), ``pre-ln`` or ``modern``: from 4 layers on, post-LN stayed on the plateau where pre-LN
    left it."""


RECIPE_FIELDS = tuple(f.name for f in fields(Recipe))
"""The settings a size's recipe gives, where a config or the command line does not."""

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


def resolve_size(name: str) -> ModelSize:
    """A named size (tiny … large) or a shape written ``L<layers>/H<hidden>``."""
    match = re.fullmatch(r"L(\d+)/H(\d+)", name)
    if match:
        return ModelSize(int(match.group(1)), int(match.group(2)), name=name.replace("/", "-"))
    return ModelSize.from_name(name)


# ---------------------------------------------------------------- checks shared by every config


def check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ConfigError(f"{name}: one of {', '.join(map(str, choices))}, not {value!r}.")


def check_range(name: str, value, low=None, high=None, *, below_high: bool = False) -> None:
    """``low ≤ value ≤ high`` (``< high`` with ``below_high``), finite."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name}: expected a finite number, got {value!r}.")
    too_high = high is not None and (value >= high if below_high else value > high)
    if (low is not None and value < low) or too_high:
        bounds = (f"at least {low}" if high is None else
                  f"in [{low}, {high}{')' if below_high else ']'}" if low is not None else f"at most {high}")
        raise ConfigError(f"{name}: must be {bounds}, got {value!r}.")


def check_positive(name: str, value) -> None:
    """A finite number above 0."""
    check_range(name, value, 0)
    if value <= 0:
        raise ConfigError(f"{name}: must be a positive number, got {value!r}.")


def check_licence(licence: str) -> str:
    """The licence as the Hub's metadata id (lower case), or a ConfigError."""
    if not isinstance(licence, str) or licence.lower() not in SPDX_LICENCES:
        raise ConfigError(f"Unknown licence {licence!r}; use an SPDX id such as apache-2.0 or cc-by-4.0.")
    return licence.lower()


def check_repo_id(repo_id: str) -> str:
    """A Hub model repository id, ``NAMESPACE/NAME``, checked by huggingface_hub's own validator."""
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        ok = False
    else:
        ok = repo_id.count("/") == 1
    if not ok:
        raise ConfigError(f"Invalid repo id {repo_id!r}: expected NAMESPACE/NAME (letters, digits, '-', '_', '.').")
    return repo_id


def keep_one_budget(base: Mapping, override: Mapping, keys: tuple[str, ...] = BUDGET_KEYS) -> dict:
    """``base`` without its budget when ``override`` gives one: a budget given later replaces the earlier one."""
    if any(key in override for key in keys):
        return {k: v for k, v in base.items() if k not in keys}
    return dict(base)


def settle_budget(config, keys: tuple[str, ...] = BUDGET_KEYS, default: tuple[str, int] = ("max_steps", DEFAULT_MAX_STEPS)
                  ) -> None:
    """The one budget rule, for a frozen config in its ``__post_init__``: at most one of ``keys`` given (each
    at least 1); none given sets ``default``."""
    given = [key for key in keys if getattr(config, key) is not None]
    if len(given) > 1:
        raise ConfigError(f"Give exactly one budget of {', '.join(keys)} (found {', '.join(given)}).")
    if not given:
        object.__setattr__(config, *default)
    for key in given:
        check_range(key, getattr(config, key), 1)


# ---------------------------------------------------------------- tokenizer


@dataclass(frozen=True)
class TokenizerConfig:
    """What is learned (the ``[tokenizer]`` table)."""

    vocab_size: int = 0
    """Size of the vocabulary, special tokens included; 0 chooses it from the corpus size (``tokenizer.auto_vocab_size``)."""
    uncased: bool = False
    """Lowercase everything (accents, and so ѓ ќ ѐ ѝ, are kept either way)."""
    min_frequency: int = 2
    """A merge must be seen this often to enter the vocabulary."""
    eval_texts: tuple[str, ...] = field(default_factory=tuple)
    """Extra text files (one sentence or paragraph a line) to report coverage on."""

    def __post_init__(self):
        check_range("vocab_size", self.vocab_size, 0)
        check_range("min_frequency", self.min_frequency, 1)



# ---------------------------------------------------------------- training


@dataclass(frozen=True)
class MaskingConfig:
    """How tokens are hidden for masked-LM training."""

    rate: float = 0.15
    """Share of (non-special) tokens to predict."""
    mask_share: float = 0.8
    """Of those, replaced by [MASK]."""
    random_share: float = 0.1
    """Of those, replaced by a random token (the rest stay unchanged)."""
    whole_word: bool = False
    """Mask all pieces of a word together."""

    def __post_init__(self):
        check_range("masking rate", self.rate, 0.01, 0.9)
        check_range("mask_share", self.mask_share, 0, 1)
        check_range("random_share", self.random_share, 0, 1)
        if self.mask_share + self.random_share > 1 + 1e-9:
            raise ConfigError("mask_share + random_share: at most 1 (the rest stay unchanged).")


@dataclass(frozen=True)
class TrainConfig:
    """What is trained and for how long: every field changes the model (and enters fingerprints)."""

    size: str = "tiny"
    """A size name (tiny … large) or a shape such as L4/H256."""
    seq_len: int = 128
    """Tokens per training sequence (8 to 512: the position table)."""
    batch_size: int = 32
    """Sequences per optimizer step, over all processes and accumulation steps."""
    grad_accum: int = 1
    """Micro-batches per optimizer step."""
    lr: float = 3e-3
    """Peak learning rate."""
    warmup: float = 0.05
    """Share of the budget spent warming the learning rate up from 0."""
    schedule: str = "linear"
    """Decay after warm-up, to 0 at the end of the budget: linear or cosine."""
    weight_decay: float = 0.01
    """AdamW weight decay (not on biases, LayerNorms and embeddings)."""
    betas: tuple[float, float] = (0.9, 0.98)
    """AdamW betas."""
    eps: float = 1e-6
    """AdamW epsilon."""
    max_grad_norm: float = 1.0
    """Gradient clipping norm."""
    max_steps: int | None = None
    """Budget in optimizer steps (1000 when no budget is given)."""
    tokens: int | None = None
    """Budget in training tokens (sequence positions, padding included)."""
    time_s: float | None = None
    """Budget in wall-clock seconds; the learning rate decays to 0 when the clock runs out."""
    seed: int = 0
    """Seed of the data order, the masks, dropout and the initial weights."""
    dropout: float = 0.0
    """Dropout of hidden states and attention."""
    masking: MaskingConfig = field(default_factory=MaskingConfig)
    """How tokens are hidden for training (evaluation always masks every scored token)."""
    final_eval_batches: int | None = None
    """Validation batches of the final evaluation (eval.json); None evaluates all of them."""
    variant: str = "post-ln"
    """post-ln (BERT), pre-ln (pre-LayerNorm RoBERTa) or modern (ModernBERT); all load with AutoModelForMaskedLM."""
    lr_scaling: str = "none"
    """none, or mup: hidden matrices train at lr × 128 / hidden size."""
    init: str = "local"
    """local: std 1/√hidden, attention heads that start on their neighbours; bert: std 0.02 everywhere."""
    init_std: float | None = None
    """The weight std; None takes the init's own (1/√hidden for local, 0.02 for bert)."""
    init_from: str | None = None
    """A saved model folder to start from instead of a random init (its shape; same tokenizer)."""

    def __post_init__(self):
        resolve_size(self.size)
        check_range("seq_len", self.seq_len, 8, MAX_POSITIONS)
        for name in ("batch_size", "grad_accum"):
            check_range(name, getattr(self, name), 1)
        check_positive("lr", self.lr)
        check_range("warmup", self.warmup, 0, 1, below_high=True)
        check_range("dropout", self.dropout, 0, 1, below_high=True)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_choice("variant", self.variant, VARIANTS)
        check_choice("lr_scaling", self.lr_scaling, LR_SCALINGS)
        check_choice("init", self.init, INITS)
        settle_budget(self)

    @classmethod
    def for_size(cls, size: str, **settings) -> TrainConfig:
        """The size's recipe (``RECIPES``) under ``settings``; a None setting keeps the recipe's (or default)."""
        return cls(size=size, **{**asdict(recipe_for(size)), **{k: v for k, v in settings.items() if v is not None}})

    def steps(self) -> int | None:
        """Optimizer steps the budget allows (None for a wall-clock budget)."""
        if self.max_steps is not None:
            return self.max_steps
        if self.tokens is not None:
            return max(1, math.ceil(self.tokens / (self.batch_size * self.seq_len)))
        return None


@dataclass(frozen=True)
class RunConfig:
    """How a run goes: device, speed, logging and checkpoints. Changes no result (and enters no fingerprint)."""

    device: str = "auto"
    """auto, cpu, cuda, cuda:N or mps."""
    precision: str = "auto"
    """auto: bf16 autocast on CUDA and on CPUs with AMX or AVX-512 BF16, else fp32."""
    compile: bool = False
    """torch.compile the model (CUDA or CPU; says so and trains on without it where it fails)."""
    progress: bool = True
    resume: bool = False
    """Continue from the last checkpoint in the output folder."""
    log_every: int = 10
    """Steps between metric lines."""
    eval_every: int = 200
    """Steps between validations."""
    eval_batches: int = 50
    """Validation batches of each validation during training."""
    checkpoint_every: int = 200
    """Steps between checkpoints."""
    keep_checkpoints: int = 2
    """Checkpoints kept on disk (the newest)."""
    diagnostics_every: int = 0
    """Steps between diagnostics.jsonl records (gradient and update norms per layer, attention entropy,
    logit scale); 0 for none."""

    def __post_init__(self):
        check_choice("precision", self.precision, PRECISIONS)
        for name in ("log_every", "eval_every", "eval_batches", "checkpoint_every", "keep_checkpoints"):
            check_range(name, getattr(self, name), 1)
        check_range("diagnostics_every", self.diagnostics_every, 0)


# ---------------------------------------------------------------- fine-tuning


@dataclass(frozen=True)
class FinetuneConfig:
    """How a pretrained model is fine-tuned for a downstream task (``macedonizer finetune``).

    The defaults are sized for a 2-core CPU: a tiny or mini model fine-tunes on about 700 tagged
    sentences in a few minutes, random-init baseline included.
    """

    task: str = "upos"
    """The task: upos (Universal POS tags from CoNLL-U)."""
    epochs: int = 20
    """Most passes over the training sentences (early stopping usually ends sooner)."""
    max_steps: int | None = None
    """Most optimizer steps, instead of the epochs' count (for quick checks)."""
    lr: float = 5e-4
    """Peak learning rate (linear warm-up, then linear decay to 0)."""
    batch_size: int = 16
    """Sentences (or chunks of long ones) per optimizer step."""
    warmup: float = 0.1
    """Share of the steps spent warming the learning rate up."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    patience: int = 3
    """Stop after this many epochs without a better dev accuracy; the best epoch's weights are kept."""
    seed: int = 0
    """Seed of the classifier's initial weights, the data order, dropout and the dev split."""
    max_length: int = 128
    """Word pieces per sequence; longer sentences are cut into chunks of whole words."""
    dev_share: float = 0.1
    """Without --dev: this share of the training sentences (a seeded draw) is held out for early stopping."""
    baselines: bool = True
    """Also fine-tune the same architecture from a random initialisation, identically (what pretraining bought)."""
    precision: str = "auto"
    """auto (bf16 autocast where the device computes bf16 natively), bf16 or fp32."""

    def __post_init__(self):
        check_choice("task", self.task, TASKS)
        check_choice("precision", self.precision, PRECISIONS)
        for name in ("epochs", "batch_size", "patience"):
            check_range(name, getattr(self, name), 1)
        if self.max_steps is not None:
            check_range("max_steps", self.max_steps, 1)
        check_positive("lr", self.lr)
        check_range("warmup", self.warmup, 0, 1, below_high=True)
        check_range("weight_decay", self.weight_decay, 0)
        check_range("max_length", self.max_length, 8, MAX_POSITIONS)
        check_range("dev_share", self.dev_share, 0.01, 0.5)
