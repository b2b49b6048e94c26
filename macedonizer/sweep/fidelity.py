"""Fidelity of early stopping, measured: one grid trained in full and with early stopping, side by side.

``compare`` takes the outcome records of both (``load_outcomes``) and says
what early stopping saved (training FLOPs, steps, seconds), whether each
size gets the same recommendation, and whether each cell gets the same
outcome (a stopped cell is set against what its run came to in full).
``predictions`` reads the full runs' own curves: cut at 10%, 25% and 50% of
the budget and classified by the same rules as a finished run (the last
validation at or before the cut), how often the outcome there is the final
outcome (a confusion table per share), and whether each size's lowest
validation loss there is already its recommended run. ``write`` puts both in
``fidelity.md`` and ``fidelity.json`` in the early-stopped sweep's folder.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from ..errors import MacedonizerError
from ..files import read_jsonl, write_text_atomic
from .outcome import OUTCOMES, classify, load_outcomes, training_flops
from .recommendation import recommend

SHARES = (0.1, 0.25, 0.5)
"""Shares of the budget at which the full runs' outcomes are read."""
FIDELITY_FILE = "fidelity.md"


def compare(full: list[dict], early: list[dict]) -> dict:
    """Compute saved, recommendation per size and outcome per cell: ``full`` against ``early`` (outcome records)."""
    by_name = {o["name"]: o for o in early}
    if sorted(by_name) != sorted(o["name"] for o in full):
        raise MacedonizerError("The two sweeps hold different grids: compare a grid with the same grid early-stopped.")
    spent = {k: sum(training_flops(o, o["steps"] or 0) for o in runs) for k, runs in (("full", full), ("early", early))}
    steps = {k: sum(o["steps"] or 0 for o in runs) for k, runs in (("full", full), ("early", early))}
    seconds = {k: sum(o["seconds"] or 0 for o in runs) for k, runs in (("full", full), ("early", early))}
    sizes = list(dict.fromkeys(o["size"] for o in full))
    chosen = {k: recommend(runs, sizes)["sizes"] for k, runs in (("full", full), ("early", early))}
    recommendations = {size: {"full": chosen["full"].get(size, {}).get("run"),
                              "early": chosen["early"].get(size, {}).get("run")} for size in sizes}
    for entry in recommendations.values():
        entry["same"] = entry["full"] == entry["early"]
    lowest = {size: {k: _lowest(runs, size) for k, runs in (("full", full), ("early", early))} for size in sizes}
    for entry in lowest.values():
        entry["same"] = entry["full"] == entry["early"]
    cells = {o["name"]: {"size": o["size"], "full": o["outcome"], "early": by_name[o["name"]]["outcome"],
                         "stopped_by": by_name[o["name"]]["stopped_by"]} for o in full}
    finished = [c for c in cells.values() if c["early"] != "stopped"]
    return {
        "compute": {"flops": spent, "steps": steps, "seconds": seconds, "share": spent["early"] / spent["full"]},
        "recommendations": recommendations, "same_recommendations": all(e["same"] for e in recommendations.values()),
        "lowest": lowest,
        "cells": cells, "finished_same": sum(c["full"] == c["early"] for c in finished), "finished": len(finished),
        "stopped_learned": sorted(n for n, c in cells.items() if c["early"] == "stopped" and c["full"] == "learned"),
    }


def _lowest(runs: list[dict], size: str) -> str | None:
    """The run of ``size`` trained to its full budget with the lowest final validation loss, learned or not."""
    done = [o for o in runs if o["size"] == size and o["outcome"] != "stopped" and o["validation_loss"] is not None
            and math.isfinite(o["validation_loss"])]
    return min(done, key=lambda o: o["validation_loss"])["name"] if done else None


def outcome_at(train: list[dict], vals: list[dict], step: int, start_loss: float) -> tuple[str, dict | None]:
    """The outcome a run would have had, classified at ``step`` from its curve; and the validation it used."""
    losses = [r["loss"] for r in train if r["step"] <= step]
    seen = [r for r in vals if r["step"] <= step]
    if not seen:
        return "undertrained", None
    nan_step = next((r["step"] for r in train if r["step"] <= step and not math.isfinite(r["loss"])), None)
    return classify(losses, seen[-1], start_loss, nan_step)[0], seen[-1]


def predictions(curves: list[dict], final: list[dict], shares: tuple[float, ...] = SHARES) -> dict:
    """Per share: the confusion table (outcome at the share → final outcome) and how often they agree.

    ``curves`` are ``{"name", "train", "val", "start_loss", "budget_steps"}`` of the full runs; ``final`` their
    outcome records.
    """
    by_name = {o["name"]: o for o in final}
    sizes = list(dict.fromkeys(o["size"] for o in final))
    best = {size: entry["run"] for size, entry in recommend(final, sizes)["sizes"].items()}
    result = {}
    for share in shares:
        table = {a: {b: 0 for b in OUTCOMES[:4]} for a in OUTCOMES[:4]}
        lowest: dict[str, tuple[float, str]] = {}
        steps_used = set()
        for curve in curves:
            step = round(share * curve["budget_steps"])
            outcome, val = outcome_at(curve["train"], curve["val"], step, curve["start_loss"])
            table[outcome][by_name[curve["name"]]["outcome"]] += 1
            steps_used.add(val["step"] if val else None)
            size = by_name[curve["name"]]["size"]
            if val is not None and math.isfinite(val["loss"]):
                lowest[size] = min(lowest.get(size, (math.inf, "")), (val["loss"], curve["name"]))
        agree = sum(table[k][k] for k in table)
        result[share] = {"table": table, "agree": agree, "runs": len(curves), "validation_steps": sorted(
            s for s in steps_used if s is not None), "without_validation": None in steps_used,
            "best_is_recommended": {size: lowest.get(size, (0, None))[1] == run for size, run in best.items()}}
    return result


