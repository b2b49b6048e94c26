"""``macedonizer finetune``: a pretrained model fine-tuned as a tagger, beside the baselines it must beat.

``run(config, model, train, out, dev=None)`` fine-tunes ``model`` (a
masked-LM folder: BERT or pre-LN RoBERTa; any ``AutoModelForTokenClassification``
architecture works) with transformers' ``Trainer``: a linear head on each
word's first piece, early stopping on the dev accuracy, the best epoch's
weights kept. Without a dev file, ``config.dev_share`` of the training
sentences (a seeded draw of whole sentences) is held out for early stopping.

Beside the model, and on the same dev sentences, it scores two baselines:
the most-frequent-tag tagger (``scoring``) and, unless ``config.baselines``
is off, the same architecture fine-tuned identically from a random
initialisation: what pretraining bought. OUT is written atomically: a
``pipeline("token-classification")`` folder with ``scores.json``,
``most_frequent_tag.json``, ``random_init/`` (the baseline's weights, so
``eval`` can score it on any test file) and a short ``README.md``.
"""

from __future__ import annotations

import math
import random
import shutil
import time
from pathlib import Path

import torch
import transformers
from tqdm.auto import tqdm
from transformers import (AutoConfig, AutoModelForTokenClassification, AutoTokenizer,
                          DataCollatorForTokenClassification, EarlyStoppingCallback, Trainer, TrainerCallback,
                          TrainingArguments)
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from ..configs import FinetuneConfig
from ..errors import InputError
from ..files import refuse_non_empty, staged_folder
from ..train.device import resolve_precision
from .conllu import Sentence, read_conllu, tag_counts
from .report import write_report
from .scoring import learn_most_frequent_tag, save_baseline, score, tag_most_frequent
from .tagging import IGNORE, check_fast, encode_sentences, predict, quiet_transformers

RANDOM_INIT_DIR = "random_init"


class _Progress(TrainerCallback):
    """One bar per fine-tune: steps, with the epoch and the best dev accuracy so far."""

    def __init__(self, label: str):
        self.label, self.bar = label, None

    def on_train_begin(self, args, state, control, **kwargs):
        self.bar = tqdm(total=state.max_steps, desc=self.label, unit="step", leave=False)

    def on_step_end(self, args, state, control, **kwargs):
        self.bar.update(1)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if metrics and "eval_accuracy" in metrics:
            self.bar.set_postfix(epoch=f"{state.epoch:.0f}", dev=f"{metrics['eval_accuracy']:.1%}")

    def on_train_end(self, args, state, control, **kwargs):
        self.bar.close()


def split_dev(sentences: list[Sentence], share: float, seed: int) -> tuple[list[Sentence], list[Sentence]]:
    """``(train, dev)``: a seeded draw of ``share`` of the sentences (at least one each) as dev."""
    if len(sentences) < 2:
        raise InputError("Too few training sentences to hold some out for early stopping: give --dev.")
    order = list(range(len(sentences)))
    random.Random(seed).shuffle(order)
    held = set(order[:min(len(sentences) - 1, max(1, round(share * len(sentences))))])
    return ([s for i, s in enumerate(sentences) if i not in held], [s for i, s in enumerate(sentences) if i in held])


def _accuracy(prediction) -> dict:
    labels = prediction.label_ids
    scored = labels != IGNORE
    return {"accuracy": float((prediction.predictions.argmax(-1)[scored] == labels[scored]).mean())}


def load_tagger(model: str, labels: list[str], pretrained: bool = True):
    """``model``'s architecture with a tagging head for ``labels``: its weights, or a random init."""
    mapping = {"num_labels": len(labels), "id2label": dict(enumerate(labels)),
               "label2id": {tag: i for i, tag in enumerate(labels)}}
    try:
        if pretrained:
            return AutoModelForTokenClassification.from_pretrained(model, **mapping)
        return AutoModelForTokenClassification.from_config(AutoConfig.from_pretrained(model, **mapping))
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot load {model} as a token classifier: {str(exc).splitlines()[0]}") from None


