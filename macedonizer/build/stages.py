"""What each stage of ``macedonizer build`` does.

A ``Stage`` is a name, the part of the config and the input files that make
its fingerprint (``key``, called when its turn comes), the stages whose new
runs make it run again (``after``), whether its output is still there
(``done``) and the work itself (``run``, which returns an ``Outcome``).
``plan`` lists a build's stages in order: clean → tokenizer → (sweep) →
pretrain per size → derive (pruned members) → eval per model → (downstream per
model: fine-tuned and scored on ``[downstream]``'s CoNLL-U files) → cards →
push per model. Deciding which of them run is :mod:`macedonizer.build.executor`'s.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from transformers import pipeline
from transformers.utils import logging as hf_logging

from .. import sweep  # called as sweep.recommended(...): tests replace it on the module
from ..cards import EXAMPLES
from ..cards import render as render_card
from ..configs import RunConfig, TrainConfig
from ..corpus.pipeline import RunOptions
from ..corpus.pipeline import run as clean_corpus
from ..downstream.evaluate import evaluate_tagger
from ..downstream.finetune import run as finetune_run
from ..downstream.report import SCORES_FILE
from ..errors import MacedonizerError
from ..fields import to_dataclass
from ..files import read_json, write_text_atomic
from ..hub import push as push_to_hub
from ..prune import derive as derive_member
from ..specs import LocalSpec, parse, portable
from ..tokenizer import run as train_tokenizer
from ..train.evaluate import evaluate_text
from ..train.pretrain import run as pretrain_run
from ..verdict import judge
from . import downstream as ds
from .config import BuildConfig, DeriveSection


@dataclass(frozen=True)
class Outcome:
    """What one run of a stage produced."""

    summary: str
    """One line for the stage's log line and its manifest."""
    url: str | None = None
    """The model's Hub URL, for a push that published it."""


@dataclass(frozen=True)
class Stage:
    """One step of the build."""

    name: str
    key: Callable[[], dict]
    """Its part of the config and its input files; called when its turn comes."""
    after: tuple[str, ...]
    """Stages whose new runs make this one run again."""
    done: Callable[[], bool]
    """Whether its output is (still) there."""
    run: Callable[[bool], Outcome]
    """Does the work (argument: resume an interrupted run)."""
    resumable: bool = False


@dataclass(frozen=True)
class Build:
    """One build: a checked config, the folder it builds in, and whether it pushes."""

    config: BuildConfig
    out: Path
    push: bool = False
    progress: bool = True

    @property
    def corpus_dir(self) -> Path:
        return self.out / "corpus"

    @property
    def tokenizer_dir(self) -> Path:
        return self.out / "tokenizer"

    @property
    def sweep_dir(self) -> Path:
        return self.out / "sweep"

    @property
    def manifests_dir(self) -> Path:
        return self.out / "manifests"

    def model_dir(self, name: str) -> Path:
        return self.out / "models" / name.replace("/", "-")

    def downstream_dir(self, name: str) -> Path:
        """The model fine-tuned on the ``[downstream]`` task."""
        return self.out / "downstream" / name.replace("/", "-")

    def model_stage(self, name: str) -> str:
        """The stage that makes model ``name``: its pretraining or its derivation."""
        return f"pretrain {name}" if name in self.config.pretrain else f"derive {name}"

    def repo_ids(self) -> dict[str, str]:
        """Each model's Hub repository, by folder name, when the build pushes."""
        if not (self.push and self.config.push.namespace):
            return {}
        return {self.model_dir(name).name: self.config.push.repo_id(name) for name in self.config.family}

    def train_config(self, size: str) -> TrainConfig:
        """The size's training config, with the sweep's recommendation for lr = "auto"."""
        train = self.config.pretrain[size]
        if size not in self.config.auto_lr:
            return train
        sweep.recommended_lr(self.sweep_dir, size)  # one sentence saying why, when no run of this size learned
        choice = sweep.recommended(self.sweep_dir)[size]
        fields = {f.name for f in dataclasses.fields(train)}
        chosen = {k: v for k, v in choice.items() if k in fields}
        if "mask_rate" in choice:  # the sweep's masking-rate axis: the one masking setting it varies
            chosen["masking"] = dataclasses.replace(train.masking, rate=choice["mask_rate"])
        return dataclasses.replace(train, **chosen)


