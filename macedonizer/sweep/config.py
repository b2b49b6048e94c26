"""The sweep's settings: ``SweepConfig`` (the grid and the budget of every run), its one loader, and ``Point``.

``SweepConfig`` checks itself in ``__post_init__`` and raises ``ConfigError``
with one sentence, so a bad value fails alike from Python, the command line
(``macedonizer sweep``) and TOML (``--config FILE`` or a build's
``[sweep]`` table). ``SweepConfig.from_table`` is the one loader of a
table, with overrides on top; the budget follows the rule of every config
(``configs.settle_budget``, ``configs.keep_one_budget``) over its own keys.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from ..configs import (LR_SCALINGS, MAX_POSITIONS, VARIANTS, MaskingConfig, RunConfig, TrainConfig, check_choice,
                       check_range, keep_one_budget, resolve_size, settle_budget)
from ..errors import ConfigError
from ..fields import to_dataclass

BUDGET_KEYS = ("steps", "tokens")
"""A sweep run's budget: exactly one of these; none given means ``DEFAULT_STEPS``."""
DEFAULT_STEPS = 300
GRID_AXES = ("sizes", "lrs", "warmups", "variants", "lr_scalings", "max_grad_norms", "mask_rates")
"""The settings that are lists: their product is the grid."""
EARLY_STOPS = ("halving", "rules")
HALVE_PER = ("size", "variant")
"""Halving's groups: the runs of one size, or of one size and variant."""
"""Ways to stop runs early: successive halving by validation loss, and rules on a run's own records."""
DEFAULT_MASK_RATE = MaskingConfig().rate
SHARED = ("steps", "tokens", "seq_len", "batch_size", "dropout", "seed", "eval_batches")
"""The settings that change what every run learns: a sweep folder holds runs of one such budget only."""


@dataclass(frozen=True)
class SweepConfig:
    """The grid and the budget of every run in it."""

    sizes: tuple[str, ...] = ("tiny", "mini", "small")
    lrs: tuple[float, ...] = (1e-4, 3e-4, 1e-3, 3e-3)
    warmups: tuple[float, ...] = (0.0, 0.06)
    """Shares of each run spent warming up."""
    variants: tuple[str, ...] = ("post-ln",)
    """Any of ``configs.VARIANTS``: ``post-ln`` (BERT), ``pre-ln`` (pre-LayerNorm RoBERTa) …"""
    lr_scalings: tuple[str, ...] = ("none",)
    """``none`` and/or ``mup`` (hidden-matrix learning rate × 128 / width)."""
    max_grad_norms: tuple[float, ...] = (1.0,)
    """Gradient clipping norms; ``inf`` turns clipping off."""
    mask_rates: tuple[float, ...] = (DEFAULT_MASK_RATE,)
    """Shares of tokens masked in training (validation always masks as ``macedonizer eval`` does)."""
    steps: int | None = None
    """Budget per run in optimizer steps; ``DEFAULT_STEPS`` when neither this nor ``tokens`` is given."""
    tokens: int | None = None
    """Budget per run in tokens, instead of ``steps``."""
    seq_len: int = 64
    batch_size: int = 16
    dropout: float = 0.0
    seed: int = 0
    eval_every: int = 50
    eval_batches: int = 10
    """Validation batches (of 64 sequences) per evaluation, the final one included."""
    diagnostics_every: int = 25
    workers: int = 1
    """Runs trained at the same time, each in its own process with its share of the CPU threads."""
    device: str = "auto"
    early_stop: tuple[str, ...] = ()
    """``halving`` and/or ``rules`` (of ``EARLY_STOPS``); none trains every run to the end."""
    eta: int = 2
    """Halving: each rung keeps the best 1/eta of a size's runs (at least one)."""
    min_share: float = 0.25
    """Halving: the first rung comes after at least this share of the budget; the rungs are at 1/eta^k of it.

    Eta 2 from a quarter (rungs at 25%, 50%, 100%: half the compute on 4 runs a size) is what kept each size's
    best run on a real-text grid (docs/sweep.md); eta 3 from a tenth judged at 11% of the budget, before the
    slow low learning rates had overtaken, and stopped mini's best run."""
    halve_per: str = "size"
    """Halving: whose runs compete at a rung: each ``size``'s (the recommendation is per size), or each size and
    ``variant``'s (a border per variant: a variant that starts slowly is not stopped for trailing another)."""

    def __post_init__(self):
        for name in GRID_AXES:
            value = getattr(self, name)
            if isinstance(value, (str, int, float)) or not value:
                raise ConfigError(f"Sweep setting {name} must be a non-empty list.")
            object.__setattr__(self, name, tuple(value))
        _check_axes(self)
        settle_budget(self, BUDGET_KEYS, ("steps", DEFAULT_STEPS))
        check_range("seq_len", self.seq_len, 8, MAX_POSITIONS)
        check_range("dropout", self.dropout, 0, 1, below_high=True)
        for name in ("batch_size", "eval_every", "eval_batches", "workers"):
            check_range(name, getattr(self, name), 1)
        check_range("diagnostics_every", self.diagnostics_every, 0)
        if isinstance(self.early_stop, str):
            object.__setattr__(self, "early_stop", (self.early_stop,) if self.early_stop else ())
        object.__setattr__(self, "early_stop", tuple(self.early_stop))
        for way in self.early_stop:
            check_choice("early_stop", way, EARLY_STOPS)
        if isinstance(self.eta, bool) or not isinstance(self.eta, int) or self.eta < 2:
            raise ConfigError(f"eta: must be a whole number of at least 2, got {self.eta!r}.")
        check_range("min_share", self.min_share, 0, 1, below_high=True)
        check_choice("halve_per", self.halve_per, HALVE_PER)
        if self.min_share <= 0:
            raise ConfigError(f"min_share: must be above 0, got {self.min_share!r}.")

    @classmethod
    def from_table(cls, table: Mapping, source: str, **overrides) -> SweepConfig:
        """The settings of a TOML table (keys as the fields here, all optional), then the ``overrides`` not None.

        A budget among the overrides replaces the table's (``configs.keep_one_budget``). Every error names ``source``
        and the key, as the build config's other tables do.
        """
        given = {k: list(v) if isinstance(v, tuple) else v for k, v in overrides.items() if v is not None}
        return to_dataclass(cls, {**keep_one_budget(table, given, BUDGET_KEYS), **given}, source, "sweep")

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, **overrides) -> SweepConfig:
        """Settings from a TOML file (``from_table``), or from the ``overrides`` alone when ``path`` is None."""
        if path is None:
            return cls(**{k: v for k, v in overrides.items() if v is not None})
        try:
            with open(path, "rb") as f:
                table = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"Cannot read the sweep config {path}: {exc}") from None
        return cls.from_table(table, str(path), **overrides)

    def points(self) -> list[Point]:
        """The grid, smallest models first so that a border shows early."""
        return [Point(size, lr, warmup, variant, scaling, clip, rate)
                for size in self.sizes for variant in self.variants for scaling in self.lr_scalings
                for clip in self.max_grad_norms for rate in self.mask_rates for warmup in self.warmups
                for lr in self.lrs]

    def budget(self) -> dict:
        """The settings every run shares; a sweep folder holds runs of one budget only."""
        return {k: v for k, v in asdict(self).items() if k in SHARED}


