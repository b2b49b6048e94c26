"""The ``macedonizer build`` config: one TOML file for the whole family.

Each table is the config object of one stage, so a key means the same in the
file as in the Python API: ``[clean]`` is ``CleanConfig`` (with
``[clean.quality]`` and ``[clean.read]``), ``[tokenizer]`` is
``TokenizerConfig``, ``[pretrain]`` is ``TrainConfig`` for every size, with
``[pretrain.size.NAME]`` overriding it for one size. Anything left out takes
the stage's default; ``macedonizer build --print-config`` shows the result.
``configs/demo.toml`` (the default) and ``configs/production.toml`` (every
key, commented) are bundled.

Loading checks every key and value before any work starts and names the
key and the reason when one is wrong.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import tomli_w

from ..configs import (BUDGET_KEYS, PRECISIONS, RunConfig, TokenizerConfig, TrainConfig, check_choice, check_licence,
                       check_range, check_repo_id, keep_one_budget, recipe_for, resolve_size)
from ..corpus.config import CleanConfig, parse_filters
from ..errors import ConfigError, MacedonizerError
from ..fields import merge, to_dataclass, unknown_keys
from ..prune import parse_method
from ..specs import parse, portable
from .downstream import DownstreamSection, from_table as downstream_from_table, portable_section

DEMO = "demo"
RUN_KEYS = ("log_every", "eval_every", "eval_batches", "checkpoint_every", "keep_checkpoints", "diagnostics_every")
"""``RunConfig`` settings a ``[pretrain]`` table may give: how often a run logs, validates and saves."""


@dataclass(frozen=True)
class BuildSection:
    """``[build]``: what is built and where it runs."""

    sizes: tuple[str, ...] = ("tiny", "mini")
    """Sizes to pretrain: tiny … large or shapes such as ``L6/H384``."""
    out: str = "build"
    """Output folder (``-o`` overrides it)."""
    device: str = "auto"
    """auto, cpu, cuda, cuda:N or mps."""
    processes: int = 1
    """Training processes on this machine: more than 1 runs pretraining under torchrun (one per GPU)."""
    precision: str = "auto"
    """auto (bf16 autocast on CUDA and on CPUs with AMX or AVX-512 BF16, else fp32), bf16 or fp32."""
    compile: bool = False
    """torch.compile the model (CUDA or CPU; trains on without it where the compiler fails)."""
    workers: int = 1
    """Worker processes of the clean stage."""

    def __post_init__(self):
        check_choice("precision", self.precision, PRECISIONS)
        if not self.sizes:
            raise ConfigError("sizes: name at least one size.")
        for size in self.sizes:
            try:
                resolve_size(size)
            except ConfigError as exc:
                raise ConfigError(f"sizes: {exc}") from None
        check_range("processes", self.processes, 1)
        check_range("workers", self.workers, 1)


@dataclass(frozen=True)
class CorpusSection:
    """``[corpus]``: the raw text; anything ``macedonizer clean`` reads."""

    inputs: tuple[str, ...] = ("corpus:sample",)


@dataclass(frozen=True)
class DeriveSection:
    """``[[derive]]``: a smaller family member made from a trained size."""

    name: str
    parent: str
    method: str
    """``drop:top:K`` (also bottom, alternate, symmetric) or ``sparsity:S[:global|layer]``."""
    recover_steps: int = 0
    """Continued MLM training after pruning, with the pruned weights kept at zero."""


@dataclass(frozen=True)
class EvalSection:
    """``[eval]``: held-out text files every model is scored on (besides its validation split)."""

    texts: tuple[str, ...] = ()
    seq_len: int = 128


@dataclass(frozen=True)
class CardSection:
    """``[card]``: model-card metadata."""

    license: str = "apache-2.0"
    datasets: tuple[str, ...] = ()
    """Hub dataset ids to list besides those found behind the corpus."""

    def __post_init__(self):
        try:
            object.__setattr__(self, "license", check_licence(self.license))
        except ConfigError as exc:
            raise ConfigError(f"license: {exc}") from None


@dataclass(frozen=True)
class PushSection:
    """``[push]``: publishing to the Hugging Face Hub (``--push NAMESPACE`` turns it on)."""

    namespace: str = ""
    """User or organisation; empty means no push."""
    pattern: str = "{namespace}/mk-bert-{size}"
    """Repository id of each model; ``{size}`` is the model's name in the family."""
    private: bool = False
    only_learned: bool = True
    """Publish only models the verdict calls learned (beyond noise past the n-gram baseline, ``macedonizer.verdict``)."""

    def repo_id(self, name: str) -> str:
        return self.pattern.format(namespace=self.namespace, size=name.replace("/", "-"))


