"""The learnability sweep: a grid of short pretraining runs, classified, explained and reported.

Every grid point (size × learning rate × warm-up × variant × learning-rate
scaling × clipping × masking rate) is one short run of the pretraining
engine. The modules, one idea each:

* ``config``: ``SweepConfig`` (the grid and the budget; it checks itself),
  its one loader ``SweepConfig.from_table``, and ``Point``, one run.
* ``grid``: ``run``, training the points not yet finished in a folder, in
  this process or in ``workers``, stopping runs early where asked.
* ``rules``: ``Watch``, what stops one run early: the rules that condemn it
  from its own records, and the halving's pause at a rung.
* ``halving``: successive halving, synchronous and per size (``halve``).
* ``fidelity``: one grid in full against the same grid early-stopped:
  compute saved, recommendations and outcomes, the outcome at 10/25/50%.
* ``outcome``: ``classify``, the outcome of a run (learned, plateau,
  diverged, undertrained; "learned" is :mod:`macedonizer.verdict`'s call;
  stopped, by early stopping), and the record a run leaves.
* ``causes``: ``explain``, the likely cause of a run that did not learn, from
  its diagnostics, with numbers.
* ``recommendation``: per size, the learned run with the lowest validation
  loss (``recommended``, ``recommended_lr``).
* ``report``: runs.csv, report.md and recommended.json; ``heatmap``:
  learnability.png.
"""

from __future__ import annotations

from . import fidelity
from .causes import explain
from .config import EARLY_STOPS, Point, SweepConfig
from .grid import run
from .outcome import MIN_POINTS, OUTCOME_FILE, OUTCOMES, RISE, SMOOTH, STILL_FALLING, classify, load_outcomes
from .recommendation import recommended, recommended_lr
from .report import write_report
from .rules import RULES

__all__ = ["EARLY_STOPS", "MIN_POINTS", "OUTCOMES", "OUTCOME_FILE", "RISE", "RULES", "SMOOTH", "STILL_FALLING",
           "Point", "SweepConfig", "classify", "explain", "fidelity", "load_outcomes", "recommended",
           "recommended_lr", "run", "write_report"]
