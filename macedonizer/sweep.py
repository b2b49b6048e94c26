"""The learnability sweep: a grid of short pretraining runs, classified, explained and reported.

Every grid point (size × learning rate × warm-up × variant × learning-rate
scaling × clipping) is one short run of the pretraining engine
(``pretrain.run``) in ``OUT/runs/<name>/``, one after another or in
``workers`` spawned processes that split the CPU threads. A finished run
leaves ``outcome.json``; a rerun skips it, and an interrupted run resumes
from its checkpoint, so a sweep can be stopped, restarted and extended with
new axis values in the same OUT.

Each run is classified from its validation loss ``L`` (eval.json), the
unigram loss ``U`` (the loss of predicting training-token frequencies, in
eval.json) and its training curve (metrics.jsonl), first rule that holds:

1. ``diverged``: the loss became NaN or infinite, or ``L`` is above the
   loss the run started from (ln of the vocabulary size: a fresh model
   predicts uniformly).
2. ``learned``: :func:`macedonizer.verdict.judge` says so: scored with
   every scored token masked, the model beats the n-gram baseline (left and
   right neighbours) in loss and accuracy by more than the evaluation noise.
3. ``undertrained``: fewer than ``MIN_POINTS`` training-loss records, or the
   smoothed training loss still fell by more than ``STILL_FALLING`` nats
   over the last half of the run: too few steps to tell.
4. ``diverged``: the smoothed training loss rose more than ``RISE`` nats
   above its best (it learned, then fell apart).
5. ``plateau``: anything else: no better than the n-gram baseline (often
   at the unigram loss: word frequencies only).

For every run that did not learn, ``explain`` names the likely cause from
the diagnostics (see ``macedonizer.diagnostics``), with numbers.
``recommended`` picks, per size, the learned run with the lowest
validation loss; a size with no learned run gets no recommendation, and
``recommended_lr`` says so in one sentence.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .diagnostics import read_diagnostics
from .errors import MacedonizerError
from .files import read_jsonl, write_text_atomic
from .verdict import judge

OUTCOMES = ("learned", "plateau", "diverged", "undertrained")
MIN_POINTS = 4
"""Training-loss records needed to judge a curve."""
STILL_FALLING = 0.15
"""Nats the smoothed training loss may still fall over the last half of a run that is not undertrained."""
RISE = 0.5
"""Nats above its best that a training loss may rise before the run counts as diverged."""
SMOOTH = 5
"""Training-loss records in the moving average the curve rules use."""
OUTCOME_FILE = "outcome.json"


@dataclass(frozen=True)
class SweepConfig:
    """The grid and the budget of every run in it."""

    sizes: tuple[str, ...] = ("tiny", "mini", "small")
    lrs: tuple[float, ...] = (1e-4, 3e-4, 1e-3, 3e-3)
    warmups: tuple[float, ...] = (0.0, 0.06)
    """Shares of each run spent warming up."""
    variants: tuple[str, ...] = ("post-ln",)
    """``post-ln`` (BERT) and/or ``pre-ln`` (pre-LayerNorm RoBERTa)."""
    lr_scalings: tuple[str, ...] = ("none",)
    """``none`` and/or ``mup`` (hidden-matrix learning rate × 128 / width)."""
    max_grad_norms: tuple[float, ...] = (1.0,)
    """Gradient clipping norms; ``inf`` turns clipping off."""
    steps: int | None = 300
    tokens: int | None = None
    """Budget per run in tokens, instead of ``steps``."""
    seq_len: int = 64
    batch_size: int = 16
    dropout: float = 0.0
    seed: int = 0
    eval_every: int = 50
    eval_batches: int = 10
    """Validation batches (of 64 sequences) per evaluation, the final one included."""
    diagnostics_every: int = 25
    workers: int = 1
    """Runs trained at the same time, each in its own process with its share of the CPU threads."""
    device: str = "auto"

    def __post_init__(self):
        for name in ("sizes", "lrs", "warmups", "variants", "lr_scalings", "max_grad_norms"):
            value = getattr(self, name)
            if isinstance(value, (str, int, float)) or not value:
                raise MacedonizerError(f"Sweep setting {name} must be a non-empty list.")
            object.__setattr__(self, name, tuple(value))
        if (self.steps is None) == (self.tokens is None):
            raise MacedonizerError("Give the sweep exactly one budget per run: steps or tokens.")
        if self.workers < 1:
            raise MacedonizerError("workers must be at least 1.")

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, **overrides) -> SweepConfig:
        """Settings from a TOML file (keys as the fields here, optional), then the ``overrides`` that are not None.

        A ``tokens`` budget given as an override replaces the ``steps`` one.
        """
        values = {}
        if path is not None:
            try:
                with open(path, "rb") as f:
                    values = tomllib.load(f)
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise MacedonizerError(f"Cannot read the sweep config {path}: {exc}") from None
            unknown = sorted(set(values) - {f.name for f in fields(cls)})
            if unknown:
                raise MacedonizerError(f"Unknown sweep setting(s) in {path}: {', '.join(unknown)}.")
        given = {k: v for k, v in overrides.items() if v is not None}
        if "tokens" in given and "steps" not in given:
            values["steps"] = None
        try:
            return cls(**{**values, **given})
        except TypeError as exc:
            raise MacedonizerError(f"Bad sweep setting: {exc}.") from None

    def points(self) -> list[Point]:
        """The grid, smallest models first so that a border shows early."""
        return [Point(size, lr, warmup, variant, scaling, clip)
                for size in self.sizes for variant in self.variants for scaling in self.lr_scalings
                for clip in self.max_grad_norms for warmup in self.warmups for lr in self.lrs]

    def budget(self) -> dict:
        """The settings every run shares; a sweep folder holds runs of one budget only."""
        return {k: v for k, v in asdict(self).items()
                if k in ("steps", "tokens", "seq_len", "batch_size", "dropout", "seed", "eval_batches")}


@dataclass(frozen=True)
class Point:
    """One run of the grid."""

    size: str
    lr: float
    warmup: float
    variant: str = "post-ln"
    lr_scaling: str = "none"
    max_grad_norm: float = 1.0

    @property
    def name(self) -> str:
        clip = "" if self.max_grad_norm == 1.0 else f"-clip{self.max_grad_norm:g}"
        scaling = "" if self.lr_scaling == "none" else f"-{self.lr_scaling}"
        return f"{self.size.replace('/', '-')}-{self.variant}{scaling}{clip}-wu{self.warmup:g}-lr{self.lr:g}"

    def train_config(self, sweep: SweepConfig):
        from .pretrain import TrainConfig

        checkpoint_every = max(sweep.eval_every, 100)
        return TrainConfig(
            size=self.size, seq_len=sweep.seq_len, batch_size=sweep.batch_size, lr=self.lr, warmup=self.warmup,
            max_grad_norm=self.max_grad_norm, max_steps=sweep.steps, tokens=sweep.tokens, seed=sweep.seed,
            dropout=sweep.dropout, eval_every=sweep.eval_every, eval_batches=sweep.eval_batches,
            final_eval_batches=sweep.eval_batches, checkpoint_every=checkpoint_every, keep_checkpoints=1,
            log_every=max(1, min(10, (sweep.steps or 100) // 20)), variant=self.variant,
            lr_scaling=self.lr_scaling, diagnostics_every=sweep.diagnostics_every)


# ---------------------------------------------------------------- classification


def _smoothed(values: list[float]) -> list[float]:
    out = []
    for i in range(len(values)):
        window = values[max(0, i - SMOOTH + 1) : i + 1]
        out.append(sum(window) / len(window))
    return out


def classify(train_losses: list[float], validation: dict | None, start_loss: float,
             nan_step: int | None = None) -> tuple[str, str]:
    """The outcome of one run and the rule that decided it (see the module docstring).

    ``validation`` is the run's final evaluation record (``eval.json``'s
    ``validation``); whether it learned is :func:`macedonizer.verdict.judge`'s call.
    """
    val_loss = (validation or {}).get("loss")
    if nan_step is not None or val_loss is None or not math.isfinite(val_loss):
        return "diverged", f"the loss became NaN/inf at step {nan_step}" if nan_step else "no finite validation loss"
    if val_loss > start_loss:
        return "diverged", f"validation loss {val_loss:.2f} is above its start ({start_loss:.2f})"
    verdict = judge(validation)
    if verdict.learned:
        return "learned", verdict.reason
    finite = [x for x in train_losses if math.isfinite(x)]
    if len(finite) < MIN_POINTS:
        return "undertrained", f"only {len(finite)} training-loss records"
    curve = _smoothed(finite)
    fall = curve[len(curve) // 2] - curve[-1]
    if fall > STILL_FALLING:
        return "undertrained", f"the training loss still fell {fall:.2f} nats over the last half"
    rise = curve[-1] - min(curve)
    if rise > RISE:
        return "diverged", f"the training loss rose {rise:.2f} nats above its best ({min(curve):.2f})"
    return "plateau", f"flat, and {verdict.reason}"


def explain(outcome: dict, diagnostics: list[dict], seq_len: int) -> str:
    """The likely cause of a run that did not learn, from its diagnostics, with numbers."""
    if outcome["outcome"] == "learned":
        return ""
    causes = []
    val, unigram = outcome.get("validation_loss"), outcome.get("unigram_loss")
    if outcome["outcome"] == "plateau" and val is not None and unigram is not None:
        accuracy, unigram_accuracy = outcome.get("masked_accuracy"), outcome.get("unigram_accuracy")
        numbers = (f"({val:.2f} vs {unigram:.2f}{_ngram_part(outcome)}; masked accuracy {_pct(accuracy)} vs "
                   f"unigram {_pct(unigram_accuracy)})")
        if val > unigram + 0.1:
            causes.append(f"stuck above the unigram loss {numbers}: not even the token frequencies learned yet")
        elif val > unigram - 0.1:
            causes.append(f"plateau at the unigram loss {numbers}: predicting token frequencies")
        else:
            causes.append(f"below the unigram loss but not the n-gram baseline {numbers}: some context, "
                          "less than a table of neighbours")
    if outcome["outcome"] == "undertrained":
        causes.append("still improving when the budget ended: give it more steps")
    if not diagnostics:
        return "; ".join(causes) or outcome["rule"]
    logit = max(diagnostics, key=lambda r: float(r["logit_max"]))
    if float(logit["logit_max"]) > 30:
        causes.append(f"output logits grew to {float(logit['logit_max']):.0f} (std {float(logit['logit_std']):.1f}) "
                      f"by step {logit['step']}")
    attention_logit = max(((float(m), i, r["step"]) for r in diagnostics
                           for i, m in enumerate(r["attention_logit_max"])), default=None)
    if attention_logit and attention_logit[0] > 100:
        causes.append(f"attention logits grew to {attention_logit[0]:.0f} in layer {attention_logit[1]} "
                      f"by step {attention_logit[2]}")
    attention = [(e, i, r["step"]) for r in diagnostics[1:] for i, e in enumerate(r["attention_entropy"])
                 if math.isfinite(float(e))]
    if attention:
        entropy, layer, step = min(attention)
        if entropy < 0.5:
            causes.append(f"attention entropy collapsed to {entropy:.2f} nats in layer {layer} at step {step}")
        final = [float(e) for e in diagnostics[-1]["attention_entropy"]]
        uniform = math.log(seq_len)
        still = [i for i, e in enumerate(final) if e > 0.9 * uniform]
        if still:
            which = "no layer learned where to look" if len(still) == len(final) else \
                f"layer{'s' if len(still) > 1 else ''} {', '.join(map(str, still))} did not learn where to look"
            causes.append(f"attention stayed near uniform ({min(final[i] for i in still):.2f}–"
                          f"{max(final[i] for i in still):.2f} nats of ln {seq_len} = {uniform:.2f}): {which}")
    grads = [(r["grad_norm"], r["step"]) for r in diagnostics]
    layers = sorted((k for k in grads[0][0] if k.startswith("layer.")), key=lambda k: int(k.split(".")[1]))
    if len(layers) > 1:
        ratio, step = max((float(g[layers[-1]]) / max(float(g[layers[0]]), 1e-12), s) for g, s in grads[:4])
        if ratio > 3 or ratio < 1 / 3:
            warm = "no warm-up" if outcome["warmup"] == 0 else f"warm-up {outcome['warmup']:g}"
            causes.append(f"{outcome['variant']}, {warm}: gradients of the top layer {ratio:.1f}× those of the "
                          f"bottom at step {step}")
    update = max(((float(v), k, r["step"]) for r in diagnostics for k, v in r["update_ratio"].items()
                  if k.startswith("layer.")), default=None)
    if update and update[0] > 0.02:
        causes.append(f"one step moved {update[1]}'s weights by {update[0]:.1%} at step {update[2]} "
                      f"(healthy is ~0.1%): the learning rate is too high for this width")
    if outcome["outcome"] == "diverged" and len(causes) == 0:
        causes.append(outcome["rule"])
    return "; ".join(causes) or outcome["rule"]


def _pct(value) -> str:
    return "?" if value is None else f"{value:.1%}"


# ---------------------------------------------------------------- running the grid


def run(data_inputs: list[str], tokenizer_dir: str | os.PathLike, out: str | os.PathLike,
        config: SweepConfig | None = None, progress: bool = True) -> Path:
    """Train every grid point not yet finished in ``out``, then write the report; return ``out``."""
    from .data import build_cache

    config = config or SweepConfig()
    out = Path(out)
    for point in config.points():  # a bad size or variant fails before anything is trained
        _check_point(point)
    data = build_cache(list(data_inputs), tokenizer_dir, config.seq_len, progress=progress)
    _claim(out, config, data.folder.name)
    pending = [p for p in config.points() if not (out / "runs" / p.name / OUTCOME_FILE).is_file()]
    done = len(config.points()) - len(pending)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(config.points()), initial=done, desc="sweep", unit=" runs", disable=None)
    jobs = [(list(data_inputs), str(tokenizer_dir), str(out / "runs" / p.name), p, config) for p in pending]
    try:
        for outcome in _train_all(jobs, config.workers):
            if bar is not None:
                bar.update(1)
                bar.write(_summary_line(outcome))
    finally:
        if bar is not None:
            bar.close()
    write_report(out)
    return out


def _check_point(point: Point) -> None:
    from .pretrain import LR_SCALINGS, VARIANTS, resolve_size

    resolve_size(point.size)
    if point.variant not in VARIANTS:
        raise MacedonizerError(f"Unknown variant {point.variant!r}: use {' or '.join(VARIANTS)}.")
    if point.lr_scaling not in LR_SCALINGS:
        raise MacedonizerError(f"Unknown lr scaling {point.lr_scaling!r}: use {' or '.join(LR_SCALINGS)}.")
    if not point.lr > 0 or not 0 <= point.warmup < 1 or not point.max_grad_norm > 0:
        raise MacedonizerError(f"Bad grid point {point.name}: lr and clipping must be > 0, warm-up in [0, 1).")


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
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    import torch

    threads = max(1, torch.get_num_threads() // workers)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_set_threads,
                             initargs=(threads,)) as pool:
        futures = [pool.submit(_train_point, *job) for job in jobs]
        for future in as_completed(futures):
            yield future.result()


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _train_point(data_inputs: list[str], tokenizer_dir: str, run_dir: str, point: Point,
                 config: SweepConfig) -> dict:
    """Train one grid point (resuming an interrupted one), classify it, write outcome.json."""
    from .pretrain import RunConfig, TrainingDiverged
    from .pretrain import run as pretrain

    run_dir = Path(run_dir)
    nan_step = None
    try:
        pretrain(data_inputs, tokenizer_dir, run_dir, point.train_config(config),
                 RunConfig(device=config.device, progress=False, resume=True))
    except TrainingDiverged as exc:
        nan_step = exc.step
    outcome = _judge(run_dir, point, nan_step)
    write_text_atomic(run_dir / OUTCOME_FILE, json.dumps(outcome, indent=2))
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)  # optimizer states: only needed to resume
    return outcome


def _judge(run_dir: Path, point: Point, nan_step: int | None) -> dict:
    """The outcome record of a finished (or NaN-stopped) run, from the files it wrote."""
    records = read_jsonl(run_dir / "metrics.jsonl")
    train = [r for r in records if r["split"] == "train"]
    vals = [r for r in records if r["split"] == "val"]
    training = json.loads((run_dir / "training_config.json").read_text(encoding="utf-8"))
    evaluation = json.loads((run_dir / "eval.json").read_text(encoding="utf-8")) if nan_step is None else None
    validation = evaluation["validation"] if evaluation else (vals[-1] if vals else {})
    unigram_loss = validation.get("unigram_loss")
    start_loss = math.log(training["data"]["vocab_size"])
    outcome, rule = classify([r["loss"] for r in train], validation if evaluation else None, start_loss, nan_step)
    result = {
        **asdict(point), "name": point.name, "outcome": outcome, "rule": rule,
        "validation_loss": validation.get("loss") if evaluation else None,
        "unigram_loss": unigram_loss, "masked_accuracy": validation.get("masked_accuracy") if evaluation else None,
        "unigram_accuracy": validation.get("unigram_accuracy"),
        "ngram_loss": validation.get("ngram_loss"), "ngram_accuracy": validation.get("ngram_accuracy"),
        "steps": evaluation["steps"] if evaluation else nan_step,
        "seconds": evaluation["seconds"] if evaluation else None, "nan_step": nan_step,
    }
    result["cause"] = explain(result, read_diagnostics(run_dir), training["train"]["seq_len"])
    return result


def _summary_line(outcome: dict) -> str:
    loss = outcome["validation_loss"]
    text = f"{outcome['name']}: {outcome['outcome']}"
    text += f", val {loss:.3f} (unigram {outcome['unigram_loss']:.3f}{_ngram_part(outcome)})" if loss is not None else ""
    return text + (f" — {outcome['cause']}" if outcome["cause"] else "")


def _ngram_part(outcome: dict) -> str:
    return f", n-gram {outcome['ngram_loss']:.3f}" if outcome.get("ngram_loss") is not None else ""


# ---------------------------------------------------------------- the report

CSV_COLUMNS = ("size", "lr", "warmup", "variant", "lr_scaling", "max_grad_norm", "outcome", "validation_loss",
               "unigram_loss", "ngram_loss", "masked_accuracy", "ngram_accuracy", "steps", "seconds", "cause")
COLOURS = {"learned": "#4caf50", "plateau": "#ffb300", "diverged": "#e53935", "undertrained": "#90a4ae"}


def load_outcomes(out: str | os.PathLike) -> list[dict]:
    """The outcome of every finished run in a sweep folder, judged again by the current rules."""
    runs = Path(out) / "runs"
    paths = sorted(runs.glob(f"*/{OUTCOME_FILE}")) if runs.is_dir() else []
    outcomes = []
    for path in paths:
        saved = json.loads(path.read_text(encoding="utf-8"))
        point = Point(**{f.name: saved[f.name] for f in fields(Point)})
        outcomes.append(_judge(path.parent, point, saved["nan_step"]))
    return outcomes


def write_report(out: str | os.PathLike) -> None:
    """runs.csv, report.md, learnability.png and recommended.json from the finished runs in ``out``."""
    out = Path(out)
    outcomes = load_outcomes(out)
    if not outcomes:
        raise MacedonizerError(f"{out} holds no finished sweep runs.")
    sizes = list(dict.fromkeys(o["size"] for o in sorted(outcomes, key=_size_order)))
    lrs = sorted({o["lr"] for o in outcomes})
    panels = _panels(outcomes)
    recommendation = _recommend(outcomes, sizes)

    tmp = out / f".csv.tmp-{os.getpid()}"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for o in sorted(outcomes, key=lambda o: (_size_order(o), o["variant"], o["lr_scaling"], o["max_grad_norm"],
                                                 o["warmup"], o["lr"])):
            writer.writerow(o)
    os.replace(tmp, out / "runs.csv")
    write_text_atomic(out / "recommended.json", json.dumps(recommendation, indent=2, ensure_ascii=False))
    write_text_atomic(out / "report.md", _markdown(outcomes, sizes, lrs, panels, recommendation))
    _heatmap(out / "learnability.png", sizes, lrs, panels)


def _size_order(outcome: dict) -> tuple:
    from .pretrain import resolve_size

    size = resolve_size(outcome["size"])
    return size.layers * size.hidden * size.hidden, size.hidden, size.layers


def _panels(outcomes: list[dict]) -> dict[tuple, dict[tuple[str, float], dict]]:
    panels: dict[tuple, dict] = {}
    for o in outcomes:
        key = (o["variant"], o["lr_scaling"], o["max_grad_norm"], o["warmup"])
        panels.setdefault(key, {})[(o["size"], o["lr"])] = o
    return dict(sorted(panels.items(), key=lambda kv: (kv[0][0] != "post-ln", kv[0][1] != "none", kv[0][2],
                                                        kv[0][3])))


def _panel_title(key: tuple) -> str:
    variant, scaling, clip, warmup = key
    parts = [variant, f"warm-up {warmup:g}"]
    if scaling != "none":
        parts.append(f"lr scaling {scaling}")
    if clip != 1.0:
        parts.append(f"clip {clip:g}")
    return ", ".join(parts)


def _border(panel: dict, sizes: list[str]) -> str:
    """Per size, the learning rates at which it learned."""
    parts = []
    for size in sizes:
        learned = sorted(lr for (s, lr), o in panel.items() if s == size and o["outcome"] == "learned")
        tried = [lr for (s, lr) in panel if s == size]
        if not tried:
            continue
        parts.append(f"{size}: " + (f"learns at {', '.join(f'{lr:g}' for lr in learned)}" if learned
                                    else "learns at no learning rate tried"))
    return "; ".join(parts)


def _recommend(outcomes: list[dict], sizes: list[str]) -> dict:
    """Per size, the learned run with the lowest validation loss; sizes without one are listed apart."""
    chosen, unlearned = {}, {}
    for size in sizes:
        runs = [o for o in outcomes if o["size"] == size]
        learned = [o for o in runs if o["outcome"] == "learned"]
        if not learned:
            counts = {k: sum(o["outcome"] == k for o in runs) for k in OUTCOMES if any(o["outcome"] == k for o in runs)}
            unlearned[size] = ", ".join(f"{n} {k}" for k, n in counts.items())
            continue
        best = min(learned, key=lambda o: o["validation_loss"])
        chosen[size] = {
            "lr": best["lr"], "warmup": best["warmup"], "variant": best["variant"],
            "lr_scaling": best["lr_scaling"], "max_grad_norm": best["max_grad_norm"],
            "validation_loss": best["validation_loss"], "unigram_loss": best["unigram_loss"],
            "masked_accuracy": best["masked_accuracy"], "steps": best["steps"], "run": best["name"],
            "learned_lrs": sorted({o["lr"] for o in learned if o["variant"] == best["variant"]
                                   and o["warmup"] == best["warmup"] and o["lr_scaling"] == best["lr_scaling"]}),
        }
    return {"sizes": chosen, "unlearned": unlearned}


def recommended(out: str | os.PathLike) -> dict[str, dict]:
    """Per size with a learned run: ``{"lr", "warmup", "variant", "lr_scaling", "max_grad_norm", …}``."""
    path = Path(out) / "recommended.json"
    if not path.is_file():
        raise MacedonizerError(f"No recommended.json in {out}: run `macedonizer sweep` first.")
    return json.loads(path.read_text(encoding="utf-8"))["sizes"]


def recommended_lr(out: str | os.PathLike, size: str) -> float:
    """The recommended learning rate of ``size``, or one sentence saying why there is none."""
    entry = recommended(out).get(size)
    if entry is None:
        saved = json.loads((Path(out) / "recommended.json").read_text(encoding="utf-8"))["unlearned"]
        why = f" (its runs: {saved[size]})" if size in saved else " (it was not in the grid)"
        raise MacedonizerError(f"No run of size {size} learned in the sweep at {out}{why}; "
                               f"try other learning rates, a longer warm-up or --variant pre-ln.")
    return entry["lr"]


def _remedies(outcomes: list[dict]) -> list[str]:
    """Each run of another setting beside the plain one (post-LN, no scaling, clip 1, shortest warm-up) of its cell.

    A line starts with "moves the border" where the plain run did not learn and this one did.
    """
    warmup0 = min(o["warmup"] for o in outcomes)
    plain_key = ("post-ln", "none", 1.0, warmup0)
    base = {(o["size"], o["lr"]): o for o in outcomes
            if (o["variant"], o["lr_scaling"], o["max_grad_norm"], o["warmup"]) == plain_key}
    lines = []
    for o in outcomes:
        b = base.get((o["size"], o["lr"]))
        if b is None or o is b:
            continue
        moved = b["outcome"] != "learned" and o["outcome"] == "learned"
        delta = ("" if o["validation_loss"] is None or b["validation_loss"] is None
                 else f", Δ val {o['validation_loss'] - b['validation_loss']:+.3f}")
        lines.append(f"- {'**moves the border** ' if moved else ''}{o['size']} at lr {o['lr']:g}: "
                     f"{_panel_title(plain_key)} {b['outcome']} (val {_loss(b)}) → "
                     f"{_panel_title((o['variant'], o['lr_scaling'], o['max_grad_norm'], o['warmup']))} "
                     f"{o['outcome']} (val {_loss(o)}{delta})")
    return lines


def _loss(o: dict) -> str:
    return "NaN" if o["validation_loss"] is None else f"{o['validation_loss']:.3f}"


def _markdown(outcomes, sizes, lrs, panels, recommendation) -> str:
    unigram = next((o["unigram_loss"] for o in outcomes if o["unigram_loss"] is not None), None)
    ngram = next((o["ngram_loss"] for o in outcomes if o.get("ngram_loss") is not None), None)
    lines = ["# Learnability sweep", "",
             f"{len(outcomes)} runs; unigram loss {unigram if unigram is None else f'{unigram:.3f}'}, n-gram loss "
             f"{ngram if ngram is None else f'{ngram:.3f}'}. "
             f"Outcomes: " + ", ".join(f"{sum(o['outcome'] == k for o in outcomes)} {k}" for k in OUTCOMES) + ".",
             "", "Cells: outcome and final validation loss, every scored token masked. A run learned when it "
             "beats the n-gram baseline (each masked token from its left and right neighbours) in loss and in "
             "masked accuracy by more than the evaluation noise; beating only word frequencies is a plateau.", ""]
    for key, panel in panels.items():
        lines += [f"## {_panel_title(key)}", "", "| size | " + " | ".join(f"lr {lr:g}" for lr in lrs) + " |",
                  "|---" * (len(lrs) + 1) + "|"]
        for size in sizes:
            cells = [f"{panel[(size, lr)]['outcome']} {_loss(panel[(size, lr)])}" if (size, lr) in panel else ""
                     for lr in lrs]
            lines.append(f"| {size} | " + " | ".join(cells) + " |")
        lines += ["", f"Border: {_border(panel, sizes)}.", ""]
    lines += ["## Causes of the runs that did not learn", ""]
    for o in outcomes:
        if o["outcome"] != "learned":
            lines.append(f"- {o['name']}: {o['outcome']} ({o['rule']}). {o['cause']}")
    remedies = _remedies(outcomes)
    lines += ["", "## Remedies against the plain setting, cell by cell", ""] + (remedies or ["- none in this grid"])
    lines += ["", "## Recommended", ""]
    for size, r in recommendation["sizes"].items():
        lines.append(f"- {size}: lr {r['lr']:g}, warm-up {r['warmup']:g}, {r['variant']}, lr scaling "
                     f"{r['lr_scaling']} (val {r['validation_loss']:.3f} vs unigram {r['unigram_loss']:.3f}; "
                     f"run {r['run']})")
    for size, why in recommendation["unlearned"].items():
        lines.append(f"- {size}: no learned run ({why})")
    return "\n".join(lines) + "\n"


def _heatmap(path: Path, sizes: list[str], lrs: list[float], panels: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    cmap = ListedColormap(["#ffffff"] + [COLOURS[k] for k in OUTCOMES])
    columns = min(len(panels), 2)
    rows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.3 * len(lrs) * columns + 1.5, 0.6 * len(sizes) * rows + 1.6),
                             squeeze=False)
    for ax, (key, panel) in zip(axes.flat, panels.items()):
        grid = [[1 + OUTCOMES.index(panel[(s, lr)]["outcome"]) if (s, lr) in panel else 0 for lr in lrs]
                for s in sizes]
        ax.imshow(grid, cmap=cmap, vmin=0, vmax=len(OUTCOMES), aspect="auto")
        for i, s in enumerate(sizes):
            for j, lr in enumerate(lrs):
                if (s, lr) in panel:
                    ax.text(j, i, _loss(panel[(s, lr)]), ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(lrs)), [f"{lr:g}" for lr in lrs], fontsize=8)
        ax.set_yticks(range(len(sizes)), sizes, fontsize=8)
        ax.set_xlabel("peak learning rate", fontsize=8)
        ax.set_title(_panel_title(key), fontsize=9)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.legend(handles=[Patch(color=COLOURS[k], label=k) for k in OUTCOMES], loc="lower center",
               ncol=len(OUTCOMES), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)
