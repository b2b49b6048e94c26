"""Running a grid: every point one short run of the pretraining engine, in this process or in ``workers``.

Each point trains in ``OUT/runs/<name>/`` (``pretrain.run``), one after
another or in ``workers`` spawned processes that split the CPU threads. A
finished run leaves ``outcome.json``; a rerun skips it, and an interrupted
run resumes from its checkpoint, so a sweep can be stopped, restarted and
extended with new axis values in the same OUT. ``OUT/sweep.json`` records
the budget and the data, so that one folder never mixes two of them.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import torch
from tqdm import tqdm

from ..errors import MacedonizerError, TrainingDiverged
from ..files import write_text_atomic
from ..train import pretrain
from ..train.data import build_cache
from .config import Point, SweepConfig
from .outcome import OUTCOME_FILE, judge_run
from .report import summary_line, write_report


def run(data_inputs: list[str], tokenizer_dir: str | os.PathLike, out: str | os.PathLike,
        config: SweepConfig | None = None, progress: bool = True) -> Path:
    """Train every grid point not yet finished in ``out``, then write the report; return ``out``."""
    config = config or SweepConfig()
    out = Path(out)
    data = build_cache(list(data_inputs), tokenizer_dir, config.seq_len, progress=progress)
    _claim(out, config, data.folder.name)
    points = config.points()
    pending = [p for p in points if not (out / "runs" / p.name / OUTCOME_FILE).is_file()]
    bar = tqdm(total=len(points), initial=len(points) - len(pending), desc="sweep", unit=" runs",
               disable=None) if progress else None
    jobs = [(list(data_inputs), str(tokenizer_dir), str(out / "runs" / p.name), p, config) for p in pending]
    try:
        for outcome in _train_all(jobs, config.workers):
            if bar is not None:
                bar.update(1)
                bar.write(summary_line(outcome))
    finally:
        if bar is not None:
            bar.close()
    write_report(out)
    return out


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


def _train_point(data_inputs: list[str], tokenizer_dir: str, run_dir: str, point: Point,
                 config: SweepConfig) -> dict:
    """Train one grid point (resuming an interrupted one), classify it, write outcome.json."""
    run_dir = Path(run_dir)
    nan_step = None
    try:
        pretrain.run(data_inputs, tokenizer_dir, run_dir, point.train_config(config), point.run_config(config))
    except TrainingDiverged as exc:
        nan_step = exc.step
    outcome = judge_run(run_dir, point, nan_step)
    write_text_atomic(run_dir / OUTCOME_FILE, json.dumps(outcome, indent=2))
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)  # optimizer states: only needed to resume
    return outcome
