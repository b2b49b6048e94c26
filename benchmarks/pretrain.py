"""macedonizer's pretraining against transformers' Trainer, for the same wall-clock time, scored honestly.

All contestants get the same text (a cleaned corpus and its tokenizer, made
with macedonizer's defaults), the same size and the same minutes on this
machine, one after another:

* ``ours``: ``macedonizer pretrain --size SIZE --time N`` with the size's
  default recipe (with ``--compile``: ``RunConfig(compile=True)``, the row
  is then ``ours+compile`` and says whether torch.compile fell back to eager;
  with ``--variants post-ln,modern``: one row per variant, ``ours-post-ln``,
  ``ours-modern``, and their ratios to the first; with ``--side-by-side T``
  those rows train at the same time, one process of T threads each, so that
  a machine shared with other jobs slows them alike);
* ``trainer``: ``Trainer`` + ``DataCollatorForLanguageModeling`` +
  ``BertForMaskedLM`` with the documented defaults (learning rate 5e-5,
  batch 8, fp32, linear decay), stopped by the clock;
* ``trainer-bf16``: the same with ``bf16=True``.

Each model is then scored on held-out text (ntrex by default) with every
scored token masked, beside the unigram and n-gram baselines. Prints one
row per contestant (steps, tokens/s, model-FLOPs utilisation, honest loss
and accuracy, the baselines, the verdict), the ratios the issue asks for
(our tokens/s over the bf16 Trainer's, and the loss gap), our in-domain
validation (eval.json) and our honest validation loss along the run
(metrics.jsonl). The printed text goes to OUT/results.txt, every figure to
OUT/results.json, and the trained models stay in OUT/models/.

MFU is tokens/s × FLOPs per token (6 × non-embedding parameters + 12 ×
layers × hidden × sequence length, the training loop's formula) over the
device's dense bf16 peak; the peaks known are those of the GPUs in
``macedonizer.train.device.PEAK_FLOPS``, so on a CPU it prints n/a.

Without ``--corpus`` it runs on the bundled sample corpus (every tenth line
held out for scoring, the rest trained on, a 2,000-entry tokenizer trained
on it, sequences of 64 tokens): a smoke run, not a benchmark.

    python benchmarks/pretrain.py --minutes 0.2 --contestants ours,trainer-bf16        # smoke run on the sample
    python benchmarks/pretrain.py --corpus corpus/ --tokenizer tok/ --sizes tiny --minutes 10 --heldout ntrex.txt
    python benchmarks/pretrain.py --corpus corpus/ --tokenizer tok/ --sizes mini --minutes 20 --compile
    python benchmarks/pretrain.py --corpus corpus/ --tokenizer tok/ --minutes 4 --contestants ours \
        --variants post-ln,modern --side-by-side 1          # both variants at once, one thread each
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import redirect_stdout
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

import macedonizer.train.pretrain as pretrain_module
from macedonizer.baselines import NGRAM_FILE
from macedonizer.configs import ModelSize, RunConfig, TokenizerConfig, TrainConfig, resolve_size
from macedonizer.tokenizer import run as train_tokenizer
from macedonizer.train.data import build_cache
from macedonizer.train.device import peak_flops, setup
from macedonizer.train.loop import flops_per_token
from macedonizer.train.evaluate import TextScorer
from macedonizer.train.model import CompileOrEager, bert_config
from macedonizer.train.output import TOKENIZER_FILES
from macedonizer.train.pretrain import run
from macedonizer.verdict import judge
from corpora import CORPORA  # benchmarks/corpora.py (scripts run from benchmarks/)

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "corpora" / "sample" / "mk-sample.txt"
NTREX = CORPORA / "mk" / "ntrex.txt"
SAMPLE_VOCAB, SAMPLE_SEQ_LEN = 2000, 64


class StopAt(TrainerCallback):
    """Stop the Trainer when its wall-clock budget is spent (and count the sequences it saw)."""

    def __init__(self, seconds: float):
        self.seconds, self.started = seconds, None

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if time.perf_counter() - self.started >= self.seconds:
            control.should_training_stop = True


def mfu(tokens_per_s: float, size: str, seq_len: int, device: torch.device) -> float | None:
    """Model-FLOPs utilisation, with the training loop's formula (BERT's count for ``size``)."""
    peak = peak_flops(device)
    return tokens_per_s * flops_per_token(resolve_size(size), seq_len) / peak if peak else None


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
    with redirect_stdout(io.StringIO()):  # the Trainer prints its final metrics dict
        trainer.train()
    elapsed = time.perf_counter() - stop.started
    tokens = trainer.state.global_step * args.per_device_train_batch_size * data.seq_len
    shutil.rmtree(out / "trainer", ignore_errors=True)
    model.save_pretrained(out)
    for name in TOKENIZER_FILES:
        shutil.copy2(tokenizer_dir / name, out / name)
    np.save(out / "token_counts.npy", data.token_counts)
    shutil.copy2(data.folder / NGRAM_FILE, out / NGRAM_FILE)
    return {"steps": trainer.state.global_step, "tokens": tokens, "seconds": elapsed, "precision":
            "bf16" if bf16 else "fp32", "device": str(args.device)}


def ours_run(size: str, corpus: list[str], tokenizer: Path, out: Path, seconds: float, seq_len: int | None,
             compile_: bool, variant: str | None = None) -> dict:
    """``macedonizer pretrain`` with the size's recipe (``variant``, where given, replacing the recipe's); with
    ``compile_``, whether torch.compile fell back."""
    seen = []
    original = pretrain_module.trained_module

    def spy(*args, **kwargs):  # keeps the module a run trains, to read its compile outcome afterwards
        seen.append(original(*args, **kwargs))
        return seen[-1]

    pretrain_module.trained_module = spy
    try:
        run(corpus, tokenizer, out, TrainConfig.for_size(size, time_s=seconds, seq_len=seq_len, variant=variant),
            RunConfig(progress=False, compile=compile_))
    finally:
        pretrain_module.trained_module = original
    evaluation = json.loads((out / "eval.json").read_text())
    result = {k: evaluation[k] for k in ("steps", "tokens", "seconds", "precision", "device")}
    result["validation"] = evaluation["validation"]
    metrics = [json.loads(line) for line in open(out / "metrics.jsonl", encoding="utf-8")]
    result["curve"] = [{k: r[k] for k in ("step", "loss", "masked_accuracy") if k in r}
                       for r in metrics if r["split"] == "val"]
    logged = [r["mfu"] for r in metrics if r["split"] == "train" and "mfu" in r]
    result["logged_mfu_mean"] = sum(logged) / len(logged) if logged else None
    if compile_:
        module = seen[-1] if seen else None
        module = getattr(module, "module", module)  # under DDP
        if isinstance(module, CompileOrEager):
            result["compile"] = f"fell back to eager: {module.failed}" if module.failed else "compiled"
        else:
            result["compile"] = "unknown (the run did not build a CompileOrEager)"
    return result


def sample_inputs(folder: Path) -> tuple[Path, Path]:
    """The bundled sample split in two: every tenth line held out, the rest to train on."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [line for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    train, heldout = folder / "train.txt", folder / "heldout.txt"
    train.write_text("\n".join(line for i, line in enumerate(lines) if i % 10) + "\n", encoding="utf-8")
    heldout.write_text("\n".join(line for i, line in enumerate(lines) if i % 10 == 0) + "\n", encoding="utf-8")
    return train, heldout


