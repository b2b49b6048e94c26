"""The build's ``[downstream]`` table: which tagged files every model is fine-tuned and scored on, and how.

``train``, ``dev`` and ``test`` are CoNLL-U files (relative to the config
file); every other key is a ``FinetuneConfig`` setting (``task``,
``epochs``, ``max_steps``, ``lr`` …), as ``macedonizer finetune`` takes them.
Without the table a build has no downstream stage.

``DOWNSTREAM_FILE`` is what the stage leaves in each model's folder (the
test scores of the model and its baselines, and the files' names), for
its card to read.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from ..configs import FinetuneConfig
from ..errors import MacedonizerError
from ..fields import to_dataclass

FILE_KEYS = ("train", "dev", "test")
DOWNSTREAM_FILE = "downstream.json"


@dataclass(frozen=True)
class DownstreamSection:
    """``[downstream]``: a downstream task every model of the family is fine-tuned on."""

    train: str
    """CoNLL-U training file."""
    dev: str | None = None
    """CoNLL-U file for early stopping; without it, ``dev_share`` of the training sentences."""
    test: str | None = None
    """CoNLL-U file the models are scored on; without it, the dev sentences."""
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)

    def files(self) -> list[str]:
        return [path for path in (self.train, self.dev, self.test) if path]

    def table(self) -> dict:
        """As the config file writes it: the files, then the fine-tuning settings (no None: TOML has no null)."""
        files = {key: getattr(self, key) for key in FILE_KEYS if getattr(self, key)}
        settings = {k: v for k, v in dataclasses.asdict(self.finetune).items() if v is not None}
        return {**files, **settings}


def from_table(table, source: str, relative) -> DownstreamSection | None:
    """Check ``[downstream]`` (None when absent); ``relative`` makes each file relative to the config file."""
    if table is None:
        return None
    if not isinstance(table, dict):
        raise MacedonizerError(f"{source}: [downstream] must be a table.")
    if not isinstance(table.get("train"), str):
        raise MacedonizerError(f"{source}: [downstream] train: name the CoNLL-U training file.")
    files = {}
    for key in FILE_KEYS:
        value = table.get(key)
        if value is not None and not isinstance(value, str):
            raise MacedonizerError(f"{source}: [downstream] {key}: expected a file path.")
        files[key] = relative(value) if value else None
    settings = to_dataclass(FinetuneConfig, {k: v for k, v in table.items() if k not in FILE_KEYS}, source,
                            "downstream")
    return DownstreamSection(**files, finetune=settings)


def portable_section(section: DownstreamSection, portable) -> DownstreamSection:
    """The section with each file named by ``portable`` (its last part)."""
    return dataclasses.replace(section, **{key: portable(getattr(section, key)) for key in FILE_KEYS
                                          if getattr(section, key)})


def record(section: DownstreamSection, evaluation: dict | None, scores: dict) -> dict:
    """The content of a model's ``downstream.json``: what its card and the build summary show.

    ``evaluation`` is ``evaluate_tagger``'s result on the test file (or the dev file); None when neither was
    given, and then the fine-tune's own scores on the sentences it held out are kept.
    """
    if evaluation is not None:
        split = "test" if section.test else "dev"
        tested, words, results = Path(evaluation["test"]).name, evaluation["words"], evaluation["scores"]
    else:
        tuning = section.finetune
        split = f"held-out dev ({tuning.dev_share:.0%} of train, seed {tuning.seed}, by sentence)"
        tested = Path(section.train).name
        words, results = scores["dev"]["words"], scores["scores"]
    return {"task": section.finetune.task, "train": Path(section.train).name, "test": tested, "split": split,
            "words": words, "labels": len(scores["labels"]),
            "scores": {name: {k: s[k] for k in ("accuracy", "macro_f1", "words")} for name, s in results.items()}}
