"""What a learnability sweep costs, and what ``--workers`` changes.

Runs the same grid twice into fresh folders, once with ``--workers 1`` and
once with ``--workers N`` (each worker gets its share of the CPU threads),
and also times the diagnostics: the first grid point trained alone with
and without ``diagnostics_every``. Prints wall-clock seconds of each and the
ratios. The grid's outcomes are identical either way (each run is seeded),
only the wall clock changes. On a machine shared with other jobs the
numbers are noisy: run it more than once.

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
from macedonizer.train.pretrain import run as pretrain

WIKI = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "mk" / "wiki.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(WIKI))
    parser.add_argument("--tokenizer", required=True, help="A trained tokenizer folder (its cache is reused).")
    parser.add_argument("--sizes", default="tiny")
    parser.add_argument("--lr", default="1e-3,3e-3")
    parser.add_argument("--warmup", default="0,0.06")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seq-len", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    config = sweep.SweepConfig(
        sizes=tuple(args.sizes.split(",")), lrs=tuple(float(x) for x in args.lr.split(",")),
        warmups=tuple(float(x) for x in args.warmup.split(",")), steps=args.steps, seq_len=args.seq_len,
        batch_size=args.batch_size, device="cpu")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, args.workers):
            started = time.time()
            out = sweep.run([args.data], args.tokenizer, Path(tmp) / f"workers{workers}",
                            replace(config, workers=workers), progress=False)
            results[f"workers {workers}"] = time.time() - started
            outcomes = {o["name"]: o["outcome"] for o in sweep.load_outcomes(out)}
        point = config.points()[0]
        for every in (0, config.diagnostics_every):
            run_config = replace(point.run_config(config), resume=False, diagnostics_every=every)
            pretrain([args.data], args.tokenizer, Path(tmp) / f"diag{every}", point.train_config(config), run_config)
            evaluation = json.loads((Path(tmp) / f"diag{every}" / "eval.json").read_text())
            results[f"{point.name}, diagnostics every {every or '-'}"] = evaluation["seconds"]
    runs = len(config.points())
    print(f"{runs} runs of {config.steps} steps (seq {config.seq_len}, batch {config.batch_size}): {outcomes}")
    for name, seconds in results.items():
        print(f"{name}: {seconds:.0f} s")
    print(f"workers {args.workers} / workers 1: {results[f'workers {args.workers}'] / results['workers 1']:.2f}× "
          f"the wall clock")
    plain, probed = list(results.values())[-2:]
    print(f"diagnostics overhead: {100 * (probed / plain - 1):+.1f}% of training time")


if __name__ == "__main__":
    main()