class Tee:
    """Print and keep what was printed (for OUT/results.txt)."""

    def __init__(self):
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=None,
                        help="A cleaned corpus (`macedonizer clean` output); default: the bundled sample (a smoke run).")
    parser.add_argument("--tokenizer", type=Path, default=None,
                        help="Its tokenizer (`macedonizer tokenizer`); default: one trained on --corpus into OUT.")
    parser.add_argument("--sizes", default="tiny")
    parser.add_argument("--minutes", type=float, default=10, help="Training minutes per contestant (e.g. 0.2).")
    parser.add_argument("--heldout", default=None,
                        help="Held-out text to score on; default: $MACEDONIZER_CORPORA/mk/ntrex.txt where it "
                             "exists, the held-out tenth of the sample with the sample.")
    parser.add_argument("--contestants", default="ours,trainer,trainer-bf16")
    parser.add_argument("--compile", action="store_true", help="Our run with torch.compile (RunConfig(compile=True)).")
    parser.add_argument("--variants", default=None,
                        help="Our runs with these variants, one row each (e.g. post-ln,modern); default: the recipe's.")
    parser.add_argument("--side-by-side", type=int, default=0, metavar="THREADS",
                        help="Run our rows at the same time, one process each with THREADS torch threads, so that "
                             "they share the machine's load alike (default 0: one after another).")
    parser.add_argument("--seq-len", type=int, default=None,
                        help=f"Sequence length (default: the size's recipe; {SAMPLE_SEQ_LEN} on the sample).")
    parser.add_argument("--out", type=Path, default=None,
                        help="Where results.txt, results.json and the models go (default: ./pretrain-bench-TIME).")
    return parser.parse_args()


