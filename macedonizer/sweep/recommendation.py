"""The sweep's recommendation: per size, the learned run with the lowest validation loss.

A size with no learned run gets no recommendation; ``recommended_lr`` says
so in one sentence. The build reads both for sizes whose lr is "auto".
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import MacedonizerError
from .config import DEFAULT_MASK_RATE
from .outcome import OUTCOMES

RECOMMENDED_FILE = "recommended.json"
SETTING = ("variant", "warmup", "lr_scaling", "max_grad_norm", "mask_rate")
"""What a run is besides its size and learning rate: ``learned_lrs`` lists the learning rates of the best's."""


def recommend(outcomes: list[dict], sizes: list[str]) -> dict:
    """Per size, the learned run with the lowest validation loss; sizes without one are listed apart."""
    chosen, unlearned = {}, {}
    for size in sizes:
        runs = [o for o in outcomes if o["size"] == size]
        learned = [o for o in runs if o["outcome"] == "learned"]
        if not learned:
            counts = {k: sum(o["outcome"] == k for o in runs) for k in OUTCOMES if any(o["outcome"] == k for o in runs)}
            unlearned[size] = ", ".join(f"{n} {k}" for k, n in counts.items())
            continue
        best = min(learned, key=lambda o: o["validation_loss"])
        chosen[size] = {
            "lr": best["lr"], "warmup": best["warmup"], "variant": best["variant"],
            "lr_scaling": best["lr_scaling"], "max_grad_norm": best["max_grad_norm"],
            "mask_rate": best.get("mask_rate", DEFAULT_MASK_RATE),
            "validation_loss": best["validation_loss"], "unigram_loss": best["unigram_loss"],
            "masked_accuracy": best["masked_accuracy"], "steps": best["steps"], "run": best["name"],
            "learned_lrs": sorted({o["lr"] for o in learned if all(o.get(k) == best.get(k) for k in SETTING)}),
        }
    return {"sizes": chosen, "unlearned": unlearned}


def recommended(out: str | os.PathLike) -> dict[str, dict]:
    """Per size with a learned run: ``{"lr", "warmup", "variant", "lr_scaling", "max_grad_norm", "mask_rate", …}``."""
    path = Path(out) / RECOMMENDED_FILE
    if not path.is_file():
        raise MacedonizerError(f"No {RECOMMENDED_FILE} in {out}: run `macedonizer sweep` first.")
    return json.loads(path.read_text(encoding="utf-8"))["sizes"]


def recommended_lr(out: str | os.PathLike, size: str) -> float:
    """The recommended learning rate of ``size``, or one sentence saying why there is none."""
    entry = recommended(out).get(size)
    if entry is None:
        saved = json.loads((Path(out) / RECOMMENDED_FILE).read_text(encoding="utf-8"))["unlearned"]
        why = f" (its runs: {saved[size]})" if size in saved else " (it was not in the grid)"
        raise MacedonizerError(f"No run of size {size} learned in the sweep at {out}{why}; "
                               f"try other learning rates, a longer warm-up or --variant pre-ln.")
    return entry["lr"]
