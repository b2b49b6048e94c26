"""The ``macedonizer`` command line: thin click commands over the stage functions."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import replace
from pathlib import Path

import click

from . import __version__
from .configs import RECIPE_FIELDS, RunConfig, TrainConfig
from .fields import click_options, settings_from
from .errors import MacedonizerError
from .verdict import judge


class _Group(click.Group):
    """A click group that turns user errors into one sentence and exit 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MacedonizerError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)
        except KeyboardInterrupt as exc:  # an Interrupted says what was kept
            click.echo(str(exc) or "Interrupted; nothing was written.", err=True)
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="macedonizer")
def main():
    """From raw Macedonian text to a published family of BERT models."""


def _parse_shard(ctx, param, value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        index, count = (int(part) for part in value.split("/"))
    except ValueError:
        raise click.BadParameter("expected I/N, for example 0/8") from None
    if not (count >= 1 and 0 <= index < count):
        raise click.BadParameter(f"expected 0 <= I < N, got {value}")
    return index, count


@main.command(epilog="""\b
Examples:
  macedonizer clean dump/*.jsonl.gz -o corpus/
  macedonizer clean corpus:wikipedia -o wiki/ --workers 8
  macedonizer clean hf:HuggingFaceFW/fineweb-2:mkd_Cyrl -o web/ --shard 3/16
  macedonizer clean sentences.txt -o out/ --filters lang --rejects
""")
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--out", "out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--filters", default="all", show_default=True,
              help="Filter groups: all, lang (language ID + exact dedup), none, or a comma list of "
                   "langid, quality, dedup, near-dedup, pii.")
@click.option("--mk-threshold", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Minimum mk_score to keep a document.")
@click.option("--paragraphs", is_flag=True, help=".txt inputs: documents are separated by blank lines.")
@click.option("--text-field", default="text", show_default=True, help="Text field of JSONL, Parquet and datasets.")
@click.option("--min-words", type=click.IntRange(0), default=None, help="Quality: minimum words per document.")
@click.option("--min-chars", type=click.IntRange(0), default=None, help="Quality: minimum characters per document.")
@click.option("--near-dup-threshold", type=click.FloatRange(0, 1), default=0.8, show_default=True,
              help="Jaccard similarity at which documents are near duplicates.")
@click.option("--workers", type=click.IntRange(1), default=1, show_default=True, help="Worker processes.")
@click.option("--shard", "shard", default=None, callback=_parse_shard,
              help="Process only shard I of N (0-based), e.g. 3/16.")
@click.option("--rejects", is_flag=True, help="Also write dropped documents with their reason to OUT/rejects/.")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
def clean(inputs, out, filters, mk_threshold, paragraphs, text_field, min_words, min_chars,
          near_dup_threshold, workers, shard, rejects, overwrite, quiet):
    """Clean raw text into a Macedonian corpus (OUT/*.jsonl.gz + OUT/report.json).

    INPUTS are .txt, .jsonl(.gz), .parquet and .xml.bz2 files, folders and globs
    of those, Hugging Face datasets as hf:ID[:CONFIG[:SPLIT]], and bundled
    recipes as corpus:NAME (see `macedonizer corpora`).
    """
    from .corpus.filters import QualityConfig
    from .corpus.pipeline import CleanConfig, RunOptions, parse_filters, report_name, run
    from .corpus.readers import ReadOptions

    quality = QualityConfig()
    if min_words is not None:
        quality = replace(quality, min_words=min_words)
    if min_chars is not None:
        quality = replace(quality, min_chars=min_chars)
    config = CleanConfig(
        filters=parse_filters(filters),
        mk_threshold=mk_threshold,
        near_dup_threshold=near_dup_threshold,
        read=ReadOptions(paragraphs=paragraphs, text_field=text_field),
        quality=quality,
    )
    options = RunOptions(workers=workers, shard=shard, rejects=rejects,
                         overwrite=overwrite, progress=not quiet)
    out_dir = run(list(inputs), out, config, options)
    if not quiet:
        with open(Path(out_dir) / report_name(options), encoding="utf-8") as f:
            print_clean_summary(json.load(f), out_dir)


def print_clean_summary(report: dict, out_dir) -> None:
    """A few lines a person can read: what went in, what came out, and why."""
    docs, chars = report["documents"], report["characters"]
    wall = report["timings_s"]["wall"] or 1e-9
    share = docs["out"] / docs["in"] if docs["in"] else 0.0
    click.echo(f"\nKept {docs['out']:,} of {docs['in']:,} documents ({share:.1%}), "
               f"{chars['out']:,} of {chars['in']:,} characters, in {wall:.1f}s "
               f"({chars['in'] / wall / 1e6:.2f} M characters/s).")
    if report["drops"]:
        click.echo("Dropped:")
        for reason, counts in report["drops"].items():
            click.echo(f"  {reason:<20} {counts['docs']:>10,} docs {counts['chars']:>14,} chars")
    extras = {**report["skipped_on_read"], **{f"repaired {k}": v for k, v in report["repairs"].items()},
              **{f"lines removed: {k}": v for k, v in report["lines_removed"].items()},
              **{f"PII {k}": v for k, v in report["pii_replaced"].items()}}
    for name, value in extras.items():
        click.echo(f"  {name:<28} {value:>8,}")
    click.echo(f"Output: {out_dir}")


@main.command(epilog="""\b
Examples:
  macedonizer tokenizer corpus/ -o tokenizer/
  macedonizer tokenizer corpus/ -o tok-uncased/ --uncased --vocab-size 50000
  macedonizer tokenizer corpus/ -o tokenizer/ --eval-text news.txt --eval-text prose.txt
""")
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--out", "out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--vocab-size", type=click.IntRange(0), default=0, show_default=True,
              help="Vocabulary size, special tokens included; 0 chooses it from the corpus: one entry per "
                   "1,000 training characters, between 4,000 and 32,000.")
