"""Checkpoints, and what makes a resumed run the same run: seeds and RNG state.

A checkpoint, ``OUT/checkpoints/step-NNNNNNNN/state.pt``, holds the model,
optimizer and RNG states, the progress and the training config; it is
written in a temporary folder and renamed, so a run killed while writing
leaves the previous one whole; one damaged later (a truncated or corrupted
file) is skipped on resume for the one before it, renamed
``step-NNNNNNNN.damaged`` and kept. Everything else a run depends on (data
order, masking, dropout) comes from the seed and the step, so a resumed run
on CPU reproduces the uninterrupted one. A run resumes only with the
training config and the data cache its checkpoint was made with.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..configs import TrainConfig
from ..errors import InputError, Interrupted, MacedonizerError, first_line

CHECKPOINTS = "checkpoints"
CHECKPOINT_KEYS = {"model", "optimizer", "rng", "progress", "config"}


def fresh_state() -> dict:
    """The progress of a run that has not trained yet."""
    return {"step": 0, "samples": 0, "tokens": 0, "elapsed": 0.0}


def config_dict(config: TrainConfig) -> dict:
    """``config`` as JSON holds it (and as a checkpoint compares it)."""
    data = asdict(config)
    data["betas"] = list(config.betas)
    return data


def seed_all(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (dropout and fresh weights draw from them)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def checkpoint_dirs(out: Path) -> list[Path]:
    """The complete checkpoints in ``out``, oldest first."""
    folder = out / CHECKPOINTS
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and re.fullmatch(r"step-\d{8}", p.name)
                  and (p / "state.pt").is_file())


def checkpoint_state(model, optimizer, device: torch.device, state: dict, config: TrainConfig,
                     data_name: str) -> dict:
    """What a checkpoint holds: weights, optimizer, RNG states, progress, config and the data cache's name."""
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "rng": _rng_state(device),
            "progress": dict(state), "config": config_dict(config), "data": data_name}


def save_checkpoint(out: Path, state: dict, step: int, keep: int) -> Path:
    """Write atomically (temp folder, then rename) and keep the last ``keep``."""
    folder = out / CHECKPOINTS
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step-{step:08d}"
    tmp = folder / f".tmp-step-{step:08d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    torch.save(state, tmp / "state.pt")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in checkpoint_dirs(out)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def resume(out: Path, model, optimizer, config: TrainConfig, data_name: str, device: torch.device,
           main: bool = True) -> dict:
    """Load the last usable checkpoint in ``out`` into the model, the optimizer and the RNGs; its progress.

    A run with no checkpoint yet starts afresh; one made with another
    training config or another data cache is a user error. A checkpoint
    that cannot be read (a truncated or corrupted ``state.pt``) is skipped
    for the one before it, with one warning line; the main process renames
    it ``step-NNNNNNNN.damaged`` (kept, never deleted, and out of the way of
    the checkpoint that will be written at its step). When no checkpoint can
    be read, nothing is renamed and the run stops with an ``InputError``.
    """
    checkpoints = checkpoint_dirs(out)
    if not checkpoints:
        return fresh_state()
    damaged: list[tuple[Path, str]] = []
    for path in reversed(checkpoints):
        saved, reason = _load(path / "state.pt", device)
        if saved is not None:
            break
        damaged.append((path, reason))
    else:
        reasons = "; ".join(f"{path.name}: {reason}" for path, reason in damaged)
        raise InputError(f"--resume: no checkpoint in {out / CHECKPOINTS} can be read ({reasons}); they are left "
                         f"as they are: move them away to start afresh.")
    if saved["config"] != config_dict(config):
        raise MacedonizerError(f"--resume: {path} was made with another training config "
                               f"({_differences(saved['config'], config_dict(config))}).")
    if saved.get("data") != data_name:
        raise MacedonizerError(
            f"--resume: the tokenizer or the data changed since {path} was written "
            f"(its data cache was {saved.get('data')}, now {data_name})."
        )
    for bad, reason in damaged:
        _set_aside(bad, reason, path, main)
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    _set_rng_state(saved["rng"], device)
    return saved["progress"]


def _differences(saved: dict, now: dict) -> str:
    """What changed between two training configs: ``variant 'modern', now 'post-ln'; lr …``."""
    keys = [key for key in {**saved, **now} if saved.get(key) != now.get(key)]
    return "; ".join(f"{key} {saved.get(key)!r}, now {now.get(key)!r}" for key in keys)


def _load(path: Path, device: torch.device) -> tuple[dict | None, str]:
    """A checkpoint's contents, or None and why it cannot be read."""
    try:
        saved = torch.load(path, map_location=device, weights_only=False)
    except (torch.OutOfMemoryError, MemoryError):
        raise  # the checkpoint may be fine: the device is full
    # A damaged file can fail anywhere in the zip reader or the unpickler, with whatever error that part
    # raises (RuntimeError from PytorchStreamReader, EOFError, OSError, UnpicklingError, ...): any of them
    # means this file cannot be resumed from.
    except Exception as exc:  # noqa: BLE001
        return None, _reason(exc)
    if not isinstance(saved, dict) or not CHECKPOINT_KEYS <= set(saved):
        return None, "it does not hold a whole checkpoint"
    return saved, ""


def _reason(exc: BaseException) -> str:
    """A short reason: the error's type and the first sentence of its message."""
    sentence = first_line(exc).split(". ")[0].rstrip(".")[:160]
    return f"{type(exc).__name__}: {sentence}" if sentence != type(exc).__name__ else sentence


def _set_aside(bad: Path, reason: str, used: Path, main: bool) -> None:
    """Rename a damaged checkpoint out of the way (main process only) and say so in one line."""
    if not main:
        return
    target = bad.with_name(bad.name + ".damaged")
    number = 1
    while target.exists():
        number += 1
        target = bad.with_name(f"{bad.name}.damaged-{number}")
    try:
        os.replace(bad, target)
        kept = f"renamed it {target.name}"
    except OSError:
        kept = "left it in place"
    print(f"Warning: checkpoint {bad} cannot be read ({reason}); {kept} and resuming from {used.name}.",
          file=sys.stderr)


def truncate_metrics(path: Path, step: int) -> None:
    """Drop metrics logged after the checkpoint a run resumes from."""
    if not path.exists():
        return
    kept = [line for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def interrupted(out: Path, step: int, every: int) -> Interrupted:
    """Ctrl-C during ``step + 1``, saying what was kept: the last checkpoint, or that there is none."""
    checkpoints = checkpoint_dirs(out)
    if not checkpoints:
        return Interrupted(f"Interrupted at step {step + 1}, before the first checkpoint (one every {every} steps); "
                           "nothing was kept to resume from.")
    kept = int(checkpoints[-1].name.removeprefix("step-"))
    return Interrupted(f"Interrupted at step {step + 1}: the checkpoint of step {kept} is kept in "
                       f"{checkpoints[-1].parent}; --resume continues from it.")


def _rng_state(device: torch.device) -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
