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
    tested = next((row.downstream for row in result.models if row.downstream), None)
    if tested:
        lines.append(f"{tested['task'].upper()} is the accuracy of each model fine-tuned on {tested['train']}, "
                     f"scored on {tested['test']} ({tested['split']}), beside the most-frequent-tag tagger and the "
                     "same architecture fine-tuned from a random initialisation: what pretraining bought.")
    return "\n".join(lines)


def _table(rows: list[ModelRow]) -> list[str]:
    header = ("model", "parameters", "accuracy", "unigram", "n-gram", "verdict", "train time", "output", "Hub")
    tested = next((r.downstream for r in rows if r.downstream), None)
    if tested:  # beside the masked-LM columns, before the folder
        task = tested["task"]
        header = (*header[:7], task, f"{task} most-freq", f"{task} random", *header[7:])
    table = [header]
    for r in rows:
        downstream = _downstream_cells(r.downstream) if tested else ()
        table.append((
            r.model, f"{r.parameters / 1e6:.1f}M" if r.parameters else "-",
            _percent(r.accuracy), _percent(r.unigram_accuracy), _percent(r.ngram_accuracy),
            r.verdict if r.verdict == "learned" else r.verdict.upper(),
            duration(r.seconds) if r.seconds is not None else "-",
            *downstream, r.path, r.hub or "-",
        ))
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in table]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines


def _downstream_cells(record: dict | None) -> tuple[str, str, str]:
    """The fine-tuned model's accuracy, the most-frequent-tag tagger's and the random init's."""
    scores = (record or {}).get("scores", {})
    return tuple(_percent(scores[t]["accuracy"] if t in scores else None)
                 for t in ("model", "most_frequent_tag", "random_init"))


def _percent(value: float | None) -> str:
    return f"{value:.1%}" if value is not None else "-"
