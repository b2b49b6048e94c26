"""Downstream commands: ``finetune`` (and the table ``eval --task upos`` prints)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..configs import FinetuneConfig
from ..fields import click_options, settings_from


@click.command(epilog="""\b
Examples:
  macedonizer finetune models/tiny --task upos --train train.conllu --dev dev.conllu -o taggers/tiny
  macedonizer finetune models/mini --task upos --train train.conllu -o taggers/mini --no-baselines
  macedonizer eval taggers/tiny --task upos --test test.conllu
""")
@click.argument("model")
@click.option("--train", "train", required=True, type=click.Path(dir_okay=False, exists=True),
              help="Tagged training sentences (CoNLL-U).")
@click.option("--dev", "dev", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Tagged dev sentences (CoNLL-U) for early stopping and the scores  [default: --dev-share of --train].")
@click.option("-o", "--out", "out", required=True, type=click.Path(file_okay=False))
@click_options(FinetuneConfig)
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or summary.")
def finetune(model, train, dev, out, overwrite, quiet, **options):
    """Fine-tune a pretrained MODEL (folder or Hub id) as a tagger, beside the baselines it must beat.

    OUT becomes a pipeline("token-classification") folder with scores.json
    (dev accuracy, per-tag F1, the baselines' scores, timings, settings),
    most_frequent_tag.json, random_init/ (the random-init baseline) and a
    README.md card.
    """
    from ..downstream.finetune import run

    config = FinetuneConfig(**settings_from(FinetuneConfig, options))
    out_dir = run(config, model, train, out, dev, overwrite=overwrite, progress=not quiet)
    if not quiet:
        print_finetune_summary(out_dir)


def print_finetune_summary(out_dir) -> None:
    from ..downstream.report import SCORES_FILE, TAGGERS

    s = json.loads((Path(out_dir) / SCORES_FILE).read_text(encoding="utf-8"))
    run, scores = s["training"]["model"], s["scores"]
    others = ", ".join(f"{TAGGERS[name]} {scores[name]['accuracy']:.1%}" for name in scores if name != "model")
    click.echo(f"\nFine-tuned {s['base_model']} for {s['task'].upper()} on {s['train']['sentences']:,} sentences "
               f"({s['train']['words']:,} words): {run['steps']} steps, best at epoch {run['best_epoch']:g} "
               f"({run['precision']}), {s['seconds']:.0f}s in all. On {s['dev']['source']} "
               f"({s['dev']['words']:,} words) it tags {scores['model']['accuracy']:.1%} of the words right "
               f"(macro F1 {scores['model']['macro_f1']:.1%}); baselines: {others}.")
    click.echo(f"Output: {out_dir}")


def print_tagging_table(results: dict) -> None:
    """The ``eval --task upos`` table: each tagger's accuracy and macro F1, and per tag the F1 of each."""
    from ..downstream.report import TAGGERS

    scores = results["scores"]
    click.echo(f"{results['test']}: {results['sentences']:,} sentences, {results['words']:,} words")
    click.echo(f"{'':<10}" + "".join(f"{TAGGERS[name]:>20}" for name in scores))
    for metric in ("accuracy", "macro_f1"):
        click.echo(f"{metric:<10}" + "".join(f"{s[metric]:>20.1%}" for s in scores.values()))
    tags = sorted(scores["model"]["per_tag"], key=lambda t: -scores["model"]["per_tag"][t]["support"])
    click.echo(f"\nF1 per tag{'':<4}{'words':>6}" + "".join(f"{TAGGERS[name]:>20}" for name in scores))
    for tag in tags:
        support = scores["model"]["per_tag"][tag]["support"]
        cells = "".join(f"{s['per_tag'][tag]['f1']:>20.1%}" if tag in s["per_tag"] else f"{'-':>20}"
                        for s in scores.values())
        click.echo(f"{tag:<14}{support:>6}{cells}")