@click.option("--uncased", is_flag=True, help="Lowercase (ѓ ќ ѐ ѝ and every accent are still kept).")
@click.option("--min-frequency", type=click.IntRange(1), default=2, show_default=True,
              help="Minimum count for a merge to enter the vocabulary.")
@click.option("--eval-text", "eval_texts", multiple=True, type=click.Path(dir_okay=False),
              help="A text file (one sentence or paragraph a line) to report coverage on; repeatable.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
def tokenizer(inputs, out, vocab_size, uncased, min_frequency, eval_texts, quiet):
    """Train a WordPiece tokenizer that keeps every Macedonian letter.

    INPUTS is the output folder of `clean`, or anything `clean` accepts. OUT
    becomes a BertTokenizerFast folder (tokenizer.json, vocab.txt,
    tokenizer_config.json, special_tokens_map.json) plus stats.json.
    """
    from .tokenizer import TokenizerConfig, run

    config = TokenizerConfig(vocab_size=vocab_size, uncased=uncased, min_frequency=min_frequency,
                             eval_texts=tuple(eval_texts))
    out_dir = run(list(inputs), out, config, progress=not quiet)
    if not quiet:
        with open(Path(out_dir) / "stats.json", encoding="utf-8") as f:
            print_tokenizer_summary(json.load(f), out_dir)


def print_tokenizer_summary(stats: dict, out_dir) -> None:
    corpus = stats["corpus"]
    click.echo(f"\nVocabulary of {stats['vocab_size']:,} ({'uncased' if stats['uncased'] else 'cased'}) "
               f"from {corpus['documents']:,} documents in {stats['timings_s']['train']:.1f}s; "
               f"the letter round trip holds.")
    makeup = ", ".join(f"{k} {v:,}" for k, v in stats["vocabulary"].items())
    click.echo(f"Make-up: {makeup}")
    click.echo(f"{'text':<24} {'words':>10} {'fertility':>10} {'split':>8} {'[UNK]':>9}")
    for name, row in stats["evaluation"].items():
        click.echo(f"{name:<24} {row['words']:>10,} {row['fertility']:>10.3f} "
                   f"{row['split_word_share']:>8.1%} {row['unk_rate']:>9.4%}")
    click.echo(f"Output: {out_dir}")


@main.command()
def corpora():
    """List the bundled corpus recipes (use them as corpus:NAME)."""
    from .corpus.recipes import available_recipes, load_recipe

    for name in available_recipes():
        recipe = load_recipe(name)
        click.echo(f"corpus:{name:<12} {recipe.title}")
        click.echo(f"  {'':12} {recipe.dataset}{':' + recipe.config if recipe.config else ''} · "
                   f"{recipe.licence} · {recipe.size}")
    click.echo(f"corpus:{'sample':<12} The bundled sample corpus (offline)")
    click.echo(f"  {'':12} 803 Macedonian sentences + 38 dirty documents · CC0-1.0")


@main.command()
@click.option("--vocab-size", type=click.IntRange(1), default=32000, show_default=True)
def sizes(vocab_size):
    """List the named model sizes with their parameter counts."""
    from .configs import SIZES

    click.echo(f"{'size':<8} {'layers':>6} {'hidden':>6} {'heads':>5} {'ffn':>6} {'parameters':>12} {'non-embedding':>14}")
    for name, size in SIZES.items():
        click.echo(f"{name:<8} {size.layers:>6} {size.hidden:>6} {size.heads:>5} {size.intermediate:>6} "
                   f"{size.parameters(vocab_size) / 1e6:>11.1f}M {size.non_embedding_parameters() / 1e6:>13.1f}M")
    click.echo(f"(vocabulary {vocab_size:,}; custom shapes: --size L<layers>/H<hidden>)")


class Duration(click.ParamType):
    """A wall-clock budget: 90s, 30m, 2h (seconds when no unit is given)."""

    name = "duration"
    units = {"s": 1, "m": 60, "h": 3600}

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)):
            return float(value)
        match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", str(value).strip())
        if not match:
            self.fail("expected a duration such as 90s, 30m or 2h", param, ctx)
        return float(match.group(1)) * self.units[match.group(2) or "s"]