@dataclass(frozen=True)
class BuildConfig:
    """A loaded, checked build config."""

    source: str
    build: BuildSection
    corpus: CorpusSection
    clean: CleanConfig
    tokenizer: TokenizerConfig
    pretrain: dict[str, TrainConfig]
    """Per size, with the per-size overrides applied."""
    runs: dict[str, RunConfig]
    """How each size's training runs: [build] device, precision and compile, [pretrain] logging and checkpoints."""
    auto_lr: tuple[str, ...]
    """Sizes whose learning rate, warm-up and variant come from the learnability sweep."""
    sweep: dict = field(default_factory=dict)
    """The ``[sweep]`` table (``SweepConfig`` of ``macedonizer.sweep``)."""
    derive: tuple[DeriveSection, ...] = ()
    eval: EvalSection = field(default_factory=EvalSection)
    card: CardSection = field(default_factory=CardSection)
    push: PushSection = field(default_factory=PushSection)
    downstream: DownstreamSection | None = None  # [downstream] (build.downstream); None: no such stage

    @property
    def family(self) -> list[str]:
        """Every model of the build: trained sizes, then derived members."""
        return [*self.pretrain, *(d.name for d in self.derive)]


# ---------------------------------------------------------------- loading


def configs_dir() -> Path:
    return Path(str(resources.files("macedonizer._configs")))


