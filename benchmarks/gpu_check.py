"""The GPU check: speed, MFU, memory and bf16/fp32 parity of `macedonizer pretrain`, in one table.

Runs on the bundled sample corpus (nothing is downloaded): a tokenizer, then
for each size a short pretraining in bf16 without and with ``--compile``, a
tiny run in fp32 beside its bf16 twin (their honest validation losses must
agree within noise), and a one-process torchrun run of tiny. Prints one
Markdown table (docs/benchmarks.md keeps the last one measured on a GPU).

    bash benchmarks/gpu_check.sh             # on a GPU machine, under 8 minutes on one H100/H200
    bash benchmarks/gpu_check.sh --dry-run   # anywhere: the same flow on CPU with a few steps (CI runs it)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch

from macedonizer.configs import RunConfig, TokenizerConfig, TrainConfig
from macedonizer.train.pretrain import run
from macedonizer.tokenizer import run as train_tokenizer
from macedonizer.verdict import judge

SAMPLE = "corpus:sample"


def pretrain(out: Path, tok: Path, size: str, steps: int, batch: int, precision: str, compile_: bool,
             device: str) -> dict:
    config = TrainConfig.for_size(size, max_steps=steps, batch_size=batch, seq_len=128, final_eval_batches=8)
    run([SAMPLE], tok, out, config, RunConfig(device=device, precision=precision, compile=compile_, progress=False,
                                              **_quiet(steps), eval_batches=4))
    return _row(out, size, precision, "compile" if compile_ else "eager")


def _quiet(steps: int) -> dict:
    """No validation or checkpoint during the timed steps; four metric lines."""
    return {"eval_every": 10**9, "checkpoint_every": 10**9, "log_every": max(1, steps // 4)}


def torchrun(out: Path, tok: Path, steps: int, batch: int, device: str) -> dict:
    job = out.parent / "torchrun-job.json"
    config = TrainConfig.for_size("tiny", max_steps=steps, batch_size=batch, seq_len=128, final_eval_batches=8)
    how = RunConfig(device=device, progress=False, **_quiet(steps))
    job.write_text(json.dumps({"data": [SAMPLE], "tokenizer": str(tok), "out": str(out), "train": asdict(config),
                               "run": asdict(how)}))
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1",
                    "-m", "macedonizer", "pretrain-job", str(job)], check=True)
    return _row(out, "tiny", "auto", "torchrun ×1")


def _row(out: Path, size: str, precision: str, mode: str) -> dict:
    evaluation = json.loads((out / "eval.json").read_text())
    train = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in train if r["split"] == "train"]
    steady = train[1:] or train  # the first window includes start-up (and compilation)
    tokens_per_s = sum(r["tokens_per_s"] for r in steady) / len(steady)
    mfu = [r["mfu"] for r in steady if "mfu" in r]
    return {"size": size, "precision": evaluation.get("precision", precision), "mode": mode,
            "steps": evaluation["steps"], "tokens_per_s": tokens_per_s,
            "mfu": sum(mfu) / len(mfu) if mfu else None, "peak_gb": evaluation.get("peak_memory_gb"),
            "loss": evaluation["validation"]["loss"], "verdict": judge(evaluation["validation"]).level,
            "seconds": evaluation["seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny only, a few steps: checks the flow.")
    parser.add_argument("--sizes", default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    args = parser.parse_args()
    if not args.dry_run and not torch.cuda.is_available():
        raise SystemExit("No CUDA GPU here: run with --dry-run to check the flow on CPU.")
    device = "cpu" if args.dry_run else "cuda"
    sizes = (args.sizes or ("tiny" if args.dry_run else "tiny,mini,small,medium,base")).split(",")
    steps = args.steps or (3 if args.dry_run else 150)
    batch = args.batch_size or (4 if args.dry_run else 64)
    name = torch.cuda.get_device_name() if device == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    started = time.time()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tok = train_tokenizer([SAMPLE], root / "tok", TokenizerConfig(vocab_size=2000), progress=False)
        for size in sizes:
            for compile_ in (False, True):
                rows.append(pretrain(root / f"{size}-{compile_}", tok, size, steps, batch, "bf16", compile_, device))
        rows.append(pretrain(root / "tiny-fp32", tok, "tiny", steps, batch, "fp32", False, device))
        rows.append(torchrun(root / "tiny-torchrun", tok, steps, batch, device))
    print(f"\n{name}, torch {torch.__version__}, {steps} steps of {batch} × 128 tokens, bundled sample corpus, "
          f"{time.time() - started:.0f} s in all\n")
    print("| size | precision | mode | tokens/s | MFU | peak memory | honest val loss | verdict |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "-"
        peak = f"{r['peak_gb']:.1f} GB" if r["peak_gb"] is not None else "-"
        print(f"| {r['size']} | {r['precision']} | {r['mode']} | {r['tokens_per_s']:,.0f} | {mfu} | {peak} | "
              f"{r['loss']:.3f} | {r['verdict']} |")
    bf16 = next(r for r in rows if r["size"] == "tiny" and r["mode"] == "eager" and r["precision"] == "bf16")
    fp32 = next(r for r in rows if r["precision"] == "fp32")
    print(f"\ntiny bf16 − fp32 honest validation loss after {steps} steps: {bf16['loss'] - fp32['loss']:+.3f} nats")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