def main() -> None:
    args = _arguments()

    out = args.out or Path.cwd() / f"pretrain-bench-{time.strftime('%Y%m%d-%H%M%S')}"
    if (out / "models").exists() and any((out / "models").iterdir()):
        raise SystemExit(f"Error: {out / 'models'} is not empty; pass another --out.")
    if args.corpus is not None and args.heldout is None and not NTREX.is_file():
        raise SystemExit(f"Error: no held-out text: {NTREX} does not exist; pass --heldout FILE.")
    out.mkdir(parents=True, exist_ok=True)
    seq_len = args.seq_len
    if args.corpus is None:
        train, sample_heldout = sample_inputs(out / "sample")
        corpus, heldout = str(train), args.heldout or str(sample_heldout)
        seq_len = seq_len or SAMPLE_SEQ_LEN
    else:
        corpus = args.corpus
        heldout = args.heldout or str(NTREX)
    if not Path(heldout).is_file():
        raise SystemExit(f"Error: held-out text not found: {heldout}")
    tokenizer = args.tokenizer
    if tokenizer is None:
        tokenizer = out / "tokenizer"
        shutil.rmtree(tokenizer, ignore_errors=True)
        train_tokenizer([corpus], tokenizer, TokenizerConfig(vocab_size=SAMPLE_VOCAB if args.corpus is None else 0),
                        progress=False)
    seconds = args.minutes * 60
    contestants = _contestants(args.contestants.split(","), args.variants.split(",") if args.variants else [None],
                               args.compile)
    device, _ = setup("auto")
    show = Tee()
    show(f"{args.corpus or 'the bundled sample (smoke run)'}, tokenizer {tokenizer}, {args.minutes:g} minutes each, "
         f"{device}, {args.side_by_side or torch.get_num_threads()} threads"
         f"{' per run, our runs side by side' if args.side_by_side else ''}, "
         f"load average {os.getloadavg()[0]:.1f}; scored on "
         f"{Path(heldout).name} with every scored token masked")
    show(f"results in {out}")
    results = {"corpus": args.corpus or "corpus:sample", "tokenizer": str(tokenizer), "heldout": str(heldout),
               "minutes": args.minutes, "device": str(device), "threads": torch.get_num_threads(),
               "peak_flops": peak_flops(device), "torch": torch.__version__, "sizes": {}}
    for size in args.sizes.split(","):
        size_seq_len = seq_len or TrainConfig.for_size(size).seq_len
        data = build_cache([corpus], tokenizer, size_seq_len, progress=False)  # before any run: no race for it
        jobs = {name: dict(size=size, corpus=[corpus], tokenizer=tokenizer, out=out / "models" / f"{size}-{name}",
                           seconds=seconds, seq_len=seq_len, compile_=args.compile, variant=ours["variant"])
                for name, ours in contestants.items() if ours is not None}
        trained = (_side_by_side(jobs, args.side_by_side) if args.side_by_side
                   else {name: ours_run(**job) for name, job in jobs.items()})
        rows = {}
        for name in contestants:
            model_dir = out / "models" / f"{size}-{name}"
            row = trained[name] if name in trained else trainer_run(size, data, tokenizer, model_dir, seconds,
                                                                    bf16=name == "trainer-bf16")
            scores = TextScorer(model_dir, [heldout])(AutoModelForMaskedLM.from_pretrained(model_dir))
            row.update(next(iter(scores.values())))
            row["tokens_per_s"] = row["tokens"] / row["seconds"]
            row["mfu"] = mfu(row["tokens_per_s"], size, size_seq_len, torch.device(row["device"]))
            row["verdict"] = judge(row).level
            rows[name] = row
        results["sizes"][size] = {"seq_len": size_seq_len, "rows": rows, **_report(size, rows, show, device)}
    (out / "results.txt").write_text("\n".join(show.lines) + "\n", encoding="utf-8")
    (out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"\nwrote {out / 'results.txt'} and {out / 'results.json'}")