def read(path: str | None, overrides: tuple[str, ...] = (), sizes: str | None = None,
         push_namespace: str | None = None) -> BuildConfig:
    """Load ``path`` (the bundled demo config when None), apply overrides, check everything."""
    base = None  # the bundled config names no local path: one given with --set is relative to here
    if path is None:
        path = str(configs_dir() / f"{DEMO}.toml")
        source = "the bundled demo config"
    else:
        source, base = path, Path(path).resolve().parent
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except FileNotFoundError:
        raise MacedonizerError(f"Config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise MacedonizerError(f"{path} is not valid TOML: {exc}.") from None
    for item in overrides:
        _apply_override(table, item)
    if sizes is not None:
        _select_sizes(table, [s.strip() for s in sizes.split(",") if s.strip()])
    if push_namespace is not None:
        table.setdefault("push", {})["namespace"] = push_namespace
    return from_table(table, source, base=base)


def _select_sizes(table: dict, sizes: list[str]) -> None:
    """``--sizes``: build only these; per-size tables and derived members of the others are left out."""
    table.setdefault("build", {})["sizes"] = sizes
    per_size = table.get("pretrain", {}).get("size")
    if isinstance(per_size, dict):
        table["pretrain"]["size"] = {k: v for k, v in per_size.items() if k in sizes}
    if isinstance(table.get("derive"), list):
        kept, names = [], set(sizes)
        for row in table["derive"]:
            if isinstance(row, dict) and row.get("parent") in names:
                kept.append(row)
                names.add(row.get("name"))
        table["derive"] = kept


def _apply_override(table: dict, item: str) -> None:
    """``--set pretrain.max_steps=20``: a dotted key and a TOML value (bare words are strings).

    A budget (``max_steps``, ``tokens``, ``time_s``) replaces the file's budgets at that level, and a shared
    ``[pretrain]`` budget those of every size too: ``--set pretrain.max_steps=20`` trains every size 20 steps.
    """
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise MacedonizerError(f"--set {item!r}: expected KEY=VALUE, for example pretrain.max_steps=20.")
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value
    node = table
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise MacedonizerError(f"--set {item!r}: {part} is not a table.")
    if parts[0] == "pretrain" and parts[-1] in BUDGET_KEYS:  # a budget given here replaces the file's budgets
        sizes = node.get("size", {}) if len(parts) == 2 else {}
        for budgeted in (node, *(t for t in sizes.values() if isinstance(t, dict))):
            for other in BUDGET_KEYS:
                budgeted.pop(other, None)
    node[parts[-1]] = parsed


def from_table(table: dict, source: str = "config", base: Path | None = None) -> BuildConfig:
    """Check and convert a parsed TOML table."""
    known = {"build", "corpus", "clean", "tokenizer", "pretrain", "sweep", "derive", "eval", "card", "push", "downstream"}
    unknown_keys(table, known, source, "")
    build = to_dataclass(BuildSection, table.get("build", {}), source, "build")
    corpus = to_dataclass(CorpusSection, table.get("corpus", {}), source, "corpus")
    if not corpus.inputs:
        raise MacedonizerError(f"{source}: [corpus] inputs: name at least one input.")
    corpus = CorpusSection(tuple(_relative(p, base) for p in corpus.inputs))

    clean_table = dict(table.get("clean", {}))
    if "filters" in clean_table:
        value = clean_table["filters"]
        if not isinstance(value, (str, list)):
            raise MacedonizerError(f"{source}: [clean] filters: expected a string or a list of strings.")
        try:
            clean_table["filters"] = list(parse_filters(value))
        except MacedonizerError as exc:
            raise MacedonizerError(f"{source}: [clean] filters: {exc}") from None
    clean = to_dataclass(CleanConfig, clean_table, source, "clean")
    tokenizer = to_dataclass(TokenizerConfig, table.get("tokenizer", {}), source, "tokenizer")
    tokenizer = dataclasses.replace(tokenizer, eval_texts=tuple(_relative(p, base) for p in tokenizer.eval_texts))

    pretrain, runs, auto_lr = _pretrain(table.get("pretrain", {}), build, source)
    sweep = table.get("sweep", {})
    if not isinstance(sweep, dict):
        raise MacedonizerError(f"{source}: [sweep] must be a table.")
    if auto_lr:
        _check_sweep(sweep, source)

    derive_rows = table.get("derive", [])
    if not isinstance(derive_rows, list):
        raise MacedonizerError(f"{source}: derive must be an array of tables ([[derive]]).")
    derive = tuple(to_dataclass(DeriveSection, row, source, f"derive #{i + 1}") for i, row in enumerate(derive_rows))
    _check_derive(derive, list(pretrain), source)

    evaluation = to_dataclass(EvalSection, table.get("eval", {}), source, "eval")
    evaluation = dataclasses.replace(evaluation, texts=tuple(_relative(p, base) for p in evaluation.texts))
    card = to_dataclass(CardSection, table.get("card", {}), source, "card")
    push = to_dataclass(PushSection, table.get("push", {}), source, "push")
    _check_push(push, [*pretrain, *(d.name for d in derive)], source)
    downstream = downstream_from_table(table.get("downstream"), source, lambda p: _relative(p, base))
    return BuildConfig(source=source, build=build, corpus=corpus, clean=clean, tokenizer=tokenizer,
                       pretrain=pretrain, runs=runs, auto_lr=auto_lr, sweep=sweep, derive=derive, eval=evaluation, card=card,
                       push=push, downstream=downstream)


def _relative(path: str, base: Path | None) -> str:
    """Local paths in a config are relative to the config file; specs (hf:, corpus:) stay."""
    return str(parse(path).relative_to(base))


def _pretrain(table: dict, build: BuildSection, source: str
              ) -> tuple[dict[str, TrainConfig], dict[str, RunConfig], tuple[str, ...]]:
    """Each size's ``TrainConfig`` (its recipe under ``[pretrain]`` under ``[pretrain.size.NAME]``) and ``RunConfig``."""
    if not isinstance(table, dict):
        raise MacedonizerError(f"{source}: [pretrain] must be a table.")
    base = {k: v for k, v in table.items() if k != "size"}
    per_size = table.get("size", {})
    if not isinstance(per_size, dict):
        raise MacedonizerError(f"{source}: [pretrain.size] must hold one table per size, e.g. [pretrain.size.mini].")
    for name in per_size:
        if name not in build.sizes:
            raise MacedonizerError(
                f"{source}: [pretrain.size.{name}]: {name!r} is not in [build] sizes ({', '.join(build.sizes)}).")
    configs: dict[str, TrainConfig] = {}
    runs: dict[str, RunConfig] = {}
    auto: list[str] = []
    for size in build.sizes:
        override = per_size.get(size, {})
        where = f"pretrain.size.{size}" if override else "pretrain"
        merged = merge(keep_one_budget(base, override), override)  # a size's own budget replaces the shared one
        if merged.get("lr") == "auto":
            auto.append(size)
            del merged["lr"]
        elif isinstance(merged.get("lr"), str):
            raise ConfigError(f"{source}: [{where}] lr: expected a number or \"auto\", got {merged['lr']!r}.")
        train = {k: v for k, v in merged.items() if k not in RUN_KEYS}
        configs[size] = to_dataclass(TrainConfig, {**asdict(recipe_for(size)), **train, "size": size}, source, where)
        how = {"device": build.device, "precision": build.precision, "compile": build.compile,
               **{k: v for k, v in merged.items() if k in RUN_KEYS}}
        runs[size] = to_dataclass(RunConfig, how, source, where)
    return configs, runs, tuple(auto)


def _check_sweep(table: dict, source: str) -> None:
    from ..sweep import SweepConfig  # the sweep package loads torch; only a config with lr = "auto" needs it

    if "sizes" in table:
        raise MacedonizerError(f"{source}: [sweep] sizes: the sweep covers the sizes whose lr is \"auto\".")
    SweepConfig.from_table(table, source)


def _check_derive(derive: tuple[DeriveSection, ...], sizes: list[str], source: str) -> None:
    names = set(sizes)
    for i, row in enumerate(derive):
        where = f"{source}: [[derive]] #{i + 1} ({row.name})"
        if row.parent not in names:
            raise MacedonizerError(f"{where} parent: {row.parent!r} is not a size or earlier derived model.")
        if row.name in names or not re.fullmatch(r"[\w.-]+", row.name):
            raise MacedonizerError(f"{where} name: must be new and made of letters, digits, '-', '_' or '.'.")
        if row.recover_steps < 0:
            raise MacedonizerError(f"{where} recover_steps: must be 0 or more.")
        try:
            parse_method(row.method)
        except MacedonizerError as exc:
            raise MacedonizerError(f"{where} method: {exc}") from None
        names.add(row.name)


def _check_push(push: PushSection, names: list[str], source: str) -> None:
    if "{size}" not in push.pattern:
        raise MacedonizerError(f"{source}: [push] pattern: must contain {{size}} so each model gets its own repo.")
    try:
        push.repo_id("x")
    except (KeyError, IndexError, ValueError):
        raise MacedonizerError(
            f"{source}: [push] pattern: only {{namespace}} and {{size}} may be used, got {push.pattern!r}.") from None
    if not push.namespace:
        return
    for name in names:
        try:
            check_repo_id(push.repo_id(name))
        except ConfigError as exc:
            raise ConfigError(f"{source}: [push] pattern gives a repo id that the Hub refuses: {exc}") from None


# ---------------------------------------------------------------- printing


def resolved_table(config: BuildConfig, portable_paths: bool = False) -> dict:
    """The fully resolved config as TOML-ready tables (every default filled in).

    ``portable_paths`` names local inputs and texts by their last part (``specs.portable``), as build.json
    records them: no folder of this machine, the same whether they were given by absolute or relative paths.
    """
    if portable_paths:
        config = dataclasses.replace(
            config, corpus=CorpusSection(_portable(config.corpus.inputs)),
            tokenizer=dataclasses.replace(config.tokenizer, eval_texts=_portable(config.tokenizer.eval_texts)),
            eval=dataclasses.replace(config.eval, texts=_portable(config.eval.texts)),
            downstream=config.downstream and portable_section(config.downstream, portable))
    pretrain: dict[str, Any] = {"size": {}}
    for size, train in config.pretrain.items():
        row = _plain(train)
        row.pop("size")
        if size in config.auto_lr:
            row["lr"] = "auto"
        pretrain["size"][size] = row
    table = {
        "build": _plain(config.build),
        "corpus": _plain(config.corpus),
        "clean": _plain(config.clean),
        "tokenizer": _plain(config.tokenizer),
        "pretrain": pretrain,
    }
    if config.auto_lr:
        from ..sweep import SweepConfig  # loads torch: only for a config with lr = "auto"

        sweep = _plain(SweepConfig.from_table({"device": config.build.device, **config.sweep}, config.source))
        sweep.pop("sizes")  # the sweep covers the sizes whose lr is "auto"
        table["sweep"] = sweep
    if config.derive:
        table["derive"] = [_plain(d) for d in config.derive]
    table["eval"] = _plain(config.eval)
    table["card"] = _plain(config.card)
    table["push"] = _plain(config.push)
    if config.downstream:
        table["downstream"] = config.downstream.table()
    return table


def _portable(paths) -> tuple[str, ...]:
    return tuple(portable(p) for p in paths)


def _plain(obj):
    """A dataclass as a table without None values (TOML has no null)."""
    return _drop_none(dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj)


def _drop_none(value):
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_drop_none(v) for v in value]
    return value


