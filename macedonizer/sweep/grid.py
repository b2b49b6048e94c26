"""Running a grid: every point one run of the pretraining engine, in this process or in ``workers``.

Each point trains in ``OUT/runs/<name>/`` (``pretrain.run``), one after
another or in ``workers`` spawned processes that split the CPU threads. A
finished run leaves ``outcome.json``; a rerun skips it, and an interrupted
run resumes from its checkpoint, so a sweep can be stopped, restarted and
extended with new axis values in the same OUT. ``OUT/sweep.json`` records
the budget and the data, so that one folder never mixes two of them.

Early stopping (``SweepConfig.early_stop``): ``rules`` stops a run whose own
records condemn it (:mod:`.rules`); ``halving`` trains each size's runs rung
by rung and keeps the best (:mod:`.halving`), every run of a rung in the
workers at once. A stopped run keeps its checkpoint and its record says
``stopped``; ``resume_stopped`` trains such runs on to the full budget, on
the same schedule, so they end as if never stopped.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from ..errors import MacedonizerError, TrainingDiverged
from ..files import write_text_atomic
from ..train import pretrain
from ..train.data import build_cache
from ..train.loop import watching
from .config import Point, SweepConfig
from .halving import describe, halve, rung_steps
from .outcome import OUTCOME_FILE, judge_run, read_saved
from .report import summary_line, write_report
from .rules import GRACE, Watch


def run(data_inputs: list[str], tokenizer_dir: str | os.PathLike, out: str | os.PathLike,
        config: SweepConfig | None = None, progress: bool = True, resume_stopped: bool = False) -> Path:
    """Train every grid point not yet finished in ``out``, stopping runs early as ``config.early_stop`` says, then
    write the report; return ``out``. ``resume_stopped`` first trains the runs stopped early on to the full budget."""
    config = config or SweepConfig()
    out = Path(out)
    data = build_cache(list(data_inputs), tokenizer_dir, config.seq_len, progress=progress)
    _claim(out, config, data.folder.name)
    grid = _Grid(list(data_inputs), str(tokenizer_dir), out, config, data.vocab_size, progress)
    points = config.points()
    if resume_stopped:
        grid.train([(p, None) for p in points if (grid.saved(p) or {}).get("outcome") == "stopped"],
                   "resume stopped", rules=False)
    if "halving" in config.early_stop:
        _halving(grid, points)
    else:
        grid.train([(p, None) for p in points if grid.saved(p) is None], "sweep", rules="rules" in config.early_stop)
    write_report(out)
    return out


@dataclass
class _Grid:
    """Where a sweep's runs live and what they train with; trains lists of them."""

    data_inputs: list[str]
    tokenizer_dir: str
    out: Path
    config: SweepConfig
    vocab_size: int
    progress: bool

    def run_dir(self, point: Point) -> Path:
        return self.out / "runs" / point.name

    def saved(self, point: Point) -> dict | None:
        return read_saved(self.run_dir(point))

    def train(self, jobs: list[tuple[Point, tuple[int, int] | None]], desc: str, rules: bool) -> None:
        """Train each point to the end, or to the (step, rung) it pauses at, with one progress bar."""
        if not jobs:
            return
        bar = tqdm(total=len(jobs), desc=desc, unit=" runs", disable=None) if self.progress else None
        args = [(self.data_inputs, self.tokenizer_dir, str(self.run_dir(p)), p, self.config, pause, rules,
                 self.vocab_size) for p, pause in jobs]
        try:
            for outcome in _train_all(args, self.config.workers):
                if bar is not None:
                    bar.update(1)
                    bar.write(summary_line(outcome))
        finally:
            if bar is not None:
                bar.close()


