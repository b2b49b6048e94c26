"""What a learnability sweep costs, and what ``--workers`` changes.

Runs the same grid twice into fresh folders, once with ``--workers 1`` and
once with ``--workers N`` (each worker gets its share of the CPU threads),
and also times the diagnostics: the first grid point trained alone with
and without ``diagnostics_every``. Prints wall-clock seconds of each and their
ratio, and each run's outcome and final validation loss with 1 and N workers
side by side, with whether they are all the same (loss to 1e-6): the docs
say only the wall clock changes. On a machine shared with other jobs the
numbers are noisy: run it more than once.

    python benchmarks/sweep.py --tiny                     # seconds: the bundled sample, 2 runs of L1/H32
    python benchmarks/sweep.py --tokenizer TOK            # 4 tiny runs, 1 vs 2 workers
    python benchmarks/sweep.py --tokenizer TOK --sizes tiny,mini,small --lr 1e-4,3e-4,1e-3,3e-3 --steps 300

``--halving`` instead trains the grid in full and under successive halving
(``--keep DIR`` keeps both), prints ``fidelity.md`` (compute saved, the
recommendation and the outcome per cell, the outcome at 10/25/50% against
the final one), then replays the full runs' validation curves through the
halving engines: ours (synchronous, per size) and, where ``optuna`` is
installed, Optuna's ``SuccessiveHalvingPruner`` and ``HyperbandPruner``
(asynchronous), per size and over the whole grid, in the grid's order and
in shuffled ones, one trial at a time or two in lock-step (two workers).
``--replay FULL_DIR`` replays an existing full sweep without training;
``--synthetic`` replays synthetic curves of tiny and mini × 4 learning rates
(the faster rates lead early, mini's largest diverges), in seconds.

    python benchmarks/sweep.py --halving --data CORPUS --tokenizer TOK --sizes tiny,mini --lr 1e-4,3e-4,1e-3,3e-3
    python benchmarks/sweep.py --replay OUT/full
    python benchmarks/sweep.py --synthetic
"""

from __future__ import annotations

import argparse
import json
import math
import random
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from macedonizer import sweep
from macedonizer.configs import TokenizerConfig
from macedonizer.sweep import fidelity
from macedonizer.sweep.halving import halve, rung_steps
from macedonizer.sweep.outcome import training_flops
from macedonizer.tokenizer import run as train_tokenizer
from macedonizer.train.pretrain import run as pretrain

REPO = Path(__file__).resolve().parents[1]
WIKI = REPO.parent / "shared" / "corpora" / "mk" / "wiki.txt"
SAMPLE = REPO / "corpora" / "sample" / "mk-sample.txt"