def fine_tune(tagger, tokenizer, train: list[dict], dev: list[dict], config: FinetuneConfig, workdir: Path,
              label: str, progress: bool) -> dict:
    """Train ``tagger`` in place (its best dev epoch kept); what happened, for scores.json."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    precision = resolve_precision(config.precision, torch.device(device))
    epoch_steps = math.ceil(len(train) / config.batch_size)
    total = config.max_steps or config.epochs * epoch_steps
    every = min(epoch_steps, total)
    args = TrainingArguments(
        output_dir=str(workdir), per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=2 * config.batch_size, learning_rate=config.lr, weight_decay=config.weight_decay,
        warmup_steps=round(config.warmup * total), max_steps=total, lr_scheduler_type="linear",
        eval_strategy="steps", eval_steps=every, save_strategy="steps", save_steps=every, save_total_limit=1,
        save_only_model=True, load_best_model_at_end=True, metric_for_best_model="accuracy",
        greater_is_better=True, logging_strategy="no", report_to="none", seed=config.seed, data_seed=config.seed,
        bf16=precision == "bf16", use_cpu=device == "cpu", dataloader_num_workers=0)
    trainer = Trainer(model=tagger, args=args, train_dataset=train, eval_dataset=dev,
                      data_collator=DataCollatorForTokenClassification(tokenizer), compute_metrics=_accuracy,
                      callbacks=[EarlyStoppingCallback(early_stopping_patience=config.patience)])
    for printer in (ProgressCallback, PrinterCallback):  # which one depends on the log level: ours instead
        trainer.remove_callback(printer)
    if progress:
        trainer.add_callback(_Progress(label))
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    shutil.rmtree(workdir, ignore_errors=True)
    state = trainer.state
    best_step = int(state.best_global_step or state.global_step)
    return {"seconds": round(seconds, 1), "steps": state.global_step, "epochs": round(state.epoch or 0, 2),
            "best_epoch": round(best_step / epoch_steps, 2), "best_step": best_step, "precision": precision,
            "early_stopped": state.global_step < total}


def run(config: FinetuneConfig, model: str, train: str | Path, out: str | Path, dev: str | Path | None = None,
        *, overwrite: bool = False, progress: bool = True) -> Path:
    """Fine-tune ``model`` on the CoNLL-U file ``train``; OUT gets the tagger, its scores and the baselines'."""
    out = Path(out)
    refuse_non_empty(out, overwrite)
    with quiet_transformers():
        return _run(config, model, train, out, dev, progress)


def _run(config: FinetuneConfig, model: str, train, out: Path, dev, progress: bool) -> Path:
    train_sentences = read_conllu(train)
    if dev is not None:
        dev_sentences, dev_source = read_conllu(dev), str(dev)
    else:
        train_sentences, dev_sentences = split_dev(train_sentences, config.dev_share, config.seed)
        dev_source = f"{config.dev_share:.0%} of {train} (seed {config.seed}, by sentence)"
    labels = sorted(tag_counts(train_sentences))
    try:
        tokenizer = AutoTokenizer.from_pretrained(model)
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot load a tokenizer from {model}: {str(exc).splitlines()[0]}") from None
    check_fast(tokenizer)
    label2id = {tag: i for i, tag in enumerate(labels)}
    train_features = encode_sentences(tokenizer, train_sentences, label2id, config.max_length)
    dev_features = encode_sentences(tokenizer, dev_sentences, label2id, config.max_length)
    table = learn_most_frequent_tag(train_sentences)
    results = {"most_frequent_tag": score(dev_sentences, tag_most_frequent(table, dev_sentences))}
    runs = {}
    with staged_folder(out) as tmp:
        for name, pretrained in (("model", True), ("random_init", False))[:2 if config.baselines else 1]:
            transformers.set_seed(config.seed)
            tagger = load_tagger(model, labels, pretrained)
            runs[name] = fine_tune(tagger, tokenizer, train_features, dev_features, config, tmp / "_trainer",
                                   "fine-tune" if pretrained else "random init", progress)
            results[name] = score(dev_sentences, predict(tagger, tokenizer, dev_sentences, config.max_length,
                                                         fallback=table["default"]))
            tagger.save_pretrained(tmp if pretrained else tmp / RANDOM_INIT_DIR)
        tokenizer.save_pretrained(tmp)
        save_baseline(table, tmp)
        write_report(tmp, config, model=model, train=train, dev_source=dev_source, labels=labels,
                     counts={"train": train_sentences, "dev": dev_sentences}, results=results, runs=runs)
    return out