@main.command(epilog="""\b
Examples:
  macedonizer pretrain --data corpus/ --tokenizer tokenizer/ --size tiny -o models/tiny --max-steps 2000
  macedonizer pretrain --data corpus/ --tokenizer tokenizer/ --size mini -o models/mini --time 30m
  macedonizer pretrain --data corpus/ --tokenizer tokenizer/ --size mini -o models/mini --time 30m --resume
  torchrun --nproc_per_node 4 -m macedonizer pretrain --data corpus/ --tokenizer tokenizer/ --size base ...
""")
@click.option("--data", "data", multiple=True, required=True, help="Cleaned corpus (or any clean input); repeatable.")
@click.option("--tokenizer", "tokenizer_dir", required=True, type=click.Path(file_okay=False, exists=True))
@click.option("-o", "--out", "out", required=True, type=click.Path(file_okay=False))
@click_options(TrainConfig, names={"time_s": "--time"}, types={"time_s": Duration()}, recipe=RECIPE_FIELDS,
               nested={"masking": {"rate": "--mask-rate", "whole_word": "--whole-word-masking"}})
@click_options(RunConfig, skip=("progress",))
@click.option("-q", "--quiet", is_flag=True)
def pretrain(data, tokenizer_dir, out, quiet, **options):
    """Pretrain one BERT size with masked-LM on a cleaned corpus.

    OUT becomes a standard BertForMaskedLM folder (config.json,
    model.safetensors, tokenizer files) with metrics.jsonl, eval.json,
    training_config.json and checkpoints/. Settings left out take the
    size's recipe (lr, batch size, warm-up, dropout, variant) or the
    default shown.
    """
    from .pretrain import run

    config = TrainConfig.for_size(**settings_from(TrainConfig, options))
    out_dir = run(list(data), tokenizer_dir, out, config,
                  RunConfig(**settings_from(RunConfig, options, progress=not quiet)))
    if not quiet and (Path(out_dir) / "eval.json").exists():
        print_pretrain_summary(out_dir)


