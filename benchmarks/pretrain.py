"""macedonizer's pretraining against transformers' Trainer, for the same wall-clock time, scored honestly.

All contestants get the same text (a cleaned corpus and its tokenizer, made
with macedonizer's defaults), the same size and the same minutes on this
machine, one after another:

* ``ours``: ``macedonizer pretrain --size SIZE --time N`` with the size's
  default recipe;
* ``trainer``: ``Trainer`` + ``DataCollatorForLanguageModeling`` +
  ``BertForMaskedLM`` with the documented defaults (learning rate 5e-5,
  batch 8, fp32, linear decay), stopped by the clock;
* ``trainer-bf16``: the same with ``bf16=True``.

Each model is then scored on held-out text (ntrex by default) with every
scored token masked, beside the unigram and n-gram baselines. Prints one
row per contestant and the ratios the issue asks for: our tokens/s over the
bf16 Trainer's, and the loss gap.

    python benchmarks/pretrain.py --corpus corpus/ --tokenizer tok/ --sizes tiny --minutes 10
    python benchmarks/pretrain.py --corpus corpus/ --tokenizer tok/ --sizes mini --minutes 20 --heldout ntrex.txt
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from transformers import (
    AutoModelForMaskedLM,
    AutoTokenizer,
    BertForMaskedLM,
    DataCollatorForLanguageModeling,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)

from macedonizer.baselines import NGRAM_FILE
from macedonizer.configs import ModelSize, RunConfig, TrainConfig
from macedonizer.train.data import build_cache
from macedonizer.train.evaluate import TextScorer
from macedonizer.train.model import bert_config
from macedonizer.train.output import TOKENIZER_FILES
from macedonizer.train.pretrain import run
from macedonizer.verdict import judge

NTREX = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "mk" / "ntrex.txt"


class StopAt(TrainerCallback):
    """Stop the Trainer when its wall-clock budget is spent (and count the sequences it saw)."""

    def __init__(self, seconds: float):
        self.seconds, self.started = seconds, None

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if time.perf_counter() - self.started >= self.seconds:
            control.should_training_stop = True


def trainer_run(size: str, data, tokenizer_dir: Path, out: Path, seconds: float, bf16: bool) -> dict:
    """transformers' documented MLM recipe on the same packed sequences, for ``seconds``."""
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    pad = tokenizer.pad_token_id
    train = [{"input_ids": row.tolist()} for row in np.asarray(data.train).astype(np.int64)]
    torch.manual_seed(0)
    config = bert_config(ModelSize.from_name(size), data.vocab_size, pad_token_id=pad)
    model = BertForMaskedLM(config)
    stop = StopAt(seconds)
    args = TrainingArguments(output_dir=str(out / "trainer"), max_steps=10**9, save_strategy="no", report_to=[],
                             logging_steps=10**9, seed=0, use_cpu=not torch.cuda.is_available(), bf16=bf16,
                             disable_tqdm=True, dataloader_num_workers=0)
    trainer = Trainer(model=model, args=args, train_dataset=train, callbacks=[stop],
                      data_collator=DataCollatorForLanguageModeling(tokenizer=tokenizer, mlm_probability=0.15))
    trainer.train()
    elapsed = time.perf_counter() - stop.started
    tokens = trainer.state.global_step * args.per_device_train_batch_size * data.seq_len
    model.save_pretrained(out)
    for name in TOKENIZER_FILES:
        shutil.copy2(tokenizer_dir / name, out / name)
    np.save(out / "token_counts.npy", data.token_counts)
    shutil.copy2(data.folder / NGRAM_FILE, out / NGRAM_FILE)
    return {"steps": trainer.state.global_step, "tokens": tokens, "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, help="A cleaned corpus (`macedonizer clean` output).")
    parser.add_argument("--tokenizer", required=True, type=Path, help="Its tokenizer (`macedonizer tokenizer`).")
    parser.add_argument("--sizes", default="tiny")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--heldout", default=str(NTREX), help="Held-out text to score on.")
    parser.add_argument("--contestants", default="ours,trainer,trainer-bf16")
    parser.add_argument("--keep", type=Path, default=None, help="Keep the trained models in this folder.")
    args = parser.parse_args()
    seconds = args.minutes * 60
    contestants = args.contestants.split(",")
    print(f"{args.corpus}, tokenizer {args.tokenizer}, {args.minutes:g} minutes each, {torch.get_num_threads()} "
          f"threads, scored on {Path(args.heldout).name} with every scored token masked")
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        for size in args.sizes.split(","):
            rows = {}
            for name in contestants:
                out = root / f"{size}-{name}"
                shutil.rmtree(out, ignore_errors=True)
                if name == "ours":
                    run([args.corpus], args.tokenizer, out, TrainConfig.for_size(size, time_s=seconds),
                        RunConfig(progress=False))
                    evaluation = json.loads((out / "eval.json").read_text())
                    speed = {k: evaluation[k] for k in ("steps", "tokens", "seconds")}
                else:
                    seq_len = TrainConfig.for_size(size).seq_len
                    data = build_cache([args.corpus], args.tokenizer, seq_len, progress=False)
                    speed = trainer_run(size, data, args.tokenizer, out, seconds, bf16=name == "trainer-bf16")
                scores = TextScorer(out, [args.heldout])(AutoModelForMaskedLM.from_pretrained(out))
                rows[name] = {**speed, **next(iter(scores.values()))}
            _print(size, rows)


def _print(size: str, rows: dict) -> None:
    print(f"\n{size}: {'contestant':<13} {'steps':>7} {'tokens/s':>9} {'loss':>7} {'acc':>6} {'unigram':>8} "
          f"{'n-gram':>7} verdict")
    for name, r in rows.items():
        print(f"{'':<{len(size) + 2}}{name:<13} {r['steps']:>7,} {r['tokens'] / r['seconds']:>9,.0f} {r['loss']:>7.3f} "
              f"{r['masked_accuracy']:>6.1%} {r['unigram_loss']:>8.3f} {r['ngram_loss']:>7.3f} {judge(r).level}")
    if "ours" in rows and "trainer-bf16" in rows:
        ours, ref = rows["ours"], rows["trainer-bf16"]
        print(f"{size}: tokens/s ours ÷ Trainer bf16 = {(ours['tokens'] / ours['seconds']) / (ref['tokens'] / ref['seconds']):.2f}×; "
              f"honest loss ours − Trainer bf16 = {ours['loss'] - ref['loss']:+.3f} nats")
    if "ours" in rows and "trainer" in rows:
        ours, ref = rows["ours"], rows["trainer"]
        print(f"{size}: tokens/s ours ÷ Trainer fp32 defaults = "
              f"{(ours['tokens'] / ours['seconds']) / (ref['tokens'] / ref['seconds']):.2f}×; "
              f"honest loss ours − Trainer = {ours['loss'] - ref['loss']:+.3f} nats")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
