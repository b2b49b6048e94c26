"""Running a build: which stages are up to date, which resume, which run; and what the family came to.

Each stage writes a manifest (``OUT/manifests/<stage>.json``) with a
fingerprint of its part of the config, of its input files and of the runs
of the stages it depends on. A stage is skipped when its manifest says it
finished with the same fingerprint and its output is still there; a stage
that runs gets a new run id, so everything after it runs too. A pretraining
whose manifest says "running" with the same fingerprint resumes from its
last checkpoint.

Nothing here prints: ``execute`` and ``run`` hand each stage's turn to an
``on_event`` callback and return typed results; ``macedonizer build`` prints
them (:mod:`macedonizer.build.report` words them).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import MacedonizerError
from ..files import read_json, write_text_atomic
from ..verdict import judge
from .config import BuildConfig, resolved_table
from .downstream import DOWNSTREAM_FILE
from .stages import Build, Outcome, Stage, plan

UP_TO_DATE, RUNNING, RESUMING, DONE = "up to date", "running", "resuming", "done"
"""The states a stage's turn reports, in ``StageEvent.state``."""


def fingerprint(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Manifests:
    """One JSON file per stage: its fingerprint, status, run id and result."""

    def __init__(self, folder: Path):
        self.folder = folder

    def _path(self, stage: str) -> Path:
        return self.folder / (re.sub(r"[^\w.-]", "-", stage) + ".json")

    def get(self, stage: str) -> dict | None:
        return read_json(self._path(stage))

    def run_id(self, stage: str) -> str | None:
        record = self.get(stage)
        return record["run_id"] if record and record["status"] == "done" else None

    def write(self, stage: str, record: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self._path(stage), json.dumps(record, indent=2, default=str))


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class StageEvent:
    """A stage's turn as it happens: its state (up to date, running, resuming) and, once done, its outcome."""

    number: int
    total: int
    name: str
    width: int
    """The longest stage name of the build, for lines that align."""
    state: str
    seconds: float | None = None
    outcome: Outcome | None = None


@dataclass(frozen=True)
class StageRecord:
    """What became of one stage in a build (a row of build.json's "stages")."""

    stage: str
    ran: bool
    seconds: float


@dataclass(frozen=True)
class ModelRow:
    """One model of the family after the build (a row of build.json's "models")."""

    model: str
    parameters: int | None
    accuracy: float | None
    unigram_accuracy: float | None
    loss: float | None
    unigram_loss: float | None
    ngram_accuracy: float | None
    ngram_loss: float | None
    verdict: str
    seconds: float | None
    """Its training time."""
    path: str
    hub: str | None
    """Its Hub URL, when this build published it."""
    guesses: dict
    """The top 5 guesses for each of the card's example sentences."""
    downstream: dict | None = None
    """Its ``downstream.json`` (fine-tuned on the [downstream] task, beside the baselines), when the build has one."""


@dataclass(frozen=True)
class BuildResult:
    """A finished build: the resolved config, each stage's record, each model's row, the time it took."""

    config: dict
    stages: list[StageRecord]
    models: list[ModelRow]
    seconds: float
    finished: str
    out: str | None = None
    """The build folder: build.json names each model's folder relative to it."""

    def record(self) -> dict:
        """The content of ``OUT/build.json`` (no absolute path: it reads alike in any folder)."""
        models = [{**dataclasses.asdict(m), "path": os.path.relpath(m.path, self.out) if self.out else m.path}
                  for m in self.models]
        return {"config": self.config, "stages": [dataclasses.asdict(s) for s in self.stages],
                "models": models, "seconds": round(self.seconds, 1), "finished": self.finished}


# ---------------------------------------------------------------- running


def execute(stages: list[Stage], manifests: Manifests, force: bool = False,
            on_event: Callable[[StageEvent], None] | None = None) -> list[StageRecord]:
    """Run what is not up to date; return one record per stage."""
    on_event = on_event or (lambda event: None)
    width = max(len(s.name) for s in stages)
    records = []
    for number, stage in enumerate(stages, 1):
        event = functools.partial(StageEvent, number, len(stages), stage.name, width)
        key = {"stage": stage.key(), "after": {name: manifests.run_id(name) for name in stage.after}}
        fp = fingerprint(key)
        previous = manifests.get(stage.name)
        if (not force and previous and previous["status"] == "done" and previous["fingerprint"] == fp
                and stage.done()):
            on_event(event(UP_TO_DATE))
            records.append(StageRecord(stage.name, ran=False, seconds=0.0))
            continue
        resume = (stage.resumable and not force and previous is not None and previous["status"] == "running"
                  and previous["fingerprint"] == fp)
        on_event(event(RESUMING if resume else RUNNING))
        outcome, seconds = _run_stage(stage, manifests, key, fp, resume)
        on_event(event(DONE, seconds, outcome))
        records.append(StageRecord(stage.name, ran=True, seconds=round(seconds, 1)))
    return records


def _run_stage(stage: Stage, manifests: Manifests, key: dict, fp: str, resume: bool) -> tuple[Outcome, float]:
    """Run one stage between a "running" and a "done" manifest."""
    started = time.time()
    manifests.write(stage.name, {"stage": stage.name, "status": "running", "fingerprint": fp,
                                 "run_id": _run_id(fp, manifests.get(stage.name)), "key": key, "started": _now()})
    outcome = stage.run(resume)
    seconds = time.time() - started
    manifests.write(stage.name, {**manifests.get(stage.name), "status": "done", "seconds": round(seconds, 1),
                                 "finished": _now(), "result": outcome.summary, "url": outcome.url})
    return outcome, seconds


def _run_id(fp: str, previous: dict | None) -> str:
    """A new id for each run of a stage in a folder, the same in every folder: the fingerprint and the id of
    the run before (none in a fresh folder), so that two fresh builds of one config write the same manifests."""
    return hashlib.sha256(json.dumps([fp, (previous or {}).get("run_id")]).encode()).hexdigest()[:32]


def summarise(build: Build, manifests: Manifests) -> list[ModelRow]:
    """One row per model of the family: its scores against the baselines, its folder and its Hub URL."""
    rows = []
    for name in build.config.family:
        directory = build.model_dir(name)
        evaluation = read_json(directory / "eval.json") or {}
        validation = evaluation.get("validation", {})
        rows.append(ModelRow(
            model=name, parameters=evaluation.get("parameters"),
            accuracy=validation.get("masked_accuracy"), unigram_accuracy=validation.get("unigram_accuracy"),
            loss=validation.get("loss"), unigram_loss=validation.get("unigram_loss"),
            ngram_accuracy=validation.get("ngram_accuracy"), ngram_loss=validation.get("ngram_loss"),
            verdict=judge(validation or None).level, seconds=evaluation.get("seconds"),
            path=str(directory), hub=(manifests.get(f"push {name}") or {}).get("url"),
            guesses=(read_json(directory / "heldout.json") or {}).get("fill_check") or {},
            downstream=read_json(directory / DOWNSTREAM_FILE) if build.config.downstream else None,
        ))
    return rows


def run(config: BuildConfig, out: str | os.PathLike, force: bool = False, push: bool = False,
        progress: bool = True, on_event: Callable[[StageEvent], None] | None = None) -> BuildResult:
    """Run the build; write ``OUT/build.json`` (config, stages, models) and return it as a ``BuildResult``."""
    if push and not config.push.namespace:
        raise MacedonizerError("Pushing needs a namespace: --push NAMESPACE or [push] namespace.")
    started = time.time()
    build = Build(config, Path(out), push=push, progress=progress)
    manifests = Manifests(build.manifests_dir)
    stages = execute(plan(build), manifests, force=force, on_event=on_event)
    result = BuildResult(config=resolved_table(config, portable_paths=True), stages=stages,
                         models=summarise(build, manifests), seconds=time.time() - started, finished=_now(),
                         out=str(build.out))
    write_text_atomic(build.out / "build.json", json.dumps(result.record(), indent=2, ensure_ascii=False))
    return result


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