def to_toml(config: BuildConfig) -> str:
    """The resolved config as TOML, one line per key (arrays inline)."""
    header = (f"# The resolved macedonizer build config (from {config.source}).\n"
              "# Every default is filled in; feed it back with `macedonizer build THIS.toml`.\n")
    return header + "".join(_toml_table(name, value) for name, value in resolved_table(config).items())


def _toml_table(name: str, table) -> str:
    if isinstance(table, list):  # an array of tables: [[derive]]
        return "".join(_toml_table(f"[{name}]", row) for row in table)
    lines = [f"\n[{name}]\n"]
    nested = []
    for key, value in table.items():
        if isinstance(value, dict):
            nested.append((f"{name}.{key}", value))
        else:
            inline = tomli_w.dumps({"v": value}, multiline_strings=False).strip()[len("v = "):]
            if isinstance(value, (list, tuple)):
                inline = "[" + ", ".join(
                    tomli_w.dumps({"v": v}).strip()[len("v = "):] if not isinstance(v, (list, tuple))
                    else "[" + ", ".join(tomli_w.dumps({"v": x}).strip()[len("v = "):] for x in v) + "]"
                    for v in value) + "]"
            lines.append(f"{key} = {inline}\n")
    if len(lines) == 1 and nested:  # only sub-tables: no empty header
        lines = []
    return "".join(lines) + "".join(_toml_table(n, v) for n, v in nested)
