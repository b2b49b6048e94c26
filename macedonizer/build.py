"""``macedonizer build``: the whole family from one config, redoing only what changed.

The build is a chain of stages: clean → tokenizer → (sweep) → pretrain per
size → derive (pruned members) → eval per model → cards → push per model.
Each stage writes a manifest (``OUT/manifests/<stage>.json``) with a
fingerprint of its part of the config, of its input files and of the runs
of the stages it depends on. A stage is skipped when its manifest says it
finished with the same fingerprint and its output is still there; a stage
that runs gets a new run id, so everything after it runs too. A pretraining
whose manifest says "running" with the same fingerprint resumes from its
last checkpoint.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import click

from .buildconfig import BuildConfig
from .errors import MacedonizerError
from .fields import to_dataclass
from .files import read_json, write_text_atomic
from .specs import LocalSpec, parse
from .verdict import judge

MANIFESTS = "manifests"


# ---------------------------------------------------------------- manifests


def fingerprint(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Manifests:
    """One JSON file per stage: its fingerprint, status, run id and result."""

    def __init__(self, folder: Path):
        self.folder = folder

    def _path(self, stage: str) -> Path:
        return self.folder / (re.sub(r"[^\w.-]", "-", stage) + ".json")

    def get(self, stage: str) -> dict | None:
        return read_json(self._path(stage))

    def run_id(self, stage: str) -> str | None:
        record = self.get(stage)
        return record["run_id"] if record and record["status"] == "done" else None

    def write(self, stage: str, record: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self._path(stage), json.dumps(record, indent=2, default=str))


@dataclass
class Stage:
    """One step of the build."""

    name: str
    key: Callable[[], dict]
    """Its part of the config and its input files; called when its turn comes."""
    after: tuple[str, ...]
    """Stages whose new runs make this one run again."""
    done: Callable[[], bool]
    """Whether its output is (still) there."""
    run: Callable[[bool], str]
    """Does the work (argument: resume an interrupted run); returns a one-line result."""
    resumable: bool = False


def file_identity(specs) -> list:
    """Local files as (path, size, mtime); remote specs (hf:, corpus:) and missing paths as themselves."""
    identity = []
    for text in specs:
        spec = parse(text)
        path = Path(spec.path) if isinstance(spec, LocalSpec) else None
        if path is None or not path.exists():
            identity.append(text)
            continue
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            stat = file.stat()
            identity.append([str(file), stat.st_size, stat.st_mtime_ns])
    return identity


# ---------------------------------------------------------------- the build


class Build:
    """The stages of one build config in one output folder."""

    def __init__(self, config: BuildConfig, out: str | os.PathLike, progress: bool = True):
        self.config = config
        self.out = Path(out)
        self.progress = progress
        self.manifests = Manifests(self.out / MANIFESTS)
        self.corpus = self.out / "corpus"
        self.tokenizer = self.out / "tokenizer"
        self.sweep_dir = self.out / "sweep"
        self.models = self.out / "models"
        self.results: dict[str, str] = {}
        self.hub_urls: dict[str, str] = {}

    # -- stage list

    def stages(self, push: bool) -> list[Stage]:
        c = self.config
        stages = [
            Stage("clean", lambda: {"inputs": file_identity(c.corpus.inputs), "clean": _plain(c.clean)},
                  (), lambda: (self.corpus / "report.json").is_file(), self._clean),
            Stage("tokenizer", lambda: {"tokenizer": _plain(c.tokenizer),
                                        "eval_texts": file_identity(c.tokenizer.eval_texts)},
                  ("clean",), lambda: (self.tokenizer / "stats.json").is_file(), self._tokenizer),
        ]
        if c.auto_lr:
            stages.append(Stage("sweep", lambda: {"sizes": list(c.auto_lr), "sweep": c.sweep},
                                ("clean", "tokenizer"), lambda: (self.sweep_dir / "recommended.json").is_file(),
                                self._sweep, resumable=True))
        for size in c.pretrain:
            after = ("clean", "tokenizer", "sweep") if size in c.auto_lr else ("clean", "tokenizer")
            stages.append(Stage(f"pretrain {size}", lambda size=size: {"train": _plain(self.train_config(size))},
                                after, lambda size=size: (self.model_dir(size) / "eval.json").is_file(),
                                lambda resume, size=size: self._pretrain(size, resume), resumable=True))
        for row in c.derive:
            parent_stage = f"pretrain {row.parent}" if row.parent in c.pretrain else f"derive {row.parent}"
            stages.append(Stage(f"derive {row.name}", lambda row=row: {"derive": _plain(row)}, (parent_stage, "clean"),
                                lambda row=row: (self.model_dir(row.name) / "eval.json").is_file(),
                                lambda resume, row=row: self._derive(row)))
        for name in c.family:
            model_stage = f"pretrain {name}" if name in c.pretrain else f"derive {name}"
            stages.append(Stage(f"eval {name}", lambda: {"eval": _plain(c.eval), "texts": file_identity(c.eval.texts)},
                                (model_stage,), lambda name=name: (self.model_dir(name) / "heldout.json").is_file(),
                                lambda resume, name=name: self._eval(name)))
        stages.append(Stage("cards", lambda: {"card": _plain(c.card), "repos": self.repo_ids(push)},
                            tuple(f"eval {name}" for name in c.family),
                            lambda: all((self.model_dir(n) / "README.md").is_file() for n in c.family),
                            lambda resume: self._cards(push)))
        if push:
            for name in c.family:
                stages.append(Stage(f"push {name}", lambda name=name: {"repo": c.push.repo_id(name),
                                                                        "private": c.push.private,
                                                                        "only_learned": c.push.only_learned},
                                    ("cards", f"eval {name}"), lambda: True,
                                    lambda resume, name=name: self._push(name)))
        return stages

    def model_dir(self, name: str) -> Path:
        return self.models / name.replace("/", "-")

    def repo_ids(self, push: bool) -> dict[str, str]:
        if not (push and self.config.push.namespace):
            return {}
        return {self.model_dir(name).name: self.config.push.repo_id(name) for name in self.config.family}

    def train_config(self, size: str):
        """The size's training config, with the sweep's recommendation for lr = "auto"."""
        train = self.config.pretrain[size]
        if size not in self.config.auto_lr:
            return train
        from .sweep import recommended, recommended_lr

        recommended_lr(self.sweep_dir, size)  # one sentence saying why, when no run of this size learned
        choice = recommended(self.sweep_dir)[size]
        fields = {f.name for f in dataclasses.fields(train)}
        return dataclasses.replace(train, **{k: v for k, v in choice.items() if k in fields})

    # -- running

    def execute(self, force: bool = False, push: bool = False) -> list[dict]:
        """Run what is not up to date; return one record per stage."""
        stages = self.stages(push)
        width = max(len(s.name) for s in stages)
        records = []
        for number, stage in enumerate(stages, 1):
            prefix = f"[{number}/{len(stages)}] {stage.name:<{width}}"
            key = {"stage": stage.key(), "after": {name: self.manifests.run_id(name) for name in stage.after}}
            fp = fingerprint(key)
            previous = self.manifests.get(stage.name)
            if (not force and previous and previous["status"] == "done" and previous["fingerprint"] == fp
                    and stage.done()):
                click.echo(f"{prefix}  up to date")
                self.results[stage.name] = previous.get("result", "")
                records.append({"stage": stage.name, "ran": False, "seconds": 0.0})
                continue
            resume = (stage.resumable and not force and previous is not None and previous["status"] == "running"
                      and previous["fingerprint"] == fp)
            click.echo(f"{prefix}  {'resuming' if resume else 'running'}")
            started = time.time()
            self.manifests.write(stage.name, {"stage": stage.name, "status": "running", "fingerprint": fp,
                                              "run_id": uuid.uuid4().hex, "key": key,
                                              "started": _now()})
            result = stage.run(resume)
            seconds = time.time() - started
            self.manifests.write(stage.name, {**self.manifests.get(stage.name), "status": "done",
                                              "seconds": round(seconds, 1), "finished": _now(), "result": result})
            self.results[stage.name] = result
            click.echo(f"{prefix}  done in {_duration(seconds)}: {result}")
            records.append({"stage": stage.name, "ran": True, "seconds": round(seconds, 1)})
        return records

    def _clean(self, resume: bool) -> str:
        from .corpus.pipeline import RunOptions, run

        run(list(self.config.corpus.inputs), self.corpus, self.config.clean,
            RunOptions(workers=self.config.build.workers, overwrite=True, progress=self.progress))
        report = json.loads((self.corpus / "report.json").read_text(encoding="utf-8"))
        docs = report["documents"]
        return f"kept {docs['out']:,} of {docs['in']:,} documents"

    def _tokenizer(self, resume: bool) -> str:
        from .tokenizer import run

        run([str(self.corpus)], self.tokenizer, self.config.tokenizer, progress=self.progress)
        stats = json.loads((self.tokenizer / "stats.json").read_text(encoding="utf-8"))
        heldout = stats["evaluation"].get("held-out")
        fertility = f", {heldout['fertility']:.2f} tokens per held-out word" if heldout else ""
        return f"{self.config.tokenizer.vocab_size:,} WordPiece tokens{fertility}"

    def _sweep(self, resume: bool) -> str:
        from .sweep import SweepConfig, recommended, run

        table = {"device": self.config.build.device, **self.config.sweep}
        sweep = SweepConfig.from_table(table, self.config.source, sizes=list(self.config.auto_lr))
        run([str(self.corpus)], self.tokenizer, self.sweep_dir, sweep, progress=self.progress)
        choices = recommended(self.sweep_dir)
        return ", ".join(f"{size}: lr {choices[size]['lr']:g}, warm-up {choices[size]['warmup']:g}, "
                         f"{choices[size]['variant']}" if size in choices else f"{size}: no run learned"
                         for size in self.config.auto_lr)

    def _pretrain(self, size: str, resume: bool) -> str:
        from .pretrain import run

        out = self.model_dir(size)
        resume = resume and any((out / "checkpoints").glob("step-*"))
        if not resume:
            shutil.rmtree(out, ignore_errors=True)
        train = self.train_config(size)
        how = dataclasses.replace(self.config.runs[size], progress=self.progress, resume=resume)
        if self.config.build.processes > 1:
            self._pretrain_torchrun(train, how, out)
        else:
            run([str(self.corpus)], self.tokenizer, out, train, how)
        return _scores(out)

    def _pretrain_torchrun(self, train, how, out: Path) -> None:
        """One process per GPU: ``torch.distributed.run`` over the hidden ``pretrain-job`` command."""
        b = self.config.build
        job = self.manifests.folder / f"pretrain-{out.name}.job.json"
        job.write_text(json.dumps({
            "data": [str(self.corpus)], "tokenizer": str(self.tokenizer), "out": str(out),
            "train": dataclasses.asdict(train), "run": dataclasses.asdict(how),
        }), encoding="utf-8")
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                   str(b.processes), "-m", "macedonizer", "pretrain-job", str(job)]
        code = subprocess.call(command)
        if code != 0:
            raise MacedonizerError(f"Pretraining {out.name} under torchrun failed (exit code {code}); "
                                   "rerun the build to resume it.")

    def _derive(self, row) -> str:
        from .prune import derive

        parent = self.model_dir(row.parent)
        device = "cpu" if self.config.build.device == "auto" else self.config.build.device
        derive(parent, self.model_dir(row.name), row.method, data_inputs=[str(self.corpus)],
               tokenizer_dir=self.tokenizer, recover_steps=row.recover_steps, device=device,
               progress=self.progress, overwrite=True)
        return f"{row.method} of {row.parent}; " + _scores(self.model_dir(row.name))

    def _eval(self, name: str) -> str:
        """Load with plain transformers, fill a mask, and score the [eval] texts."""
        from transformers import pipeline
        from transformers.utils import logging as hf_logging

        from .cards import EXAMPLES
        from .evaluate import evaluate_text

        hf_logging.disable_progress_bar()
        model_dir = self.model_dir(name)
        fill = pipeline("fill-mask", model=str(model_dir), device="cpu")
        guesses = {}
        for template in EXAMPLES:  # the card's widget sentences
            example = template.format(mask=fill.tokenizer.mask_token)
            guesses[example] = [{"token": g["token_str"], "score": round(g["score"], 4)}
                                for g in fill(example, top_k=5)]
        texts = {}
        if self.config.eval.texts:
            texts = evaluate_text(model_dir, list(self.config.eval.texts), seq_len=self.config.eval.seq_len)
        record = {"fill_check": guesses, "texts": texts}
        write_text_atomic(model_dir / "heldout.json", json.dumps(record, indent=2, ensure_ascii=False))
        scored = "".join(f"; {text}: accuracy {r['masked_accuracy']:.1%} (unigram {r['unigram_accuracy']:.1%}, "
                         f"n-gram {r.get('ngram_accuracy', float('nan')):.1%}), {judge(r).level}"
                         for text, r in texts.items())
        first = next(iter(guesses.values()))[0]["token"]
        return f"loads with transformers, fills {first!r}{scored}"

    def _cards(self, push: bool) -> str:
        from .cards import render

        repos = self.repo_ids(push)
        members = [self.model_dir(name).name for name in self.config.family]
        for name in self.config.family:
            directory = self.model_dir(name)
            render(directory, repo_id=repos.get(directory.name), licence=self.config.card.license,
                   datasets=self.config.card.datasets, family_repos=repos, members=members)
        count = len(self.config.family)
        return f"{count} model card{'s' if count != 1 else ''}"

    def _push(self, name: str) -> str:
        from .hub import push

        model_dir = self.model_dir(name)
        verdict = judge((read_json(model_dir / "eval.json") or {}).get("validation"))
        if self.config.push.only_learned and not verdict.learned:
            return f"not pushed ({verdict.level}): {verdict.reason}"
        info = push(model_dir, self.config.push.repo_id(name), private=self.config.push.private)
        self.hub_urls[name] = info["url"]
        return info["url"]

    # -- summary

    def summary(self) -> list[dict]:
        rows = []
        for name in self.config.family:
            directory = self.model_dir(name)
            evaluation = read_json(directory / "eval.json") or {}
            validation = evaluation.get("validation", {})
            push_record = self.manifests.get(f"push {name}") or {}
            url = push_record.get("result", "") if str(push_record.get("result", "")).startswith("http") else ""
            rows.append({
                "model": name, "parameters": evaluation.get("parameters"),
                "accuracy": validation.get("masked_accuracy"), "unigram_accuracy": validation.get("unigram_accuracy"),
                "loss": validation.get("loss"), "unigram_loss": validation.get("unigram_loss"),
                "ngram_accuracy": validation.get("ngram_accuracy"), "ngram_loss": validation.get("ngram_loss"),
                "verdict": judge(validation or None).level, "seconds": evaluation.get("seconds"),
                "path": str(directory), "hub": url or None,
                "guesses": (read_json(directory / "heldout.json") or {}).get("fill_check") or {},
            })
        return rows


def print_summary(rows: list[dict], seconds: float) -> None:
    header = ("model", "parameters", "accuracy", "unigram", "n-gram", "verdict", "train time", "output", "Hub")
    table = [header]
    for r in rows:
        table.append((
            r["model"], f"{r['parameters'] / 1e6:.1f}M" if r["parameters"] else "-",
            f"{r['accuracy']:.1%}" if r["accuracy"] is not None else "-",
            f"{r['unigram_accuracy']:.1%}" if r["unigram_accuracy"] is not None else "-",
            f"{r['ngram_accuracy']:.1%}" if r["ngram_accuracy"] is not None else "-",
            r["verdict"] if r["verdict"] == "learned" else r["verdict"].upper(),
            _duration(r["seconds"]) if r["seconds"] is not None else "-",
            r["path"], r["hub"] or "-",
        ))
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    click.echo("")
    for i, row in enumerate(table):
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
        if i == 0:
            click.echo("  ".join("-" * width for width in widths))
    for r in rows:
        if r["guesses"]:
            click.echo(f"\n{r['model']}'s top 5 guesses for the card's example sentences:")
            for sentence, guesses in r["guesses"].items():
                click.echo(f"  {sentence}  →  " + ", ".join(g["token"] for g in guesses))
    click.echo(f"\nBuild finished in {_duration(seconds)}. Masked accuracy is on held-out validation text, every "
               "scored token masked; 'unigram' always predicts the most frequent token, 'n-gram' predicts each "
               "masked token from its neighbours. A model learned when it beats the n-gram baseline beyond noise.")


def run(config: BuildConfig, out: str | os.PathLike, force: bool = False, push: bool = False,
        progress: bool = True) -> dict:
    """Run the build; write and return ``OUT/build.json`` (config, stages, models)."""
    from .buildconfig import resolved_table

    if push and not config.push.namespace:
        raise MacedonizerError("Pushing needs a namespace: --push NAMESPACE or [push] namespace.")
    started = time.time()
    build = Build(config, out, progress=progress)
    stages = build.execute(force=force, push=push)
    rows = build.summary()
    seconds = time.time() - started
    record = {"config": resolved_table(config), "stages": stages, "models": rows, "seconds": round(seconds, 1),
              "finished": _now()}
    write_text_atomic(Path(out) / "build.json", json.dumps(record, indent=2, ensure_ascii=False))
    print_summary(rows, seconds)
    return record


def run_pretrain_job(path: str) -> None:
    """The body of ``macedonizer pretrain-job JOB.json`` (one torchrun process)."""
    from .pretrain import run
    from .configs import RunConfig, TrainConfig

    job = json.loads(Path(path).read_text(encoding="utf-8"))
    train = to_dataclass(TrainConfig, job["train"], path, "train")
    run(job["data"], job["tokenizer"], job["out"], train, to_dataclass(RunConfig, job["run"], path, "run"))


# ---------------------------------------------------------------- helpers


def _plain(obj):
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj


def _scores(model_dir: Path) -> str:
    verdict = judge(json.loads((model_dir / "eval.json").read_text(encoding="utf-8"))["validation"])
    return f"{verdict.level if verdict.learned else verdict.level.upper()}: {verdict.reason}"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
