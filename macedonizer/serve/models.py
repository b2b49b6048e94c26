"""The models a service answers for: names, where they come from, what /models says of them.

``--model`` takes a folder or a Hub repo id, optionally named as
``NAME=PATH_OR_REPO``; an unnamed model is called by its folder or repo
name. A repo id is resolved to a local folder through huggingface_hub (the
cache first; ``HF_HUB_OFFLINE=1`` works), so the card and eval.json can be
read from disk like a local model's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml  # huggingface_hub's metadata_load parses cards with it
from huggingface_hub import metadata_load

from .. import hub
from ..errors import ConfigError, InputError
from ..export import ONNX_FILE, OnnxEncoder
from ..files import read_json
from ..inference import FillMask, is_local
from ..verdict import judge
from .engine import Engine

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class ModelSpec:
    """A model as named on the command line."""

    name: str
    source: str


def parse_specs(values: list[str]) -> list[ModelSpec]:
    """``PATH``, ``REPO_ID`` or ``NAME=PATH_OR_REPO`` values as named models, the first one the default."""
    if not values:
        raise ConfigError("Name at least one model with --model PATH_OR_REPO.")
    specs = []
    for value in values:
        name, sep, source = value.partition("=")
        if not (sep and _NAME_RE.fullmatch(name)):
            source = value
            name = Path(value.rstrip("/\\")).name if is_local(value) else value.rstrip("/").split("/")[-1]
        if not source:
            raise ConfigError(f"--model {value!r} names no model folder or repo id.")
        specs.append(ModelSpec(name, source))
    names = [spec.name for spec in specs]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"Two models are called {name!r}; name them apart with --model NAME=PATH.")
    return specs


def resolve(source: str) -> tuple[Path, str | None]:
    """The local folder of a model, and its repo id when it came from the Hub."""
    if is_local(source):
        folder = Path(source)
        if not folder.is_dir():
            raise InputError(f"Model folder not found: {source}")
        return folder, None
    return hub.pull(source), source


def card_metadata(folder: Path) -> dict | None:
    """The YAML front matter of the folder's README.md (the model card), as plain JSON types."""
    readme = folder / "README.md"
    if not readme.is_file():
        return None
    try:
        metadata = metadata_load(readme)
    except (yaml.YAMLError, ValueError):  # YAML that does not parse, not a mapping, or not UTF-8: no metadata
        return None
    return json.loads(json.dumps(metadata, default=str)) if metadata else None


@dataclass
class ServedModel:
    """One loaded model: its engine and what /models says of it."""

    name: str
    engine: Engine
    info: dict


def _onnx_encoder(folder: Path, name: str):
    if not (folder / ONNX_FILE).is_file():
        raise InputError(f"Model {name!r} has no ONNX export; run `macedonizer export onnx {folder}` first.")
    return OnnxEncoder(folder / ONNX_FILE, threads=torch.get_num_threads())


def load(spec: ModelSpec, default: bool = False, backend: str = "torch") -> ServedModel:
    """Load one model and describe it (names, size, card metadata, eval.json).

    ``backend`` "onnx" runs the encoder exported by ``macedonizer export onnx`` with ONNX Runtime.
    """
    folder, repo_id = resolve(spec.source)
    encoder = _onnx_encoder(folder, spec.name) if backend == "onnx" else None
    engine = Engine(FillMask(folder), encoder=encoder)
    config = engine.model.config
    evaluation = read_json(folder / "eval.json")
    verdict = judge((evaluation or {}).get("validation")) if evaluation else None
    info = {
        "name": spec.name,
        "default": default,
        "backend": backend,
        "repo_id": repo_id,
        "architecture": (config.architectures or [type(engine.model).__name__])[0],
        "parameters": engine.model.num_parameters(),
        "layers": config.num_hidden_layers,
        "hidden": config.hidden_size,
        "vocab_size": config.vocab_size,
        "max_tokens": engine.max_tokens,
        "mask_token": engine.mask_token,
        "card": card_metadata(folder),
        "eval": evaluation,
        "verdict": {"level": verdict.level, "reason": verdict.reason} if verdict else None,
    }
    return ServedModel(spec.name, engine, info)


def load_all(specs: list[ModelSpec], backend: str = "torch") -> dict[str, ServedModel]:
    """Every named model, loaded, in command-line order (the first is the default)."""
    return {spec.name: load(spec, default=i == 0, backend=backend) for i, spec in enumerate(specs)}