def print_pretrain_summary(out_dir) -> None:
    ev = json.loads((Path(out_dir) / "eval.json").read_text(encoding="utf-8"))
    v = ev["validation"]
    click.echo(f"\n{ev['size']} ({ev['parameters'] / 1e6:.1f}M parameters): {ev['steps']} steps, "
               f"{ev['tokens']:,} tokens in {ev['seconds']:.0f}s ({ev['tokens_per_s']:,.0f} tokens/s)")
    verdict = judge(v)
    click.echo(f"validation (every scored token masked): {verdict.level}: {verdict.reason}")
    click.echo(f"Output: {out_dir}")


def _float_list(ctx, param, value: str | None) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        return tuple(float(x) for x in value.split(",") if x.strip())
    except ValueError:
        raise click.BadParameter("expected comma-separated numbers, such as 1e-4,3e-4") from None


def _name_list(ctx, param, value: str | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(x.strip() for x in value.split(",") if x.strip())


@main.command(epilog="""\b
Examples:
  macedonizer sweep --data wiki.txt --tokenizer tok/ -o sweep/ --sizes tiny,mini,small --lr 1e-3,3e-3,1e-2
  macedonizer sweep --data wiki.txt --tokenizer tok/ -o sweep/ --variant post-ln,pre-ln --warmup 0,0.1 --workers 2
  macedonizer sweep --data wiki.txt --tokenizer tok/ -o sweep/ --config sweep.toml
Rerunning with the same OUT skips finished runs and resumes an interrupted one; new axis values extend the grid.
""")
@click.option("--data", "data", multiple=True, required=True, help="Cleaned corpus (or any clean input); repeatable.")
@click.option("--tokenizer", "tokenizer_dir", required=True, type=click.Path(file_okay=False, exists=True))
@click.option("-o", "--out", "out", required=True, type=click.Path(file_okay=False))
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True),
              help="TOML with SweepConfig fields; options given here override it.")
@click.option("--sizes", callback=_name_list, help="Sizes, comma-separated  [default: tiny,mini,small]")
@click.option("--lr", "lrs", callback=_float_list, help="Peak learning rates  [default: 1e-4,3e-4,1e-3,3e-3]")
@click.option("--warmup", "warmups", callback=_float_list, help="Warm-up shares  [default: 0,0.06]")
@click.option("--variant", "variants", callback=_name_list, help="post-ln and/or pre-ln  [default: post-ln]")
@click.option("--lr-scaling", "lr_scalings", callback=_name_list, help="none and/or mup  [default: none]")
@click.option("--clip", "max_grad_norms", callback=_float_list, help="Gradient-clipping norms; inf for none  [default: 1]")
@click.option("--steps", type=click.IntRange(1), default=None, help="Steps per run  [default: 300]")
@click.option("--tokens", type=click.IntRange(1), default=None, help="Training tokens per run, instead of --steps.")
@click.option("--seq-len", type=click.IntRange(8), default=None, help="[default: 64]")
@click.option("--batch-size", type=click.IntRange(1), default=None, help="[default: 16]")
@click.option("--workers", type=click.IntRange(1), default=None, help="Runs in parallel processes  [default: 1]")
@click.option("--device", default=None, help="auto, cpu, cuda …  [default: auto]")
@click.option("-q", "--quiet", is_flag=True)
def sweep(data, tokenizer_dir, out, config_path, sizes, lrs, warmups, variants, lr_scalings, max_grad_norms, steps,
          tokens, seq_len, batch_size, workers, device, quiet):
    """Map where each model size learns: a grid of short pretraining runs, classified and explained.

    OUT gets runs/ (one pretraining folder per grid point), runs.csv,
    report.md, learnability.png and recommended.json.
    """
    from .sweep import SweepConfig, recommended
    from .sweep import run as run_sweep

    overrides = {"sizes": sizes, "lrs": lrs, "warmups": warmups, "variants": variants, "lr_scalings": lr_scalings,
                 "max_grad_norms": max_grad_norms, "steps": steps, "tokens": tokens, "seq_len": seq_len,
                 "batch_size": batch_size, "workers": workers, "device": device}
    config = SweepConfig.load(config_path, **overrides)
    out_dir = run_sweep(list(data), tokenizer_dir, out, config, progress=not quiet)
    if not quiet:
        for size, entry in recommended(out_dir).items():
            click.echo(f"{size}: lr {entry['lr']:g}, warm-up {entry['warmup']:g}, {entry['variant']} "
                       f"(val {entry['validation_loss']:.3f}, unigram {entry['unigram_loss']:.3f})")
        click.echo(f"Report: {Path(out_dir) / 'report.md'}")


