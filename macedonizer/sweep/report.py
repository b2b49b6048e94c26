"""The sweep's report from its finished runs: runs.csv, report.md, learnability.png and recommended.json.

The runs are grouped into panels, one per setting (variant, lr scaling,
clipping, masking rate, warm-up), each a table of sizes × learning rates.
Per panel the report gives the border (the learning rates at which each
size learned); then the runs stopped early, each with the rule or rung that
stopped it and the compute it saved, the causes of the runs that did not
learn, each other setting against the plain one cell by cell, and the
recommendation.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from ..configs import resolve_size
from ..errors import MacedonizerError
from ..files import write_text_atomic
from .causes import ngram_part
from .config import DEFAULT_MASK_RATE
from .heatmap import draw as draw_heatmap
from .outcome import OUTCOMES, load_outcomes, training_flops
from .recommendation import RECOMMENDED_FILE, recommend

CSV_COLUMNS = ("size", "lr", "warmup", "variant", "lr_scaling", "max_grad_norm", "mask_rate", "outcome", "stopped_by",
               "validation_loss", "unigram_loss", "ngram_loss", "masked_accuracy", "ngram_accuracy", "steps",
               "budget_steps", "seconds", "rule", "cause")
PLAIN = ("post-ln", "none", 1.0, DEFAULT_MASK_RATE)
"""The plain setting (variant, lr scaling, clipping, masking rate) every other is set against, at the shortest
warm-up."""


def write_report(out: str | os.PathLike) -> None:
    """runs.csv, report.md, learnability.png and recommended.json from the finished runs in ``out``."""
    out = Path(out)
    outcomes = load_outcomes(out)
    if not outcomes:
        raise MacedonizerError(f"{out} holds no finished sweep runs.")
    sizes = list(dict.fromkeys(o["size"] for o in sorted(outcomes, key=_size_order)))
    lrs = sorted({o["lr"] for o in outcomes})
    panels = _panels(outcomes)
    recommendation = recommend(outcomes, sizes)
    _write_csv(out / "runs.csv", outcomes)
    write_text_atomic(out / RECOMMENDED_FILE, json.dumps(recommendation, indent=2, ensure_ascii=False))
    write_text_atomic(out / "report.md", _markdown(outcomes, sizes, lrs, panels, recommendation))
    draw_heatmap(out / "learnability.png", sizes, lrs,
                 {_panel_title(key): {cell: (o["outcome"], "\n".join(filter(None, [_loss(o), o["stopped_by"]])))
                                      for cell, o in panel.items()}
                  for key, panel in panels.items()})


def summary_line(outcome: dict) -> str:
    """One line per finished run, as the progress bar prints it."""
    loss = outcome["validation_loss"]
    text = f"{outcome['name']}: {outcome['outcome']}" + (f" ({outcome['stopped_by']})" if outcome["stopped_by"] else "")
    text += f", val {loss:.3f} (unigram {outcome['unigram_loss']:.3f}{ngram_part(outcome)})" if loss is not None else ""
    return text + (f" — {outcome['cause']}" if outcome["cause"] else "")


def _write_csv(path: Path, outcomes: list[dict]) -> None:
    tmp = path.with_name(f".csv.tmp-{os.getpid()}")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for o in sorted(outcomes, key=lambda o: (_size_order(o), *_setting(o), o["lr"])):
            writer.writerow(o)
    os.replace(tmp, path)


def _size_order(outcome: dict) -> tuple:
    size = resolve_size(outcome["size"])
    return size.layers * size.hidden * size.hidden, size.hidden, size.layers


def _setting(o: dict) -> tuple:
    return o["variant"], o["lr_scaling"], o["max_grad_norm"], o["mask_rate"], o["warmup"]


def _panels(outcomes: list[dict]) -> dict[tuple, dict[tuple[str, float], dict]]:
    """Per setting, its runs by (size, lr); the plain variant and scaling first."""
    panels: dict[tuple, dict] = {}
    for o in outcomes:
        panels.setdefault(_setting(o), {})[(o["size"], o["lr"])] = o
    return dict(sorted(panels.items(), key=lambda kv: (kv[0][0] != PLAIN[0], kv[0][1] != PLAIN[1], *kv[0][2:])))


def _panel_title(key: tuple) -> str:
    variant, scaling, clip, mask_rate, warmup = key
    parts = [variant, f"warm-up {warmup:g}"]
    if scaling != "none":
        parts.append(f"lr scaling {scaling}")
    if clip != 1.0:
        parts.append(f"clip {clip:g}")
    if mask_rate != DEFAULT_MASK_RATE:
        parts.append(f"mask {mask_rate:g}")
    return ", ".join(parts)


def _loss(o: dict) -> str:
    return "NaN" if o["validation_loss"] is None else f"{o['validation_loss']:.3f}"


def _border(panel: dict, sizes: list[str]) -> str:
    """Per size, the learning rates at which it learned."""
    parts = []
    for size in sizes:
        learned = sorted(lr for (s, lr), o in panel.items() if s == size and o["outcome"] == "learned")
        tried = [lr for (s, lr) in panel if s == size]
        if not tried:
            continue
        parts.append(f"{size}: " + (f"learns at {', '.join(f'{lr:g}' for lr in learned)}" if learned
                                    else "learns at no learning rate tried"))
    return "; ".join(parts)


def _remedies(outcomes: list[dict]) -> list[str]:
    """Each run of another setting beside the plain one (post-LN, no scaling, clip 1, shortest warm-up) of its cell.

    A line starts with "moves the border" where the plain run did not learn and this one did.
    """
    plain_key = (*PLAIN, min(o["warmup"] for o in outcomes))
    base = {(o["size"], o["lr"]): o for o in outcomes if _setting(o) == plain_key}
    lines = []
    for o in outcomes:
        b = base.get((o["size"], o["lr"]))
        if b is None or o is b:
            continue
        moved = b["outcome"] != "learned" and o["outcome"] == "learned"
        delta = ("" if o["validation_loss"] is None or b["validation_loss"] is None
                 else f", Δ val {o['validation_loss'] - b['validation_loss']:+.3f}")
        lines.append(f"- {'**moves the border** ' if moved else ''}{o['size']} at lr {o['lr']:g}: "
                     f"{_panel_title(plain_key)} {b['outcome']} (val {_loss(b)}) → "
                     f"{_panel_title(_setting(o))} {o['outcome']} (val {_loss(o)}{delta})")
    return lines


def _markdown(outcomes, sizes, lrs, panels, recommendation) -> str:
    lines = _heading(outcomes)
    for key, panel in panels.items():
        lines += [f"## {_panel_title(key)}", "", "| size | " + " | ".join(f"lr {lr:g}" for lr in lrs) + " |",
                  "|---" * (len(lrs) + 1) + "|"]
        for size in sizes:
            cells = [_cell(panel[(size, lr)]) if (size, lr) in panel else "" for lr in lrs]
            lines.append(f"| {size} | " + " | ".join(cells) + " |")
        lines += ["", f"Border: {_border(panel, sizes)}.", ""]
    lines += _stopped_section(outcomes)
    causes = [f"- {o['name']}: {o['outcome']} ({o['rule']}). {o['cause']}" for o in outcomes
              if o["outcome"] not in ("learned", "stopped")]
    lines += ["## Causes of the runs that did not learn", ""] + (causes or ["- none finished without learning"])
    remedies = _remedies(outcomes)
    lines += ["", "## Remedies against the plain setting, cell by cell", ""] + (remedies or ["- none in this grid"])
    lines += ["", "## Recommended", ""]
    for size, r in recommendation["sizes"].items():
        lines.append(f"- {size}: lr {r['lr']:g}, warm-up {r['warmup']:g}, {r['variant']}, lr scaling "
                     f"{r['lr_scaling']} (val {r['validation_loss']:.3f} vs unigram {r['unigram_loss']:.3f}; "
                     f"run {r['run']})")
    for size, why in recommendation["unlearned"].items():
        lines.append(f"- {size}: no learned run ({why})")
    return "\n".join(lines) + "\n"


def _cell(o: dict) -> str:
    return f"{o['outcome']} {_loss(o)}" + (f" ({o['stopped_by']})" if o["stopped_by"] else "")


def _stopped_section(outcomes: list[dict]) -> list[str]:
    """The runs stopped early, each with its rule or rung in words and numbers, and the compute spent."""
    stopped = [o for o in outcomes if o["outcome"] == "stopped"]
    if not stopped:
        return []
    spent = sum(training_flops(o, o["steps"]) for o in outcomes)
    full = sum(training_flops(o, o["budget_steps"]) for o in outcomes)
    lines = ["## Stopped early", "",
             f"{len(stopped)} of {len(outcomes)} runs stopped early; the grid trained {spent / full:.0%} of the "
             f"compute of every run to its full budget ({spent:.3g} of {full:.3g} training FLOPs, 6N per token plus "
             f"attention). A stopped run keeps its checkpoint: `--resume-stopped` trains it on to the full budget "
             f"on the same schedule.", ""]
    for o in stopped:
        cause = f" Diagnostics: {o['cause']}" if o["cause"] and o["cause"] != o["rule"] else ""
        lines.append(f"- {o['name']}: stopped by {o['stopped_by']} after {o['steps']} of {o['budget_steps']} steps: "
                     f"{o['rule']}.{cause}")
    return lines + [""]


def _heading(outcomes: list[dict]) -> list[str]:
    """The title, the counts and the baselines, and how to read a cell."""
    unigram = next((o["unigram_loss"] for o in outcomes if o["unigram_loss"] is not None), None)
    ngram = next((o["ngram_loss"] for o in outcomes if o.get("ngram_loss") is not None), None)
    return ["# Learnability sweep", "",
            f"{len(outcomes)} runs; unigram loss {unigram if unigram is None else f'{unigram:.3f}'}, n-gram loss "
            f"{ngram if ngram is None else f'{ngram:.3f}'}. "
            f"Outcomes: " + ", ".join(f"{sum(o['outcome'] == k for o in outcomes)} {k}" for k in OUTCOMES) + ".",
            "", "Cells: outcome and final validation loss, every scored token masked. A run learned when it "
            "beats the n-gram baseline (each masked token from its left and right neighbours) in loss and in "
            "masked accuracy by more than the evaluation noise; beating only word frequencies is a plateau.", ""]
