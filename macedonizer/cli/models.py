"""Commands on a trained model: ``eval``, ``card``, ``push``, ``pull`` and ``export onnx``."""

from __future__ import annotations

import json

import click

from ..configs import TASKS
from ..errors import MacedonizerError
from ..verdict import judge


@click.command("eval")
@click.argument("model", type=click.Path(file_okay=False, exists=True))
@click.option("--task", type=click.Choice(("mlm", *TASKS)), default="mlm", show_default=True,
              help="mlm: masked-LM on --text; upos: a `macedonizer finetune` tagger on --test (CoNLL-U).")
@click.option("--text", "texts", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="Plain text, one sentence or paragraph a line; repeatable (--task mlm).")
@click.option("--test", "test", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Tagged test sentences, CoNLL-U (--task upos).")
@click.option("--train", "train", default=None, type=click.Path(dir_okay=False, exists=True),
              help="--task upos: learn the most-frequent-tag baseline from this file  [default: the one stored].")
@click.option("--seq-len", type=click.IntRange(8), default=128, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the (deterministic) masking.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def eval_command(model, task, texts, test, train, seq_len, seed, device, as_json):
    """Masked-LM loss and accuracy of MODEL on text, against the unigram and n-gram baselines.

    Every scored token is replaced by [MASK]; the verdict (learned, plateau,
    untrained) is the one cards, build and sweep use. With --task upos, MODEL
    is a fine-tuned tagger: its accuracy, macro F1 and per-tag F1 on --test,
    beside the most-frequent-tag and random-init baselines on the same words.
    """
    from ..train.evaluate import evaluate_text

    if task != "mlm":
        return _eval_tagger(model, task, test, train, as_json)
    if not texts:
        raise MacedonizerError("eval needs held-out text: pass --text FILE (or --task upos --test FILE.conllu).")
    results = evaluate_text(model, list(texts), seq_len=seq_len, seed=seed, device=device)
    for record in results.values():
        verdict = judge(record)
        record.update(verdict=verdict.level, verdict_reason=verdict.reason)
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    click.echo(f"{'text':<24} {'loss':>7} {'acc':>6} {'unigram':>14} {'n-gram':>14} {'masked':>8}  verdict")
    for name, r in results.items():
        ngram = f"{r['ngram_loss']:.3f} {r['ngram_accuracy']:>6.1%}" if "ngram_loss" in r else "-"
        click.echo(f"{name:<24} {r['loss']:>7.3f} {r['masked_accuracy']:>6.1%} "
                   f"{r['unigram_loss']:>7.3f} {r['unigram_accuracy']:>6.1%} {ngram:>14} {r['masked_tokens']:>8,}  "
                   f"{r['verdict']}")


def _eval_tagger(model, task, test, train, as_json) -> None:
    from ..downstream.evaluate import evaluate_tagger
    from .downstream import print_tagging_table

    if not test:
        raise MacedonizerError(f"eval --task {task} needs tagged test sentences: pass --test FILE.conllu.")
    results = evaluate_tagger(model, test, train=train)
    if as_json:
        click.echo(json.dumps(results, indent=2, ensure_ascii=False))
    else:
        print_tagging_table(results)


@click.command(epilog="""\b
Examples:
  macedonizer card build/models/mini
  macedonizer card models/base --repo-id my-org/mk-bert-base --license cc-by-4.0 --dataset HuggingFaceFW/fineweb-2
""")
@click.argument("model_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--repo-id", default=None, help="Where the model will be published (NAMESPACE/NAME), for links.")
@click.option("--license", "licence", default="apache-2.0", show_default=True, help="SPDX licence id.")
@click.option("--dataset", "datasets", multiple=True, help="A Hub dataset id the model was trained on; repeatable.")
def card(model_dir, repo_id, licence, datasets):
    """Write MODEL_DIR/README.md (and loss_curve.png) from the run's real numbers."""
    from ..cards import render

    path = render(model_dir, repo_id=repo_id, licence=licence, datasets=tuple(datasets))
    click.echo(f"Card: {path}")


@click.command(epilog="""\b
Examples:
  macedonizer push build/models/mini my-org/mk-bert-mini --dry-run
  HF_TOKEN=hf_... macedonizer push build/models/mini my-org/mk-bert-mini
""")
@click.argument("model_dir", type=click.Path(file_okay=False, exists=True))
@click.argument("repo_id")
@click.option("--private", is_flag=True, help="Create the repo as private.")
@click.option("--revision", default=None, help="Branch to push to (created if needed).")
@click.option("--commit-message", default=None)
@click.option("--dry-run", is_flag=True, help="List what would be uploaded and where; upload nothing.")
def push(model_dir, repo_id, private, revision, commit_message, dry_run):
    """Publish MODEL_DIR to the Hugging Face Hub as REPO_ID (HF_TOKEN, HF_ENDPOINT honoured)."""
    from ..hub import push as push_model

    result = push_model(model_dir, repo_id, private=private, revision=revision, commit_message=commit_message,
                        dry_run=dry_run)
    if dry_run:
        click.echo(f"Would upload to {result['url']} ({result['revision']}):")
        for path, size in result["files"]:
            click.echo(f"  {path:<32} {size:>12,} bytes")
        return
    if result["changed"]:
        click.echo(f"Pushed {len(result['files'])} files to {result['url']} (commit {result['commit'][:10]}).")
    else:
        click.echo(f"{result['url']} is up to date: nothing changed, no commit made.")


@click.command(epilog="""\b
Examples:
  macedonizer pull my-org/mk-bert-mini -o models/mini
  HF_HUB_OFFLINE=1 macedonizer pull my-org/mk-bert-mini     # from the cache
""")
@click.argument("repo_id")
@click.option("-o", "--out", "out", default=None, type=click.Path(file_okay=False),
              help="Copy the model into this folder (default: only the Hugging Face cache).")
@click.option("--revision", default=None)
def pull(repo_id, out, revision):
    """Download a published model (works offline from the cache with HF_HUB_OFFLINE=1)."""
    from ..hub import pull as pull_model

    click.echo(str(pull_model(repo_id, out=out, revision=revision)))


@click.group()
def export():
    """Export a model for other runtimes."""


@export.command("onnx", epilog="""\b
Examples:
  pip install -e '.[onnx]'
  macedonizer export onnx build/models/mini
  macedonizer serve --model build/models/mini --backend onnx
""")
@click.argument("model_dir", type=click.Path(file_okay=False, exists=True))
def export_onnx(model_dir):
    """Write MODEL_DIR/onnx/encoder.onnx, for `macedonizer serve --backend onnx` (ONNX Runtime on CPU).

    The encoder is exported and checked against PyTorch; the prediction head
    stays in PyTorch. Needs the onnx extra: pip install 'macedonizer[onnx]'.
    """
    from ..export import export_onnx as write_onnx

    click.echo(f"ONNX encoder: {write_onnx(model_dir)}")