def _side_by_side(jobs: dict[str, dict], threads: int) -> dict[str, dict]:
    """``ours_run`` of every job at the same time, each in a process of its own with ``threads`` torch threads."""
    with ProcessPoolExecutor(len(jobs), mp_context=multiprocessing.get_context("spawn"),
                             initializer=torch.set_num_threads, initargs=(threads,)) as pool:
        futures = {name: pool.submit(ours_run, **job) for name, job in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


def _contestants(names: list[str], variants: list[str | None], compile_: bool) -> dict[str, dict | None]:
    """Row name → our run's settings (``{"variant": …}``), or None for a Trainer; ``ours`` becomes one row per
    variant."""
    rows: dict[str, dict | None] = {}
    for name in names:
        if name != "ours":
            rows[name] = None
            continue
        for variant in variants:
            rows[f"ours{f'-{variant}' if variant else ''}{'+compile' if compile_ else ''}"] = {"variant": variant}
    return rows


def _report(size: str, rows: dict, show: Tee, device: torch.device) -> dict:
    show(f"\n{size}: {'contestant':<20} {'steps':>7} {'tokens/s':>9} {'MFU':>6} {'loss':>7} {'acc':>6} "
         f"{'unigram':>8} {'n-gram':>7} verdict")
    for name, r in rows.items():
        mfu_text = f"{r['mfu']:.1%}" if r["mfu"] is not None else "n/a"
        show(f"{'':<{len(size) + 2}}{name:<20} {r['steps']:>7,} {r['tokens_per_s']:>9,.0f} {mfu_text:>6} "
             f"{r['loss']:>7.3f} {r['masked_accuracy']:>6.1%} {r['unigram_loss']:>8.3f} "
             f"{r['ngram_loss'] if r.get('ngram_loss') is not None else float('nan'):>7.3f} {r['verdict']}")
    first = next(iter(rows.values()))
    ngram = (f", n-gram {first['ngram_loss']:.3f} / {first['ngram_accuracy']:.1%}"
             if first.get("ngram_loss") is not None else "")
    show(f"{size}: baselines on the held-out text (loss / accuracy): unigram {first['unigram_loss']:.3f} / "
         f"{first['unigram_accuracy']:.1%}{ngram}; {first['masked_tokens']:,} scored tokens")
    if any(r["mfu"] is None for r in rows.values()):
        show(f"{size}: MFU n/a: no dense bf16 peak FLOP/s is known for {device} (PEAK_FLOPS lists GPUs only)")
    ratios = {}
    ours_names = [name for name in rows if name.startswith("ours")]
    for ref_name, label in (("trainer-bf16", "Trainer bf16"), ("trainer", "Trainer fp32 defaults")):
        if ours_names and ref_name in rows:
            ratios[f"{ours_names[0]}/{ref_name}"] = _ratio(size, ours_names[0], rows[ours_names[0]], label,
                                                           rows[ref_name], show)
    for name in ours_names[1:]:  # each other variant against the first
        ratios[f"{name}/{ours_names[0]}"] = _ratio(size, name, rows[name], ours_names[0], rows[ours_names[0]], show)
    for name in ours_names:
        _our_details(size, name, rows[name], show)
    return {"ratios": ratios}


def _ratio(size: str, name: str, row: dict, ref_label: str, ref: dict, show: Tee) -> dict:
    speed, gap = row["tokens_per_s"] / ref["tokens_per_s"], row["loss"] - ref["loss"]
    show(f"{size}: tokens/s {name} ÷ {ref_label} = {speed:.2f}×; honest loss {name} − {ref_label} = {gap:+.3f} nats")
    return {"tokens_per_s_ratio": speed, "loss_gap": gap}


def _our_details(size: str, name: str, ours: dict, show: Tee) -> None:
    if "compile" in ours:
        show(f"{size}: torch.compile: {ours['compile']} (compiling counts against the time budget)")
    v = ours["validation"]
    ngram = f", n-gram {v['ngram_loss']:.3f} / {v['ngram_accuracy']:.1%}" if v.get("ngram_loss") is not None else ""
    show(f"{size}: {name} on its own validation documents (eval.json): {v['loss']:.3f} / "
         f"{v['masked_accuracy']:.1%} (unigram {v['unigram_loss']:.3f} / {v['unigram_accuracy']:.1%}{ngram}); "
         f"{ours['precision']}")
    if ours["curve"]:
        show(f"{size}: {name} honest validation loss / accuracy by step: " + ", ".join(
            f"{c['step']:,} {c['loss']:.3f} / {c['masked_accuracy']:.1%}" for c in ours["curve"]))
    else:
        show(f"{size}: {name} validated only at the end (fewer steps than RunConfig.eval_every)")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