def _halving(grid: _Grid, points: list[Point]) -> None:
    """Successive halving per size; the runs it stops get the reason, with their rank, in their record."""
    config = grid.config
    total = points[0].train_config(config).steps()
    rungs = rung_steps(total, config.eta, config.min_share)
    by_name = {p.name: p for p in points}

    def train_to(requests: list[tuple[str, int]]) -> dict[str, float]:
        step = requests[0][1]
        rung = rungs.index(step) + 1
        pause = (step, rung) if step < total else None
        grid.train([(by_name[name], pause) for name, _ in requests
                    if _value_at(grid.saved(by_name[name]), step) is None],
                   f"rung {rung}/{len(rungs)} (step {step})", rules="rules" in config.early_stop)
        values = {name: _value_at(grid.saved(by_name[name]), step) for name, _ in requests}
        return {name: math.inf if value is None else value for name, value in values.items()}

    groups = {p.name: p.size if config.halve_per == "size" else f"{p.size} {p.variant}" for p in points}
    for name, decision in halve(groups, rungs, config.eta, train_to).items():
        point, saved = by_name[name], grid.saved(by_name[name])
        if (saved.get("stop") or {}).get("by") != "rung":
            continue  # finished, or stopped by a rule: its record already says so
        stop = {**saved["stop"], "rung": decision["rung"], "reason": describe(decision, total)}
        outcome = judge_run(grid.run_dir(point), point, None, stop, saved["rungs"])
        write_text_atomic(grid.run_dir(point) / OUTCOME_FILE, json.dumps(outcome, indent=2))


def _value_at(saved: dict | None, step: int) -> float | None:
    """A run's validation loss at a rung's step; None where it must train to it first; inf where it cannot go on."""
    if saved is None:
        return None
    if str(step) in saved.get("rungs", {}):
        return saved["rungs"][str(step)]
    stop = saved.get("stop")
    if stop is not None and stop["by"] == "rung" and stop["step"] < step:
        return None
    loss = saved.get("validation_loss")
    if (stop is not None and stop["by"] == "rule") or loss is None or not math.isfinite(loss):
        return math.inf
    return loss  # finished (or paused past this step): its last validation


def _claim(out: Path, config: SweepConfig, data_name: str) -> None:
    """Record the sweep's budget and data in OUT, or check that OUT holds a sweep of the same ones."""
    settings = {"budget": config.budget(), "data": data_name}
    path = out / "sweep.json"
    if path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved != settings:
            raise MacedonizerError(f"{out} holds a sweep with another budget or other data "
                                   f"({saved['budget']}, {saved['data']}); use another output folder.")
        return
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(settings, indent=2))


def _train_all(jobs: list, workers: int):
    """Outcomes of the jobs as they finish: in this process, or in ``workers`` spawned ones."""
    if workers == 1 or len(jobs) <= 1:
        for job in jobs:
            yield _train_point(*job)
        return
    threads = max(1, torch.get_num_threads() // workers)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_set_threads,
                             initargs=(threads,)) as pool:
        futures = [pool.submit(_train_point, *job) for job in jobs]
        for future in as_completed(futures):
            yield future.result()


def _set_threads(threads: int) -> None:
    torch.set_num_threads(threads)


def _train_point(data_inputs: list[str], tokenizer_dir: str, run_dir: str, point: Point, config: SweepConfig,
                 pause: tuple[int, int] | None, rules: bool, vocab_size: int) -> dict:
    """Train one grid point (resuming where it stopped) to the end or to ``pause`` (step, rung); write outcome.json."""
    run_dir = Path(run_dir)
    rungs = (read_saved(run_dir) or {}).get("rungs", {})
    watch = Watch(point.train_config(config).steps(), math.log(vocab_size), pause[0] if pause else None, rules,
                  grace=max(GRACE, 2 * point.warmup))
    nan_step = None
    try:
        with watching(watch):
            pretrain.run(data_inputs, tokenizer_dir, run_dir, point.train_config(config), point.run_config(config))
    except TrainingDiverged as exc:
        nan_step = exc.step
    stop = watch.stopped if nan_step is None else None
    if stop is not None and stop["by"] == "rung":
        stop["rung"] = pause[1]
    outcome = judge_run(run_dir, point, nan_step, stop, rungs)
    if stop is not None and stop["by"] == "rung":
        outcome["rungs"][str(stop["step"])] = outcome["validation_loss"]
    write_text_atomic(run_dir / OUTCOME_FILE, json.dumps(outcome, indent=2))
    if stop is None:
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)  # optimizer states: only needed to resume
    return outcome
