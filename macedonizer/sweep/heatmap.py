"""learnability.png: one panel per setting, sizes down, learning rates across, each cell coloured by its outcome.

Drawn with matplotlib's object-oriented API (``Figure``), so that it needs
no pyplot and leaves the process's matplotlib backend alone.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .outcome import OUTCOMES

COLOURS = {"learned": "#4caf50", "plateau": "#ffb300", "diverged": "#e53935", "undertrained": "#90a4ae",
           "stopped": "#b39ddb"}


def draw(path: Path, sizes: list[str], lrs: list[float], panels: dict[str, dict[tuple[str, float], tuple[str, str]]]
         ) -> None:
    """Write the heatmap; ``panels`` maps a panel's title to its cells: (size, lr) → (outcome, text).

    A stopped run's text names what stopped it under its loss at the stop.
    """
    cmap = ListedColormap(["#ffffff"] + [COLOURS[k] for k in OUTCOMES])
    columns = min(len(panels), 2)
    rows = math.ceil(len(panels) / columns)
    fig = Figure(figsize=(1.3 * len(lrs) * columns + 1.5, 0.7 * len(sizes) * rows + 1.6))
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax, (title, cells) in zip(axes.flat, panels.items()):
        grid = [[1 + OUTCOMES.index(cells[(s, lr)][0]) if (s, lr) in cells else 0 for lr in lrs] for s in sizes]
        ax.imshow(grid, cmap=cmap, vmin=0, vmax=len(OUTCOMES), aspect="auto")
        for i, s in enumerate(sizes):
            for j, lr in enumerate(lrs):
                if (s, lr) in cells:
                    ax.text(j, i, cells[(s, lr)][1], ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(lrs)), [f"{lr:g}" for lr in lrs], fontsize=8)
        ax.set_yticks(range(len(sizes)), sizes, fontsize=8)
        ax.set_xlabel("peak learning rate", fontsize=8)
        ax.set_title(title, fontsize=9)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.legend(handles=[Patch(color=COLOURS[k], label=k) for k in OUTCOMES], loc="lower center",
               ncol=len(OUTCOMES), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.png")
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, path)
