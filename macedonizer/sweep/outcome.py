"""The outcome of one run: its class, the rule that decided it, and the record a sweep keeps of it.

A run is classified from its validation loss ``L`` (eval.json), the loss it
started from and its training curve (metrics.jsonl), first rule that holds:

1. ``diverged``: the loss became NaN or infinite, or ``L`` is above the
   loss the run started from (ln of the vocabulary size: a fresh model
   predicts uniformly).
2. ``learned``: :func:`macedonizer.verdict.judge` says so (the one place
   that decides it): scored with every scored token masked, the model beats
   the n-gram baseline (left and right neighbours) in loss and accuracy by
   more than the evaluation noise.
3. ``undertrained``: fewer than ``MIN_POINTS`` training-loss records, or the
   smoothed training loss still fell by more than ``STILL_FALLING`` nats
   over the last half of the run: too few steps to tell.
4. ``diverged``: the smoothed training loss rose more than ``RISE`` nats
   above its best (it learned, then fell apart).
5. ``plateau``: anything else: no better than the n-gram baseline (often
   at the unigram loss ``U``, the loss of predicting training-token
   frequencies: word frequencies only).

A run stopped early (``rules``, ``halving``) is ``stopped``: it keeps its
metrics, its validation at the stop (eval.json) and the rule or rung that
stopped it, in words with numbers.

A finished or stopped run leaves its record in ``outcome.json``;
``load_outcomes`` judges every such run of a sweep folder again by the
current rules.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, fields
from pathlib import Path

from ..configs import TrainConfig, resolve_size
from ..diagnostics import read_diagnostics
from ..fields import to_dataclass
from ..files import read_jsonl
from ..train.loop import flops_per_token
from ..verdict import judge
from .causes import explain
from .config import Point

OUTCOMES = ("learned", "plateau", "diverged", "undertrained", "stopped")
"""What a run can come to; ``classify`` gives the first four, early stopping the last."""
MIN_POINTS = 4
"""Training-loss records needed to judge a curve."""
STILL_FALLING = 0.15
"""Nats the smoothed training loss may still fall over the last half of a run that is not undertrained."""
RISE = 0.5
"""Nats above its best that a training loss may rise before the run counts as diverged."""
SMOOTH = 5
"""Training-loss records in the moving average the curve rules use."""
OUTCOME_FILE = "outcome.json"


def _smoothed(values: list[float]) -> list[float]:
    out = []
    for i in range(len(values)):
        window = values[max(0, i - SMOOTH + 1) : i + 1]
        out.append(sum(window) / len(window))
    return out


def classify(train_losses: list[float], validation: dict | None, start_loss: float,
             nan_step: int | None = None) -> tuple[str, str]:
    """The outcome of one run and the rule that decided it (see the module docstring).

    ``validation`` is the run's final evaluation record (``eval.json``'s
    ``validation``); whether it learned is :func:`macedonizer.verdict.judge`'s call.
    """
    val_loss = (validation or {}).get("loss")
    if nan_step is not None or val_loss is None or not math.isfinite(val_loss):
        return "diverged", f"the loss became NaN/inf at step {nan_step}" if nan_step else "no finite validation loss"
    if val_loss > start_loss:
        return "diverged", f"validation loss {val_loss:.2f} is above its start ({start_loss:.2f})"
    verdict = judge(validation)
    if verdict.learned:
        return "learned", verdict.reason
    finite = [x for x in train_losses if math.isfinite(x)]
    if len(finite) < MIN_POINTS:
        return "undertrained", f"only {len(finite)} training-loss records"
    curve = _smoothed(finite)
    fall = curve[len(curve) // 2] - curve[-1]
    if fall > STILL_FALLING:
        return "undertrained", f"the training loss still fell {fall:.2f} nats over the last half"
    rise = curve[-1] - min(curve)
    if rise > RISE:
        return "diverged", f"the training loss rose {rise:.2f} nats above its best ({min(curve):.2f})"
    return "plateau", f"flat, and {verdict.reason}"


def judge_run(run_dir: Path, point: Point, nan_step: int | None, stop: dict | None = None,
              rungs: dict | None = None) -> dict:
    """The outcome record of a finished, NaN-stopped or early-stopped (``stop``) run, from the files it wrote.

    ``rungs`` (step → validation loss at the halving's rungs it passed) is kept in the record.
    """
    records = read_jsonl(run_dir / "metrics.jsonl")
    train = [r for r in records if r["split"] == "train"]
    vals = [r for r in records if r["split"] == "val"]
    training = json.loads((run_dir / "training_config.json").read_text(encoding="utf-8"))
    evaluation = json.loads((run_dir / "eval.json").read_text(encoding="utf-8")) if nan_step is None else None
    validation = evaluation["validation"] if evaluation else (vals[-1] if vals else {})
    start_loss = math.log(training["data"]["vocab_size"])
    outcome, rule = classify([r["loss"] for r in train], validation if evaluation else None, start_loss, nan_step)
    if stop is not None:
        outcome, rule = "stopped", stop["reason"]
    result = {
        **asdict(point), "name": point.name, "outcome": outcome, "rule": rule,
        "stopped_by": _stopped_by(stop),
        "validation_loss": validation.get("loss") if evaluation else None,
        "unigram_loss": validation.get("unigram_loss"),
        "masked_accuracy": validation.get("masked_accuracy") if evaluation else None,
        "unigram_accuracy": validation.get("unigram_accuracy"),
        "ngram_loss": validation.get("ngram_loss"), "ngram_accuracy": validation.get("ngram_accuracy"),
        "steps": evaluation["steps"] if evaluation else nan_step,
        "budget_steps": _budget_steps(run_dir, training), "seq_len": training["train"]["seq_len"],
        "batch_size": training["train"]["batch_size"],
        "non_embedding_parameters": training.get("non_embedding_parameters"),
        "seconds": evaluation["seconds"] if evaluation else None, "nan_step": nan_step,
        "stop": stop, "rungs": dict(rungs or {}),
    }
    result["cause"] = explain(result, read_diagnostics(run_dir), training["train"]["seq_len"])
    return result


def training_flops(outcome: dict, steps: int) -> float:
    """Training FLOPs of ``steps`` steps of a run (``loop.flops_per_token``): what early stopping saves.

    From the run's own parameter count (``training_config.json``), so that variants whose layers are not
    BERT's (the modern variant's GLU) count what they cost; runs written before it was recorded fall back
    to BERT's count for their size.
    """
    tokens = steps * outcome["batch_size"] * outcome["seq_len"]
    size = resolve_size(outcome["size"])
    return float(tokens * flops_per_token(size, outcome["seq_len"], outcome.get("non_embedding_parameters")))


def _stopped_by(stop: dict | None) -> str:
    """``rule unigram``, ``rung 1``: a stopped run's short tag (empty for a run that was not stopped)."""
    if stop is None:
        return ""
    return f"rule {stop['rule']}" if stop["by"] == "rule" else f"rung {stop.get('rung', '?')}"


def _budget_steps(run_dir: Path, training: dict) -> int:
    """The steps of the run's full budget (a stopped run trained fewer)."""
    return to_dataclass(TrainConfig, training["train"], str(run_dir / "training_config.json"), "train").steps()


def read_saved(run_dir: Path) -> dict | None:
    """A run's outcome.json as written, or None where it has none."""
    path = run_dir / OUTCOME_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def point_of(saved: dict) -> Point:
    """The grid point of a saved record (records older than an axis take its default)."""
    return Point(**{f.name: saved[f.name] for f in fields(Point) if f.name in saved})


def load_outcomes(out: str | os.PathLike) -> list[dict]:
    """The outcome of every finished or stopped run in a sweep folder, judged again by the current rules."""
    runs = Path(out) / "runs"
    paths = sorted(runs.glob(f"*/{OUTCOME_FILE}")) if runs.is_dir() else []
    outcomes = []
    for path in paths:
        saved = json.loads(path.read_text(encoding="utf-8"))
        outcomes.append(judge_run(path.parent, point_of(saved), saved["nan_step"], saved.get("stop"),
                                  saved.get("rungs")))
    return outcomes
