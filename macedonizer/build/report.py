"""What ``macedonizer build`` shows, as text: a line per stage event and the summary of the family.

The library returns events and results (:mod:`macedonizer.build.executor`);
these functions word them, and the command line prints the words.
"""

from __future__ import annotations

from .executor import DONE, BuildResult, ModelRow, StageEvent


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def stage_line(event: StageEvent) -> str:
    """``[3/7] pretrain tiny  running``, and once it is done ``… done in 1m02s: <its outcome>``."""
    prefix = f"[{event.number}/{event.total}] {event.name:<{event.width}}"
    if event.state == DONE:
        return f"{prefix}  done in {duration(event.seconds)}: {event.outcome.summary}"
    return f"{prefix}  {event.state}"


def summary(result: BuildResult) -> str:
    """The family as a table (scores against the baselines, folder, Hub URL), the card sentences' guesses,
    and how long the build took."""
    lines = ["", *_table(result.models)]
    for row in result.models:
        if row.guesses:
            lines += ["", f"{row.model}'s top 5 guesses for the card's example sentences:"]
            lines += [f"  {sentence}  →  " + ", ".join(g["token"] for g in guesses)
                      for sentence, guesses in row.guesses.items()]
    lines += ["", f"Build finished in {duration(result.seconds)}. Masked accuracy is on held-out validation text, "
              "every scored token masked; 'unigram' always predicts the most frequent token, 'n-gram' predicts "
              "each masked token from its neighbours. A model learned when it beats the n-gram baseline beyond "
              "noise."]
    return "\n".join(lines)


def _table(rows: list[ModelRow]) -> list[str]:
    header = ("model", "parameters", "accuracy", "unigram", "n-gram", "verdict", "train time", "output", "Hub")
    table = [header]
    for r in rows:
        table.append((
            r.model, f"{r.parameters / 1e6:.1f}M" if r.parameters else "-",
            _percent(r.accuracy), _percent(r.unigram_accuracy), _percent(r.ngram_accuracy),
            r.verdict if r.verdict == "learned" else r.verdict.upper(),
            duration(r.seconds) if r.seconds is not None else "-",
            r.path, r.hub or "-",
        ))
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in table]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines


def _percent(value: float | None) -> str:
    return f"{value:.1%}" if value is not None else "-"