@main.command("eval")
@click.argument("model", type=click.Path(file_okay=False, exists=True))
@click.option("--text", "texts", multiple=True, required=True, type=click.Path(dir_okay=False, exists=True),
              help="Plain text, one sentence or paragraph a line; repeatable.")
@click.option("--seq-len", type=click.IntRange(8), default=128, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the (deterministic) masking.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def eval_command(model, texts, seq_len, seed, device, as_json):
    """Masked-LM loss and accuracy of MODEL on text, against the unigram and n-gram baselines.

    Every scored token is replaced by [MASK]; the verdict (learned, plateau,
    untrained) is the one cards, build and sweep use.
    """
    from .evaluate import evaluate_text

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


@main.command(epilog="""\b
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
    from .cards import render

    path = render(model_dir, repo_id=repo_id, licence=licence, datasets=tuple(datasets))
    click.echo(f"Card: {path}")


@main.command(epilog="""\b
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
    from .hub import push as push_model

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


@main.command(epilog="""\b
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
    from .hub import pull as pull_model

    click.echo(str(pull_model(repo_id, out=out, revision=revision)))


@main.command(epilog="""\b
Examples:
  macedonizer fill "Скопје е главен [MASK] на Македонија." --model build/models/mini
  macedonizer fill "Утре ќе одам на <mask>." --model build/models/tiny --top-k 3 --json
""")
@click.argument("texts", nargs=-1, required=True)
@click.option("--model", required=True, help="A model folder or a Hub repo id.")
@click.option("--top-k", type=click.IntRange(1, 100), default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the pipeline's JSON.")
def fill(texts, model, top_k, as_json):
    """Fill the [MASK] (or <mask>) in each TEXT with the model's best guesses."""
    from .inference import FillMask

    results = FillMask(model)(list(texts), top_k=top_k)
    if as_json:
        click.echo(json.dumps(results if len(texts) > 1 else results[0], ensure_ascii=False, indent=2))
        return
    for text, result in zip(texts, results):
        click.echo(text)
        per_mask = result if result and isinstance(result[0], list) else [result]
        for i, predictions in enumerate(per_mask, 1):
            if len(per_mask) > 1:
                click.echo(f"  mask {i}:")
            for p in predictions:
                click.echo(f"  {p['score']:6.3f}  {p['token_str']:<16} {p['sequence']}")


@main.command(epilog="""\b
Examples:
  macedonizer serve --model build/models/mini
  macedonizer serve --model build/models/mini --model tiny=build/models/tiny --port 8080
  macedonizer serve --model my-org/mk-bert-mini --host 0.0.0.0
  macedonizer serve --model build/models/mini --backend onnx   # after: macedonizer export onnx build/models/mini
  curl -s localhost:8000/fill-mask -d '{"inputs": "Скопје е главен [MASK] на Македонија."}'
""")
@click.option("--model", "models", multiple=True, required=True, metavar="[NAME=]PATH_OR_REPO",
              help="A model folder or Hub repo id, optionally named; repeatable (the first is the default).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--max-batch", type=click.IntRange(1, 1024), default=32, show_default=True,
              help="Texts in one forward pass.")
@click.option("--batch-wait-ms", type=click.FloatRange(0, 1000), default=2.0, show_default=True,
              help="How long a batch waits for more requests while requests arrive together.")
@click.option("--backend", type=click.Choice(["torch", "onnx"]), default="torch", show_default=True,
              help="Run the encoder with PyTorch, or with ONNX Runtime (needs `macedonizer export onnx MODEL`).")
def serve(models, host, port, max_batch, batch_wait_ms, backend):
    """Serve fill-mask over HTTP (the Hugging Face Inference API's shape) with a web demo at /.

    POST /fill-mask and /models/NAME/fill-mask take {"inputs": ..., "parameters":
    {"top_k": ..., "targets": [...]}}; GET /health and GET /models describe the
    service. Needs the serve extra: pip install 'macedonizer[serve]'.
    """
    from .serve import Limits, run

    run(list(models), host=host, port=port, limits=Limits(max_batch=max_batch, batch_wait_ms=batch_wait_ms),
        backend=backend)


@main.group()
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
    from .export import export_onnx as write_onnx

    click.echo(f"ONNX encoder: {write_onnx(model_dir)}")


@main.command(epilog="""\b
Examples:
  macedonizer prune models/mini -o models/mini-drop-top-2 --drop-layers top:2
  macedonizer prune models/mini -o models/mini-sparse-50 --sparsity 0.5 --scope layer
  macedonizer prune models/mini -o models/mini-sparse-50r --sparsity 0.5 --recover-steps 200 --data corpus/
  macedonizer prune models/mini --report -o prune-report/ --text held-out.txt
""")
@click.argument("model", type=click.Path(file_okay=False, exists=True))
@click.option("-o", "--out", "out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--drop-layers", default=None, metavar="STRATEGY:K",
              help="Remove K layers: top, bottom, alternate (every other from the top) or symmetric (the middle).")
@click.option("--sparsity", type=float, default=None,
              help="Zero this share of the encoder's attention and feed-forward weights, smallest first "
                   "(embeddings, LayerNorm, biases and the head stay dense).")
@click.option("--scope", type=click.Choice(["global", "layer"]), default="global", show_default=True,
              help="Rank weights over the whole encoder, or prune every matrix to the same sparsity.")
@click.option("--recover-steps", type=click.IntRange(0), default=0, show_default=True,
              help="Masked-LM steps after pruning, pruned weights held at zero.")
@click.option("--recover-lr", type=float, default=None, help="Peak learning rate of recovery (default: the parent's).")
@click.option("--data", "data", multiple=True,
              help="Corpus for recovery and validation (default: the parent's); repeatable.")
@click.option("--tokenizer", "tokenizer_dir", default=None, type=click.Path(file_okay=False),
              help="The parent's tokenizer folder, where its data cache lives (default: the one it recorded).")
@click.option("--parent-repo-id", default=None, help="The parent's Hub repo id, named in the card.")
@click.option("--repo-id", default=None, help="Where the pruned model will be published, for its card.")
@click.option("--report", "as_report", is_flag=True,
              help="Instead: score every strategy and sparsity on --text; write prune_report.json and .png.")
@click.option("--text", "texts", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="--report: held-out text, one sentence or paragraph a line; repeatable.")
@click.option("--sparsities", default=None, help="--report: the sparsities to measure, e.g. 0.5,0.9 "
              "(default 0.3, 0.4, … 0.9).")
@click.option("--seq-len", type=click.IntRange(8), default=128, show_default=True, help="--report: as for eval.")
@click.option("--seed", type=int, default=0, show_default=True, help="--report: seed of the masking.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or summary.")
def prune(model, out, drop_layers, sparsity, scope, recover_steps, recover_lr, data, tokenizer_dir,
          parent_repo_id, repo_id, as_report, texts, sparsities, seq_len, seed, device, overwrite, quiet):
    """Derive a smaller model from MODEL by dropping layers or magnitude pruning.

    OUT becomes a standard masked-LM folder with eval.json (validation on
    the parent's held-out documents), prune.json (parent, method, kept layers
    or sparsity, retained accuracy) and a card. With --report, nothing is
    saved of the models: OUT gets prune_report.json and prune_report.png.
    """
    from .prune import DEFAULT_SPARSITIES, derive, format_report, report, summary

    if as_report:
        if not texts:
            raise MacedonizerError("--report needs held-out text: pass --text FILE.")
        try:
            levels = tuple(float(s) for s in sparsities.split(",")) if sparsities else DEFAULT_SPARSITIES
        except ValueError:
            raise MacedonizerError(f"--sparsities {sparsities!r} is not a comma list of numbers.") from None
        out_dir = report(model, out, list(texts), sparsities=levels, seq_len=seq_len, seed=seed, device=device,
                         progress=not quiet, overwrite=overwrite)
        if not quiet:
            click.echo(format_report(json.loads((out_dir / "prune_report.json").read_text(encoding="utf-8"))))
            click.echo(f"Output: {out_dir}")
        return
    if (drop_layers is None) == (sparsity is None):
        raise MacedonizerError("Give one of --drop-layers STRATEGY:K or --sparsity S (or --report).")
    method = f"drop:{drop_layers}" if drop_layers is not None else f"sparsity:{sparsity}:{scope}"
    out_dir = derive(model, out, method, data_inputs=list(data) or None, tokenizer_dir=tokenizer_dir,
                     recover_steps=recover_steps, recover_lr=recover_lr, parent_repo_id=parent_repo_id,
                     repo_id=repo_id, device=device, progress=not quiet, overwrite=overwrite)
    if not quiet:
        click.echo(summary(out_dir))


# The demo: the bundled sample is small (803 sentences), so a small
# vocabulary, and short CPU runs; on 803 sentences tiny learns in 300 steps
# of 32 sequences (mini needs more: its card says so).
@main.command(epilog="""\b
Examples:
  macedonizer build                                  # the bundled demo, offline on CPU
  macedonizer build configs/production.toml -o mk-bert --push my-org
  macedonizer build my.toml --sizes tiny,mini --set pretrain.max_steps=500
  macedonizer build my.toml --print-config > resolved.toml
""")
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@click.option("-o", "--out", "out", default=None, type=click.Path(file_okay=False),
              help="Output folder (default: [build] out, else ./build).")
@click.option("--sizes", default=None, help="Comma list of sizes, replacing [build] sizes.")
@click.option("--push", "push_namespace", default=None, metavar="NAMESPACE",
              help="Publish every model that learned as NAMESPACE/mk-bert-<size> ([push] pattern).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config key, e.g. pretrain.max_steps=20 or tokenizer.vocab_size=4000; repeatable.")
@click.option("--force", is_flag=True, help="Redo every stage, even those that are up to date.")
@click.option("--print-config", is_flag=True, help="Print the fully resolved config as TOML and exit.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars (stage lines and the summary stay).")
def build(config, out, sizes, push_namespace, overrides, force, print_config, quiet):
    """Build the model family from one CONFIG file (default: the bundled demo).

    clean → tokenizer → (learnability sweep for lr = "auto") → pretrain each
    size → derive pruned members → eval → cards → push. Each stage keeps a
    manifest in OUT/manifests; a rerun skips stages whose config and inputs
    are unchanged, redoes a changed stage and those after it, and resumes an
    interrupted pretraining from its checkpoint.
    """
    from . import build as build_module
    from .buildconfig import read, to_toml

    loaded = read(config, overrides, sizes=sizes, push_namespace=push_namespace)
    if print_config:
        click.echo(to_toml(loaded), nl=False)
        return
    try:
        build_module.run(loaded, out or loaded.build.out, force=force, push=push_namespace is not None
                         or bool(loaded.push.namespace), progress=not quiet)
    except KeyboardInterrupt:
        click.echo("\nInterrupted. Run the same command again to resume where it stopped.", err=True)
        sys.exit(130)


@main.command("pretrain-job", hidden=True)
@click.argument("job", type=click.Path(dir_okay=False, exists=True))
def pretrain_job(job):
    """One torchrun process of a build's pretraining (internal)."""
    from .build import run_pretrain_job

    run_pretrain_job(job)


if __name__ == "__main__":
    main()
