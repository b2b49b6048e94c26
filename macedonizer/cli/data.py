"""Data commands: ``clean`` (raw text to a corpus), ``tokenizer`` (WordPiece) and ``corpora`` (the recipes)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import click

from ..corpus.config import FILTER_GROUPS, CleanConfig, ReadOptions, RunOptions, parse_filters
from ..corpus.filters import QualityConfig
from ..corpus.recipes import available_recipes, load_recipe
from ..corpus.shards import report_name


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


@click.command(epilog="""\b
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
                   f"{', '.join(FILTER_GROUPS)}.")
@click.option("--mk-threshold", type=click.FloatRange(0, 1), default=CleanConfig.mk_threshold, show_default=True,
              help="Minimum mk_score to keep a document.")
@click.option("--paragraphs", is_flag=True, help=".txt inputs: documents are separated by blank lines.")
@click.option("--text-field", default=ReadOptions.text_field, show_default=True,
              help="Text field of JSONL, Parquet and datasets.")
@click.option("--min-words", type=click.IntRange(0), default=None, help="Quality: minimum words per document.")
@click.option("--min-chars", type=click.IntRange(0), default=None, help="Quality: minimum characters per document.")
@click.option("--near-dup-threshold", type=click.FloatRange(0, 1), default=CleanConfig.near_dup_threshold,
              show_default=True, help="Jaccard similarity at which documents are near duplicates.")
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
    from ..corpus.pipeline import run
    from ..corpus.readers import unreadable_lines

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
    with open(Path(out_dir) / report_name(options), encoding="utf-8") as f:
        report = json.load(f)
    for line in unreadable_lines(report["unreadable"]):  # a warning, shown even with --quiet
        click.echo(f"Warning: {line}", err=True)
    if not quiet:
        print_clean_summary(report, out_dir)


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


@click.command(epilog="""\b
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
    from ..configs import TokenizerConfig
    from ..tokenizer import run

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
    alphabet = stats["alphabet"]
    covered = ", ".join(alphabet["blocks"]) or "none"
    left_out = f"; left out for want of room: {', '.join(alphabet['blocks_left_out'])}" \
        if alphabet["blocks_left_out"] else ""
    click.echo(f"Alphabet: {alphabet['required']:,} entries; symbol blocks covered: {covered}{left_out}")
    click.echo(f"{'text':<24} {'words':>10} {'fertility':>10} {'split':>8} {'[UNK]':>9}")
    for name, row in stats["evaluation"].items():
        click.echo(f"{name:<24} {row['words']:>10,} {row['fertility']:>10.3f} "
                   f"{row['split_word_share']:>8.1%} {row['unk_rate']:>9.4%}")
        if row.get("unk_characters"):
            culprits = ", ".join(f"{ch} (U+{ord(ch):04X}) ×{n:,}" for ch, n in row["unk_characters"].items())
            click.echo(f"{'':<24} [UNK] from: {culprits}")
    click.echo(f"Output: {out_dir}")


@click.command()
def corpora():
    """List the bundled corpus recipes (use them as corpus:NAME)."""
    for name in available_recipes():
        recipe = load_recipe(name)
        click.echo(f"corpus:{name:<12} {recipe.title}")
        click.echo(f"  {'':12} {recipe.dataset}{':' + recipe.config if recipe.config else ''} · "
                   f"{recipe.licence} · {recipe.size}")
    click.echo(f"corpus:{'sample':<12} The bundled sample corpus (offline)")
    click.echo(f"  {'':12} 803 Macedonian sentences + 38 dirty documents · CC0-1.0")
