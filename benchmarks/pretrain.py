"""macedonizer's pretraining loop against transformers' run_mlm recipe.

Both train the same BertForMaskedLM shape on the same packed sequences from
../shared/corpora/mk/wiki.txt (a tokenizer is trained first, 32k by
default), with the same batch, sequence length, learning rate, schedule and
number of steps. The reference is what users would otherwise write:
`Trainer` + `DataCollatorForLanguageModeling` + `BertForMaskedLM` (the head
over every position). Afterwards both models are scored on the same
validation sequences with the same masks. Prints tokens/s of each, their
ratio, and the validation loss of each after the same number of tokens.

    python benchmarks/pretrain.py                       # tiny and mini, CPU
    python benchmarks/pretrain.py --sizes base --steps 100 --batch-size 64 --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from macedonizer.config import ModelSize
from macedonizer.data import Masker, MaskingConfig, build_cache
from macedonizer.pretrain import RunConfig, TrainConfig, evaluate_sequences, run
from macedonizer.tokenizer import TokenizerConfig
from macedonizer.tokenizer import run as train_tokenizer

WIKI = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "mk" / "wiki.txt"


def reference(size: str, data, tokenizer_dir: Path, args, workdir: Path):
    """transformers' run_mlm recipe on the same sequences; returns (model, seconds)."""
    from transformers import (
        AutoTokenizer,
        BertForMaskedLM,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainingArguments,
    )

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    pad = tokenizer.pad_token_id
    rows = args.steps * args.batch_size
    train = [{"input_ids": seq.tolist(), "attention_mask": (seq != pad).astype(np.int64).tolist()}
             for seq in np.asarray(data.train[:rows]).astype(np.int64)]
    torch.manual_seed(0)
    config = ModelSize.from_name(size).bert_config(data.vocab_size, pad_token_id=pad)
    config._attn_implementation = "sdpa"
    model = BertForMaskedLM(config)
    # transformers 5 takes a warm-up ratio as a float warmup_steps; 4 has warmup_ratio.
    import inspect

    warmup = ({"warmup_ratio": 0.06} if "warmup_ratio" in inspect.signature(TrainingArguments).parameters
              else {"warmup_steps": 0.06})
    training_args = TrainingArguments(
        output_dir=str(workdir / f"ref-{size}"), per_device_train_batch_size=args.batch_size,
        learning_rate=args.lr, lr_scheduler_type="linear", weight_decay=0.01, **warmup,
        adam_beta2=0.98, adam_epsilon=1e-6, max_grad_norm=1.0, max_steps=args.steps,
        logging_steps=args.steps, save_strategy="no", report_to=[], seed=0,
        use_cpu=args.device == "cpu", bf16=args.device == "cuda", dataloader_num_workers=0, disable_tqdm=True,
    )
    collator = DataCollatorForLanguageModeling(tokenizer=tokenizer, mlm_probability=0.15)
    trainer = Trainer(model=model, args=training_args, train_dataset=train, data_collator=collator)
    start = time.perf_counter()
    trainer.train()
    return model, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="tiny,mini")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--vocab-size", type=int, default=32000)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    if not WIKI.exists():
        raise SystemExit(f"Benchmark text not found: {WIKI}")
    device = torch.device(args.device)
    print(f"{WIKI.name}, vocabulary {args.vocab_size}, batch {args.batch_size} × {args.seq_len} tokens, "
          f"{args.steps} steps, device {args.device} ({torch.get_num_threads()} threads)")

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        tok = train_tokenizer([str(WIKI)], workdir / "tok", TokenizerConfig(vocab_size=args.vocab_size),
                              progress=False)
        data = build_cache([str(WIKI)], tok, args.seq_len, progress=False)
        vocab = json.loads((tok / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
        masker = Masker(MaskingConfig(), vocab)
        tokens = args.steps * args.batch_size * args.seq_len
        print(f"{'size':<6} {'ours tok/s':>11} {'reference tok/s':>16} {'ratio':>6} "
              f"{'ours val loss':>14} {'ref val loss':>13} {'unigram':>8}")
        for size in args.sizes.split(","):
            config = TrainConfig(size=size, seq_len=args.seq_len, batch_size=args.batch_size, lr=args.lr,
                                 max_steps=args.steps, eval_every=10**9, checkpoint_every=10**9,
                                 log_every=args.steps)
            out = run([str(WIKI)], tok, workdir / f"ours-{size}", config,
                      RunConfig(device=args.device, progress=False))
            ours = json.loads((out / "eval.json").read_text())
            ours_rate = ours["tokens_per_s"]
            from transformers import BertForMaskedLM

            ours_model = BertForMaskedLM.from_pretrained(out).to(device)
            ref_model, ref_seconds = reference(size, data, tok, args, workdir)
            ref_rate = tokens / ref_seconds
            scores = [evaluate_sequences(m.to(device), data.val, masker, vocab["[PAD]"], device, data.token_counts)
                      for m in (ours_model, ref_model)]
            print(f"{size:<6} {ours_rate:>11,.0f} {ref_rate:>16,.0f} {ours_rate / ref_rate:>5.2f}x "
                  f"{scores[0]['loss']:>14.3f} {scores[1]['loss']:>13.3f} {scores[0]['unigram_loss']:>8.3f}")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