def _check_axes(config: SweepConfig) -> None:
    """Every value of every axis, so that a bad one fails before anything is trained."""
    for size in config.sizes:
        resolve_size(size)
    for variant in config.variants:
        check_choice("variants", variant, VARIANTS)
    for scaling in config.lr_scalings:
        check_choice("lr_scalings", scaling, LR_SCALINGS)
    for lr in config.lrs:
        if not _number(lr) or not 0 < lr < math.inf:
            raise ConfigError(f"lrs: every learning rate must be a number above 0, got {lr!r}.")
    for warmup in config.warmups:
        check_range("warmups", warmup, 0, 1, below_high=True)
    for clip in config.max_grad_norms:
        if not _number(clip) or not clip > 0:
            raise ConfigError(f"max_grad_norms: every clipping norm must be above 0 (inf for none), got {clip!r}.")
    for rate in config.mask_rates:
        if not _number(rate):
            raise ConfigError(f"mask_rates: every masking rate must be a number, got {rate!r}.")
        MaskingConfig(rate=rate)  # its own range check, in its own words


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Point:
    """One run of the grid."""

    size: str
    lr: float
    warmup: float
    variant: str = "post-ln"
    lr_scaling: str = "none"
    max_grad_norm: float = 1.0
    mask_rate: float = DEFAULT_MASK_RATE

    @property
    def name(self) -> str:
        clip = "" if self.max_grad_norm == 1.0 else f"-clip{self.max_grad_norm:g}"
        scaling = "" if self.lr_scaling == "none" else f"-{self.lr_scaling}"
        mask = "" if self.mask_rate == DEFAULT_MASK_RATE else f"-mask{self.mask_rate:g}"
        return f"{self.size.replace('/', '-')}-{self.variant}{scaling}{clip}{mask}-wu{self.warmup:g}-lr{self.lr:g}"

    def train_config(self, sweep: SweepConfig) -> TrainConfig:
        """What this run trains: the point's settings under the sweep's budget."""
        return TrainConfig(
            size=self.size, seq_len=sweep.seq_len, batch_size=sweep.batch_size, lr=self.lr, warmup=self.warmup,
            max_grad_norm=self.max_grad_norm, max_steps=sweep.steps, tokens=sweep.tokens, seed=sweep.seed,
            dropout=sweep.dropout, final_eval_batches=sweep.eval_batches, variant=self.variant,
            lr_scaling=self.lr_scaling, masking=MaskingConfig(rate=self.mask_rate))

    def run_config(self, sweep: SweepConfig) -> RunConfig:
        """How this run goes: quiet, resuming an interrupted run, one checkpoint kept, diagnostics on."""
        return RunConfig(
            device=sweep.device, progress=False, resume=True, log_every=max(1, min(10, (sweep.steps or 100) // 20)),
            eval_every=sweep.eval_every, eval_batches=sweep.eval_batches,
            checkpoint_every=max(sweep.eval_every, 100), keep_checkpoints=1,
            diagnostics_every=sweep.diagnostics_every)
