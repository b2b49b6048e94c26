"""What a run leaves in OUT besides checkpoints and metrics: training_config.json first, the model last.

The model folder is a standard masked-LM (``save_pretrained``) with the
tokenizer files, the training-token and n-gram counts the baselines need,
and eval.json (the final validation and how the run went). It is written in
a temporary folder and moved into OUT when whole.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..baselines import NGRAM_FILE
from ..specs import LocalSpec, parse
from .checkpoint import config_dict
from .device import hardware
from .loop import Parts
from .model import non_embedding_parameters

TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")


def write_training_config(parts: Parts, data_inputs: list[str], tokenizer_dir: Path) -> None:
    """OUT/training_config.json: the training config, the shape, the data and where the run trains.

    Local data and the tokenizer are named relative to OUT (``specs.parse(p).relative_to(OUT)`` reads them
    back), so that the file holds no absolute path and reads alike wherever the run's folder is.
    """
    parts.out.mkdir(parents=True, exist_ok=True)
    data = {**parts.data.meta, "inputs": [_relative(text, parts.out) for text in data_inputs],
            "tokenizer": os.path.relpath(tokenizer_dir, parts.out)}
    (parts.out / "training_config.json").write_text(json.dumps({
        "train": config_dict(parts.config), "size": asdict(parts.size), "data": data,
        "parameters": parts.model.num_parameters(),
        "non_embedding_parameters": non_embedding_parameters(parts.model), "world_size": parts.dist.world,
        "device": str(parts.device), "precision": parts.precision,
    }, indent=2, ensure_ascii=False), encoding="utf-8")


def _relative(text: str, out: Path) -> str:
    return os.path.relpath(text, out) if isinstance(parse(text), LocalSpec) else text


def write_model(parts: Parts, tokenizer_dir: Path, final: dict, state: dict) -> None:
    """Model, tokenizer, token and n-gram counts and eval.json, moved into OUT when complete."""
    out, data, device = parts.out, parts.data, parts.device
    tmp = out / f".model-tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    parts.model.save_pretrained(tmp, safe_serialization=True)
    for name in TOKENIZER_FILES:
        shutil.copy2(tokenizer_dir / name, tmp / name)
    np.save(tmp / "token_counts.npy", data.token_counts)
    shutil.copy2(data.folder / NGRAM_FILE, tmp / NGRAM_FILE)
    evaluation = {
        "validation": final,
        "steps": state["step"],
        "tokens": state["tokens"],
        "seconds": round(state["elapsed"], 1),
        "tokens_per_s": round(state["tokens"] / max(state["elapsed"], 1e-9), 1),
        "size": parts.size.name,
        "parameters": parts.model.num_parameters(),  # the model's own count: the modern variant's is not BERT's
        "device": str(device),
        "hardware": hardware(device, parts.dist),
        "precision": parts.precision,
        "peak_memory_gb": round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if device.type == "cuda" else None,
        "world_size": parts.dist.world,
    }
    (tmp / "eval.json").write_text(json.dumps(evaluation, indent=2), encoding="utf-8")
    for path in tmp.iterdir():
        os.replace(path, out / path.name)
    tmp.rmdir()