def file_identity(specs) -> list:
    """Local files as (input, file within it, size, mtime); remote specs (hf:, corpus:) and missing paths as
    themselves. An input is named by its last part (``specs.portable``), never by a folder of this machine:
    a manifest reads alike whether the input was named by an absolute or a relative path."""
    identity = []
    for text in specs:
        spec = parse(text)
        path = Path(spec.path) if isinstance(spec, LocalSpec) else None
        if path is None or not path.exists():
            identity.append(portable(text))
            continue
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            stat = file.stat()
            inside = file.relative_to(path).as_posix() if path.is_dir() else ""
            identity.append([portable(text), inside, stat.st_size, stat.st_mtime_ns])
    return identity


# ---------------------------------------------------------------- the stage list


def plan(build: Build) -> list[Stage]:
    """The build's stages, in the order they run."""
    c = build.config
    stages = [clean_stage(build), tokenizer_stage(build)]
    if c.auto_lr:
        stages.append(sweep_stage(build))
    stages += [pretrain_stage(build, size) for size in c.pretrain]
    stages += [derive_stage(build, row) for row in c.derive]
    stages += [eval_stage(build, name) for name in c.family]
    if c.downstream:
        stages += [downstream_stage(build, name) for name in c.family]
    stages.append(cards_stage(build))
    if build.push:
        stages += [push_stage(build, name) for name in c.family]
    return stages


def clean_stage(build: Build) -> Stage:
    c = build.config
    return Stage("clean", lambda: {"inputs": file_identity(c.corpus.inputs), "clean": _asdict(c.clean)}, (),
                 lambda: (build.corpus_dir / "report.json").is_file(), lambda resume: _clean(build))


def tokenizer_stage(build: Build) -> Stage:
    c = build.config
    return Stage("tokenizer", lambda: {"tokenizer": _asdict(c.tokenizer),
                                       "eval_texts": file_identity(c.tokenizer.eval_texts)},
                 ("clean",), lambda: (build.tokenizer_dir / "stats.json").is_file(), lambda resume: _tokenizer(build))


def sweep_stage(build: Build) -> Stage:
    c = build.config
    return Stage("sweep", lambda: {"sizes": list(c.auto_lr), "sweep": c.sweep}, ("clean", "tokenizer"),
                 lambda: (build.sweep_dir / "recommended.json").is_file(), lambda resume: _sweep(build),
                 resumable=True)


def pretrain_stage(build: Build, size: str) -> Stage:
    after = ("clean", "tokenizer", "sweep") if size in build.config.auto_lr else ("clean", "tokenizer")
    return Stage(f"pretrain {size}", lambda: {"train": _asdict(build.train_config(size))}, after,
                 lambda: (build.model_dir(size) / "eval.json").is_file(),
                 lambda resume: _pretrain(build, size, resume), resumable=True)


def derive_stage(build: Build, row: DeriveSection) -> Stage:
    return Stage(f"derive {row.name}", lambda: {"derive": _asdict(row)}, (build.model_stage(row.parent), "clean"),
                 lambda: (build.model_dir(row.name) / "eval.json").is_file(), lambda resume: _derive(build, row))


def eval_stage(build: Build, name: str) -> Stage:
    c = build.config
    return Stage(f"eval {name}", lambda: {"eval": _asdict(c.eval), "texts": file_identity(c.eval.texts)},
                 (build.model_stage(name),), lambda: (build.model_dir(name) / "heldout.json").is_file(),
                 lambda resume: _evaluate(build, name))


def downstream_stage(build: Build, name: str) -> Stage:
    section = build.config.downstream
    return Stage(f"downstream {name}",
                 lambda: {"downstream": ds.portable_section(section, portable).table(),
                          "files": file_identity(section.files())},
                 (build.model_stage(name),),
                 lambda: all((folder / file).is_file() for folder, file in
                             ((build.downstream_dir(name), SCORES_FILE), (build.model_dir(name), ds.DOWNSTREAM_FILE))),
                 lambda resume: _downstream(build, name))