def main() -> None:
    args = _arguments()
    if args.synthetic:
        _replay(*_synthetic_grid(), "synthetic curves", args.eta, args.min_share)
        return
    if args.replay or args.halving:
        halving_benchmark(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = args.tokenizer
        if args.tiny:  # the bundled sample and a tokenizer trained on it: no shared corpus needed
            args.data = str(SAMPLE)
            tokenizer = train_tokenizer([args.data], Path(tmp) / "tok", TokenizerConfig(vocab_size=1200),
                                        progress=False)
        config = sweep.SweepConfig(
            sizes=tuple(args.sizes.split(",")), lrs=tuple(float(x) for x in args.lr.split(",")),
            warmups=tuple(float(x) for x in args.warmup.split(",")), steps=args.steps, seq_len=args.seq_len,
            batch_size=args.batch_size, eval_every=max(1, args.steps // 2), device="cpu")
        seconds, outcomes = {}, {}
        for workers in (1, args.workers):
            started = time.time()
            out = sweep.run([args.data], tokenizer, Path(tmp) / f"workers{workers}", replace(config, workers=workers),
                            progress=False)
            seconds[workers] = time.time() - started
            outcomes[workers] = {o["name"]: o for o in sweep.load_outcomes(out)}
        overhead = None if args.tiny else _diagnostics_overhead(args.data, tokenizer, config, Path(tmp))
    print(f"{len(config.points())} runs of {config.steps} steps (seq {config.seq_len}, batch {config.batch_size}), "
          f"--workers 1 and --workers {args.workers}:")
    print(f"wall clock: workers 1 {seconds[1]:.1f} s, workers {args.workers} {seconds[args.workers]:.1f} s, "
          f"ratio {seconds[args.workers] / seconds[1]:.2f}×")
    same = _compare(outcomes[1], outcomes[args.workers], args.workers)
    print(f"identical outcomes and final losses (to 1e-6) with 1 and {args.workers} workers: {'yes' if same else 'NO'}")
    if overhead is not None:
        print(f"diagnostics overhead: {overhead:+.1f}% of training time")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(WIKI))
    parser.add_argument("--tokenizer", help="A trained tokenizer folder (its cache is reused).")
    parser.add_argument("--tiny", action="store_true",
                        help="Seconds: the bundled sample, its own tokenizer, two L1/H32 runs of 20 steps.")
    parser.add_argument("--sizes", default="tiny")
    parser.add_argument("--lr", default="1e-3,3e-3")
    parser.add_argument("--warmup", default="0,0.06")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seq-len", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--halving", action="store_true", help="Full grid against successive halving; see above.")
    parser.add_argument("--replay", metavar="FULL_DIR", help="Replay a full sweep's curves through the engines.")
    parser.add_argument("--synthetic", action="store_true", help="Replay synthetic curves through the engines.")
    parser.add_argument("--keep", metavar="DIR", help="--halving: train into DIR/full and DIR/halving, kept.")
    parser.add_argument("--eta", type=int, default=3)
    parser.add_argument("--min-share", type=float, default=0.1)
    parser.add_argument("--eval-every", type=int, default=None, help="--halving: steps between validations.")
    parser.add_argument("--eval-batches", type=int, default=10)
    args = parser.parse_args()
    if args.tiny:
        args.sizes, args.lr, args.warmup, args.steps, args.batch_size = "L1/H32", "5e-3,1e30", "0", 20, 8
    elif not args.tokenizer and not (args.replay or args.synthetic):
        parser.error("--tokenizer is required (or --tiny, or --replay)")
    return args


def _compare(one: dict, many: dict, workers: int) -> bool:
    """Print each run's outcome and final validation loss with 1 and N workers; whether all are the same."""
    rows = [("run", "outcome ×1", f"outcome ×{workers}", "val loss ×1", f"val loss ×{workers}", "same")]
    same_all = one.keys() == many.keys()
    for name in sorted(one.keys() | many.keys()):
        a, b = one.get(name, {}), many.get(name, {})
        la, lb = a.get("validation_loss"), b.get("validation_loss")
        same = (a.get("outcome") == b.get("outcome")
                and (la == lb or (la is not None and lb is not None and abs(la - lb) <= 1e-6)))
        same_all &= same
        rows.append((name, a.get("outcome", "-"), b.get("outcome", "-"), _loss(la), _loss(lb), "yes" if same else "NO"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |")
    return same_all


def _loss(value: float | None) -> str:
    return "NaN" if value is None else f"{value:.6f}"


def _diagnostics_overhead(data: str, tokenizer, config: sweep.SweepConfig, tmp: Path) -> float:
    """The first grid point trained alone without and with diagnostics: the extra share of training time."""
    point, seconds = config.points()[0], []
    for every in (0, config.diagnostics_every):
        run_config = replace(point.run_config(config), resume=False, diagnostics_every=every)
        pretrain([data], tokenizer, tmp / f"diag{every}", point.train_config(config), run_config)
        seconds.append(json.loads((tmp / f"diag{every}" / "eval.json").read_text())["seconds"])
    return 100 * (seconds[1] / seconds[0] - 1)


def halving_benchmark(args: argparse.Namespace) -> None:
    """--halving: the grid in full and halved, fidelity.md; then (and for --replay) the engines on the curves."""
    full = Path(args.replay) if args.replay else None
    if full is None:
        root = Path(args.keep or tempfile.mkdtemp(prefix="sweep-halving-"))
        config = sweep.SweepConfig(
            sizes=tuple(args.sizes.split(",")), lrs=tuple(float(x) for x in args.lr.split(",")),
            warmups=tuple(float(x) for x in args.warmup.split(",")), steps=args.steps, seq_len=args.seq_len,
            batch_size=args.batch_size, eval_every=args.eval_every or max(1, args.steps // 20),
            eval_batches=args.eval_batches, device="cpu", workers=args.workers)
        seconds = {}
        for name, early_stop in (("full", ()), ("halving", ("halving",))):
            started = time.time()
            sweep.run([args.data], args.tokenizer, root / name,
                      replace(config, early_stop=early_stop, eta=args.eta, min_share=args.min_share), progress=True)
            seconds[name] = time.time() - started
        print(f"wall clock: full grid {seconds['full']:.0f} s, halving {seconds['halving']:.0f} s, "
              f"ratio {seconds['halving'] / seconds['full']:.2f}×")
        print(fidelity.write(root / "full", root / "halving").read_text(encoding="utf-8"))
        full = root / "full"
    runs = {o["name"]: o for o in sweep.load_outcomes(full)}
    _replay(runs, {c["name"]: c for c in fidelity.read_curves(full)}, str(full), args.eta, args.min_share)


def _synthetic_grid(total: int = 300) -> tuple[dict, dict]:
    """Outcome records and validation curves (one every 10 steps) of a synthetic tiny/mini × 4 lr grid."""
    final = {"tiny": {1e-4: 6.9, 3e-4: 6.3, 1e-3: 5.4, 3e-3: 5.1}, "mini": {1e-4: 6.8, 3e-4: 5.9, 1e-3: 5.0, 3e-3: 9.5}}

    def loss(size: str, lr: float, step: int) -> float:
        end, progress = final[size][lr], step / total
        if end > 9:  # diverges after a fifth of the budget
            return 7.1 + 3 * max(0.0, progress - 0.2)
        return end + (7.1 - end) * math.exp(-progress / (0.3 / math.sqrt(lr / 1e-3)))

    runs, curves = {}, {}
    for size, lrs in final.items():
        for lr in lrs:
            name = f"{size}-lr{lr:g}"
            runs[name] = {"name": name, "size": size, "budget_steps": total, "batch_size": 16, "seq_len": 64,
                          "validation_loss": loss(size, lr, total)}
            curves[name] = {"start_loss": 7.1, "val": [{"step": s, "loss": loss(size, lr, s)}
                                                       for s in range(10, total + 1, 10)]}
    return runs, curves


def _replay(runs: dict, curves: dict, title: str, eta: int, min_share: float, orders: int = 20) -> None:
    """Each engine on the runs' validation curves: its compute, and whether each size's lowest final loss is
    among the runs it trained to the end."""
    full = title
    total = next(iter(runs.values()))["budget_steps"]
    rungs = rung_steps(total, eta, min_share)

    def value(name: str, step: int) -> float:
        seen = [r["loss"] for r in curves[name]["val"] if r["step"] <= step]
        final = runs[name]["validation_loss"] if step >= total else None
        loss = final if final is not None else seen[-1] if seen else curves[name]["start_loss"]
        return loss if math.isfinite(loss) else math.inf

    full_cost = sum(training_flops(o, total) for o in runs.values())
    sizes = {o["size"] for o in runs.values()}
    best = {s: min((value(n, total), n) for n in runs if runs[n]["size"] == s)[1] for s in sizes}
    print(f"\nEngines on the curves of {full} ({len(runs)} runs, rungs {rungs}, eta {eta}):")
    print("| engine | orders | training compute of the full grid's | each size's lowest final loss trained to "
          "the end |\n|---|---|---|---|")
    reached = {n: 0 for n in runs}
    halve({n: o["size"] for n, o in runs.items()}, rungs, eta,
          lambda batch: {n: (reached.__setitem__(n, max(reached[n], s)), value(n, s))[1] for n, s in batch})
    print(f"| ours, synchronous, per size | any order, any workers | {_share(reached, runs, full_cost):.0%} | "
          f"{'yes' if _kept_best(reached, runs, best, total) else 'NO'} |")
    try:
        import optuna
    except ImportError:
        print("(optuna is not installed: pip install optuna to compare its pruners)")
        return
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruners = {"SuccessiveHalvingPruner": lambda: optuna.pruners.SuccessiveHalvingPruner(
                   min_resource=rungs[0], reduction_factor=eta),
               "HyperbandPruner": lambda: optuna.pruners.HyperbandPruner(
                   min_resource=rungs[0], max_resource=total, reduction_factor=eta)}
    rng = random.Random(0)
    for label, make in pruners.items():
        for per_size in (True, False):
            for workers in (1, 2):
                results = []
                for k in range(orders + 1):
                    order = sorted(runs) if k == 0 else rng.sample(sorted(runs), len(runs))
                    reached = _optuna_trials(optuna, make, order, runs, curves, value, total, per_size, workers)
                    results.append((_share(reached, runs, full_cost), _kept_best(reached, runs, best, total)))
                shares = sorted(r[0] for r in results)
                print(f"| optuna {label}, {'per size' if per_size else 'one study'} | workers {workers}, grid order "
                      f"and {orders} shuffled | {shares[0]:.0%}–{shares[-1]:.0%} (grid order {results[0][0]:.0%}) | "
                      f"{sum(r[1] for r in results)} of {len(results)} orders |")


def _optuna_trials(optuna, make, order, runs, curves, value, total, per_size, workers) -> dict[str, int]:
    """Optuna's pruner over the runs in ``order``, ``workers`` trials reporting in lock-step; steps reached."""
    studies: dict = {}
    reached = {}
    for start in range(0, len(order), workers):
        live = []
        for name in order[start:start + workers]:
            key = runs[name]["size"] if per_size else "grid"
            study = studies.setdefault(key, optuna.create_study(direction="minimize", pruner=make()))
            live.append((name, study, study.ask()))
        steps = sorted({r["step"] for c in curves.values() for r in c["val"]} | {total})
        for step in steps:
            for name, study, trial in list(live):
                reached[name] = step
                trial.report(value(name, step), step)
                if step >= total:
                    study.tell(trial, value(name, step))
                elif trial.should_prune():
                    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                else:
                    continue
                live.remove((name, study, trial))
    return reached


def _share(reached: dict[str, int], runs: dict, full_cost: float) -> float:
    return sum(training_flops(runs[n], s) for n, s in reached.items()) / full_cost


def _kept_best(reached: dict[str, int], runs: dict, best: dict[str, str], total: int) -> bool:
    """Whether each size's lowest final validation loss is a run the engine trained to the end."""
    return all(reached.get(name, 0) >= total for name in best.values())


if __name__ == "__main__":
    main()
