"""Successive halving, synchronous and per size: which runs go on at each rung.

Each size's runs compete among themselves (the recommendation is per size:
a size whose runs all trail another size's must still get its best one);
with ``halve_per = "variant"`` each size and variant's runs do, so that
every variant's border is drawn.
All of a size's runs train to the first rung; the best ``max(1, n // eta)``
by honest validation loss go on to the next, and so on; the last rung is the
full budget. The rungs sit at ``1/eta^k`` of the budget for every ``k`` with
``1/eta^k ≥ min_share`` (eta 2, min share 0.25: 1/4, 1/2, 1; eta 3, min share 0.1: 1/9, 1/3, 1).

Synchronous, not asynchronous (ASHA): a rung is decided when all its runs
have reached it, so the decisions depend on the curves only, never on which
worker finished first; the same grid gives the same runs with any
``--workers``. Runs that diverged or that a rule stopped are never promoted.
"""

from __future__ import annotations

import math
from collections.abc import Callable

TrainTo = Callable[[list[tuple[str, int]]], dict[str, float]]
"""Trains each named run to its step (where it has not got there yet); their validation losses there (inf where a
run cannot go on: diverged, or stopped by a rule)."""


def rung_steps(total_steps: int, eta: int, min_share: float) -> list[int]:
    """The steps of the rungs, the full budget last."""
    k = math.floor(math.log(1 / min_share, eta) + 1e-9)
    return sorted({max(1, round(total_steps * eta ** -i)) for i in range(k, 0, -1)} | {total_steps})


def halve(groups: dict[str, str], rungs: list[int], eta: int, train_to: TrainTo) -> dict[str, dict]:
    """Run the halving over the runs of ``groups`` (run name → the group it competes in: its size, or its size and
    variant); the runs it stopped, each with its numbers.

    ``train_to`` gets every run of a rung at once, so that it can train them in parallel.
    """
    alive: dict[str, list[str]] = {}
    for name in sorted(groups):
        alive.setdefault(groups[name], []).append(name)
    stopped: dict[str, dict] = {}
    for rung, step in enumerate(rungs, 1):
        values = train_to([(name, step) for names in alive.values() for name in names])
        if step == rungs[-1]:
            break
        for group, names in alive.items():
            ranked = sorted(names, key=lambda name: (_key(values[name]), name))
            keep = max(1, len(names) // eta)
            going_on = [name for name in ranked[:keep] if math.isfinite(values[name])]
            bar = values[going_on[-1]] if going_on else math.inf
            for rank, name in enumerate(ranked, 1):
                if name not in going_on:
                    stopped[name] = {"rung": rung, "rungs": len(rungs) - 1, "step": step, "group": group,
                                     "value": values[name], "rank": rank, "of": len(names), "kept": keep,
                                     "bar": bar}
            alive[group] = going_on
    return stopped


def _key(value: float) -> float:
    return value if math.isfinite(value) else math.inf


def describe(decision: dict, total_steps: int) -> str:
    """One sentence: where and why the halving stopped a run, with its numbers."""
    value = decision["value"]
    loss = f"validation loss {value:.3f}" if math.isfinite(value) else "no finite validation loss"
    bar = f" (the last kept: {decision['bar']:.3f})" if math.isfinite(decision["bar"]) else ""
    return (f"halving rung {decision['rung']} of {decision['rungs']} at step {decision['step']} "
            f"({decision['step'] / total_steps:.0%} of the budget): {loss}, {_ordinal(decision['rank'])} of "
            f"{decision['of']} {decision['group']} runs; the best {decision['kept']} went on{bar}")


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