def read_curves(out: Path) -> list[dict]:
    """The training and validation curves of every run in a sweep folder."""
    curves = []
    for outcome in load_outcomes(out):
        run_dir = out / "runs" / outcome["name"]
        records = read_jsonl(run_dir / "metrics.jsonl")
        training = json.loads((run_dir / "training_config.json").read_text(encoding="utf-8"))
        curves.append({"name": outcome["name"], "budget_steps": outcome["budget_steps"],
                       "start_loss": math.log(training["data"]["vocab_size"]),
                       "train": [r for r in records if r["split"] == "train"],
                       "val": [r for r in records if r["split"] == "val"]})
    return curves


def measure(full_dir: str | os.PathLike, early_dir: str | os.PathLike) -> dict:
    """``compare`` and ``predictions`` of two sweep folders: the grid in full, and early-stopped."""
    full_dir, early_dir = Path(full_dir), Path(early_dir)
    full, early = load_outcomes(full_dir), load_outcomes(early_dir)
    if not full or not early:
        raise MacedonizerError(f"Both {full_dir} and {early_dir} must hold finished sweep runs.")
    unfinished = [o["name"] for o in full if o["outcome"] == "stopped"]
    if unfinished:
        raise MacedonizerError(f"{full_dir} holds runs stopped early ({unfinished[0]}, …): the full grid must run "
                               "every run to the end.")
    return {"full": str(full_dir), "early": str(early_dir), **compare(full, early),
            "predictions": predictions(read_curves(full_dir), full)}


def write(full_dir: str | os.PathLike, early_dir: str | os.PathLike) -> Path:
    """fidelity.md and fidelity.json in ``early_dir``; the path of the first."""
    result = measure(full_dir, early_dir)
    path = Path(early_dir) / FIDELITY_FILE
    write_text_atomic(path.with_suffix(".json"), json.dumps(result, indent=2))
    write_text_atomic(path, markdown(result))
    return path


def summary(result: dict) -> str:
    """Two lines: the compute saved, and whether the recommendations and outcomes held."""
    same = sum(e["same"] for e in result["recommendations"].values())
    lowest = sum(e["same"] for e in result["lowest"].values())
    return (f"early stopping trained {result['compute']['share']:.0%} of the full grid's compute; "
            f"same recommendation for {same} of {len(result['recommendations'])} sizes, same lowest final "
            f"validation loss (learned or not) for {lowest}\n"
            f"same outcome in {result['finished_same']} of {result['finished']} cells it finished; "
            f"{len(result['stopped_learned'])} stopped cells learned in full")


def markdown(result: dict) -> str:
    compute = result["compute"]
    lines = ["# Early stopping against the full grid", "", f"Full grid: `{result['full']}`; early-stopped: "
             f"`{result['early']}`.", "", summary(result).replace("\n", ".\n") + ".", "", "## Compute", "",
             "| | full | early-stopped | early / full |", "|---|---|---|---|"]
    for key, label in (("flops", "training FLOPs"), ("steps", "steps"), ("seconds", "training seconds")):
        full, early = compute[key]["full"], compute[key]["early"]
        lines.append(f"| {label} | {full:.3g} | {early:.3g} | {early / full:.0%} |" if full
                     else f"| {label} | - | - | - |")
    lines += ["", "## Recommendation per size", "", "| size | full | early-stopped | same |", "|---|---|---|---|"]
    for size, entry in result["recommendations"].items():
        lines.append(f"| {size} | {entry['full'] or 'none'} | {entry['early'] or 'none'} | "
                     f"{'yes' if entry['same'] else 'NO'} |")
    lines += ["", "The run of each size with the lowest final validation loss, learned or not (the recommendation "
              "when one learned):", "", "| size | full | early-stopped | same |", "|---|---|---|---|"]
    for size, entry in result["lowest"].items():
        lines.append(f"| {size} | {entry['full'] or 'none'} | {entry['early'] or 'none'} | "
                     f"{'yes' if entry['same'] else 'NO'} |")
    lines += ["", "## Outcome per cell", "", "| run | full | early-stopped | same |", "|---|---|---|---|"]
    for name, cell in result["cells"].items():
        early = cell["early"] + (f" ({cell['stopped_by']})" if cell["stopped_by"] else "")
        same = "yes" if cell["full"] == cell["early"] else "stopped" if cell["early"] == "stopped" else "NO"
        lines.append(f"| {name} | {cell['full']} | {early} | {same} |")
    lines += ["", "## The outcome at a share of the budget against the final one (full runs' curves)", "",
              "Each full run cut at the share and classified by the rules of a finished run, with the last "
              "validation at or before the cut (a run with none yet counts as undertrained).", ""]
    for share, entry in result["predictions"].items():
        lines += _confusion(float(share), entry)
    return "\n".join(lines) + "\n"


def _confusion(share: float, entry: dict) -> list[str]:
    kinds = OUTCOMES[:4]
    where = ", ".join(map(str, entry["validation_steps"])) or "none"
    lines = [f"### {share:.0%} of the budget (validations of step {where}"
             f"{'; some runs had none yet' if entry['without_validation'] else ''})", "",
             "| at the share ↓ / final → | " + " | ".join(kinds) + " |", "|---" * (len(kinds) + 1) + "|"]
    for kind in kinds:
        lines.append(f"| {kind} | " + " | ".join(str(entry["table"][kind][k]) for k in kinds) + " |")
    best = entry["best_is_recommended"]
    lines += ["", f"Same outcome for {entry['agree']} of {entry['runs']} runs. The lowest validation loss at "
              f"{share:.0%} is the recommended run for {sum(best.values())} of {len(best)} sizes with one.", ""]
    return lines