def cards_stage(build: Build) -> Stage:
    c = build.config
    after = [f"eval {name}" for name in c.family] + [f"downstream {name}" for name in c.family if c.downstream]
    return Stage("cards", lambda: {"card": _asdict(c.card), "repos": build.repo_ids()}, tuple(after),
                 lambda: all((build.model_dir(n) / "README.md").is_file() for n in c.family),
                 lambda resume: _cards(build))


def push_stage(build: Build, name: str) -> Stage:
    p = build.config.push
    return Stage(f"push {name}", lambda: {"repo": p.repo_id(name), "private": p.private,
                                          "only_learned": p.only_learned},
                 ("cards", f"eval {name}"), lambda: True, lambda resume: _push(build, name))


# ---------------------------------------------------------------- the work


def _clean(build: Build) -> Outcome:
    config = build.config
    clean_corpus(list(config.corpus.inputs), build.corpus_dir, config.clean,
                 RunOptions(workers=config.build.workers, overwrite=True, progress=build.progress))
    docs = _load(build.corpus_dir / "report.json")["documents"]
    return Outcome(f"kept {docs['out']:,} of {docs['in']:,} documents")


def _tokenizer(build: Build) -> Outcome:
    train_tokenizer([str(build.corpus_dir)], build.tokenizer_dir, build.config.tokenizer, progress=build.progress)
    stats = _load(build.tokenizer_dir / "stats.json")
    heldout = stats["evaluation"].get("held-out")
    fertility = f", {heldout['fertility']:.2f} tokens per held-out word" if heldout else ""
    return Outcome(f"{stats['vocab_size']:,} WordPiece tokens{fertility}")  # vocab_size 0 is chosen by the trainer


def _sweep(build: Build) -> Outcome:
    config = build.config
    table = {"device": config.build.device, **config.sweep}
    settings = sweep.SweepConfig.from_table(table, config.source, sizes=list(config.auto_lr))
    sweep.run([str(build.corpus_dir)], build.tokenizer_dir, build.sweep_dir, settings, progress=build.progress)
    choices = sweep.recommended(build.sweep_dir)
    return Outcome(", ".join(f"{size}: lr {choices[size]['lr']:g}, warm-up {choices[size]['warmup']:g}, "
                             f"{choices[size]['variant']}" if size in choices else f"{size}: no run learned"
                             for size in config.auto_lr))


def _pretrain(build: Build, size: str, resume: bool) -> Outcome:
    out = build.model_dir(size)
    resume = resume and any((out / "checkpoints").glob("step-*"))
    if not resume:
        shutil.rmtree(out, ignore_errors=True)
    train = build.train_config(size)
    how = dataclasses.replace(build.config.runs[size], progress=build.progress, resume=resume)
    if build.config.build.processes > 1:
        _pretrain_torchrun(build, train, how, out)
    else:
        pretrain_run([str(build.corpus_dir)], build.tokenizer_dir, out, train, how)
    return Outcome(_scores(out))


def _pretrain_torchrun(build: Build, train: TrainConfig, how: RunConfig, out: Path) -> None:
    """One process per GPU: ``torch.distributed.run`` over the hidden ``pretrain-job`` command."""
    job = build.manifests_dir / f"pretrain-{out.name}.job.json"
    job.write_text(json.dumps({
        "data": [str(build.corpus_dir)], "tokenizer": str(build.tokenizer_dir), "out": str(out),
        "train": dataclasses.asdict(train), "run": dataclasses.asdict(how),
    }), encoding="utf-8")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
               str(build.config.build.processes), "-m", "macedonizer", "pretrain-job", str(job)]
    code = subprocess.call(command)
    if code != 0:
        raise MacedonizerError(f"Pretraining {out.name} under torchrun failed (exit code {code}); "
                               "rerun the build to resume it.")
    job.unlink()  # it names this machine's folders: no finished build keeps it


def run_pretrain_job(path: str) -> None:
    """The body of ``macedonizer pretrain-job JOB.json`` (one torchrun process)."""
    job = json.loads(Path(path).read_text(encoding="utf-8"))
    train = to_dataclass(TrainConfig, job["train"], path, "train")
    pretrain_run(job["data"], job["tokenizer"], job["out"], train, to_dataclass(RunConfig, job["run"], path, "run"))


