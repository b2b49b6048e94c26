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
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from macedonizer import sweep
from macedonizer.configs import TokenizerConfig
from macedonizer.tokenizer import run as train_tokenizer
from macedonizer.train.pretrain import run as pretrain

REPO = Path(__file__).resolve().parents[1]
WIKI = REPO.parent / "shared" / "corpora" / "mk" / "wiki.txt"
SAMPLE = REPO / "corpora" / "sample" / "mk-sample.txt"


def main() -> None:
    args = _arguments()
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
    args = parser.parse_args()
    if args.tiny:
        args.sizes, args.lr, args.warmup, args.steps, args.batch_size = "L1/H32", "5e-3,1e30", "0", 20, 8
    elif not args.tokenizer:
        parser.error("--tokenizer is required (or --tiny)")
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


if __name__ == "__main__":
    main()
