"""What a fine-tuned folder says about itself: ``scores.json`` (for machines and cards) and a short README.md.

``scores.json`` keeps every score under ``scores[<tagger>]`` with the same
shape (``accuracy``, ``macro_f1``, ``words``, ``per_tag``), taggers being
``model``, ``most_frequent_tag`` and (unless skipped) ``random_init``, all on
the same dev sentences; a card or a table reads them without knowing
which ran.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch
import transformers

from .. import __version__
from ..configs import FinetuneConfig
from ..files import write_json
from .conllu import Sentence

SCORES_FILE = "scores.json"
TAGGERS = {"model": "fine-tuned model", "most_frequent_tag": "most frequent tag", "random_init": "random init"}
"""Every tagger a score can belong to, with the name tables and cards print."""


def _words(sentences: list[Sentence]) -> int:
    return sum(len(s) for s in sentences)


def write_report(folder: Path, config: FinetuneConfig, *, model: str, train, dev_source: str, labels: list[str],
                 counts: dict[str, list[Sentence]], results: dict, runs: dict) -> None:
    """Write ``scores.json`` and ``README.md`` into ``folder``."""
    scores = {
        "task": config.task,
        "base_model": str(model),
        "train": {"file": str(train), "sentences": len(counts["train"]), "words": _words(counts["train"])},
        "dev": {"source": dev_source, "sentences": len(counts["dev"]), "words": _words(counts["dev"])},
        "labels": labels,
        "scores": {name: results[name] for name in TAGGERS if name in results},
        "training": runs,
        "seconds": round(sum(r["seconds"] for r in runs.values()), 1),
        "settings": asdict(config),
        "versions": {"macedonizer": __version__, "transformers": transformers.__version__,
                     "torch": torch.__version__},
    }
    write_json(Path(folder) / SCORES_FILE, scores)
    (Path(folder) / "README.md").write_text(card(scores), encoding="utf-8")


def _hub_id(model: str) -> str | None:
    """``model`` where it reads as a Hub id (``NAMESPACE/NAME``, not a local folder)."""
    return model if model.count("/") == 1 and not Path(model).exists() and not model.startswith((".", "/")) else None


def score_table(scores: dict) -> str:
    """The scores as a Markdown table, one row per tagger."""
    rows = ["| tagger | accuracy | macro F1 |", "|---|---:|---:|"]
    rows += [f"| {TAGGERS[name]} | {s['accuracy']:.1%} | {s['macro_f1']:.1%} |"
             for name, s in scores["scores"].items()]
    return "\n".join(rows)


def card(scores: dict) -> str:
    """A short model card: metadata, what was trained on what, the scores beside the baselines, usage."""
    hub_id = _hub_id(scores["base_model"])
    meta = ["---", "language: mk", "pipeline_tag: token-classification", "library_name: transformers",
            *([f"base_model: {hub_id}"] if hub_id else []), "tags:", "- part-of-speech", "- upos", "---"]
    train, dev = scores["train"], scores["dev"]
    random_init = (" and the same architecture fine-tuned identically from a random initialisation"
                   if "random_init" in scores["scores"] else "")
    return "\n".join(meta) + f"""

# Macedonian UPOS tagger

Fine-tuned from `{scores['base_model']}` to tag Universal POS ({len(scores['labels'])} tags) on
{train['sentences']:,} sentences ({train['words']:,} words) of `{Path(train['file']).name}`, with
`macedonizer finetune`, early stopping on {dev['source']}.

Scores on those dev sentences ({dev['words']:,} words; words as the CoNLL-U file splits them),
beside the most-frequent-tag tagger learned from the same training file{random_init}:

{score_table(scores)}

```python
from transformers import pipeline

tagger = pipeline("token-classification", model="PATH_OR_REPO_ID")
tagger("Јазикот е жив.")
```

Each word is tagged on its first word piece (the pipeline tags every piece; keep the first of each word).
"""