def _derive(build: Build, row: DeriveSection) -> Outcome:
    device = "cpu" if build.config.build.device == "auto" else build.config.build.device
    derive_member(build.model_dir(row.parent), build.model_dir(row.name), row.method,
                  data_inputs=[str(build.corpus_dir)], tokenizer_dir=build.tokenizer_dir,
                  recover_steps=row.recover_steps, device=device, progress=build.progress, overwrite=True)
    return Outcome(f"{row.method} of {row.parent}; " + _scores(build.model_dir(row.name)))


def _evaluate(build: Build, name: str) -> Outcome:
    """Load with plain transformers, fill a mask, and score the [eval] texts."""
    hf_logging.disable_progress_bar()
    model_dir = build.model_dir(name)
    fill = pipeline("fill-mask", model=str(model_dir), device="cpu")
    guesses = {}
    for template in EXAMPLES:  # the card's widget sentences
        example = template.format(mask=fill.tokenizer.mask_token)
        guesses[example] = [{"token": g["token_str"], "score": round(g["score"], 4)}
                            for g in fill(example, top_k=5)]
    texts = {}
    if build.config.eval.texts:
        texts = evaluate_text(model_dir, list(build.config.eval.texts), seq_len=build.config.eval.seq_len)
    record = {"fill_check": guesses, "texts": texts}
    write_text_atomic(model_dir / "heldout.json", json.dumps(record, indent=2, ensure_ascii=False))
    scored = "".join(f"; {text}: accuracy {r['masked_accuracy']:.1%} (unigram {r['unigram_accuracy']:.1%}, "
                     f"n-gram {r.get('ngram_accuracy', float('nan')):.1%}), {judge(r).level}"
                     for text, r in texts.items())
    first = next(iter(guesses.values()))[0]["token"]
    return Outcome(f"loads with transformers, fills {first!r}{scored}")


def _downstream(build: Build, name: str) -> Outcome:
    """Fine-tune the model on [downstream] train, score it and its baselines on test (or dev), and leave the
    scores in the model's folder for its card."""
    section, out = build.config.downstream, build.downstream_dir(name)
    finetune_run(section.finetune, str(build.model_dir(name)), section.train, out, section.dev, overwrite=True,
                 progress=build.progress)
    tested = section.test or section.dev
    evaluation = evaluate_tagger(out, tested) if tested else None
    record = ds.record(section, evaluation, _load(out / SCORES_FILE))
    write_text_atomic(build.model_dir(name) / ds.DOWNSTREAM_FILE, json.dumps(record, indent=2, ensure_ascii=False))
    scores = record["scores"]
    baselines = ", ".join(f"{label} {scores[tagger]['accuracy']:.1%}" for tagger, label in
                          (("most_frequent_tag", "most frequent tag"), ("random_init", "random init"))
                          if tagger in scores)
    return Outcome(f"{record['task']} accuracy {scores['model']['accuracy']:.1%} on {record['test']} "
                   f"({record['split']}; {baselines})")


def _cards(build: Build) -> Outcome:
    config = build.config
    repos = build.repo_ids()
    members = [build.model_dir(name).name for name in config.family]
    for name in config.family:
        directory = build.model_dir(name)
        render_card(directory, repo_id=repos.get(directory.name), licence=config.card.license,
                    datasets=config.card.datasets, family_repos=repos, members=members)
    count = len(config.family)
    return Outcome(f"{count} model card{'s' if count != 1 else ''}")


def _push(build: Build, name: str) -> Outcome:
    settings = build.config.push
    model_dir = build.model_dir(name)
    verdict = judge((read_json(model_dir / "eval.json") or {}).get("validation"))
    if settings.only_learned and not verdict.learned:
        return Outcome(f"not pushed ({verdict.level}): {verdict.reason}")
    url = push_to_hub(model_dir, settings.repo_id(name), private=settings.private)["url"]
    return Outcome(url, url=url)


def _asdict(obj):
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj


def _load(path: Path) -> dict:
    """A JSON file the stage has just written (missing, it fails loudly)."""
    return json.loads(path.read_text(encoding="utf-8"))


def _scores(model_dir: Path) -> str:
    verdict = judge(_load(model_dir / "eval.json")["validation"])
    return f"{verdict.level if verdict.learned else verdict.level.upper()}: {verdict.reason}"
