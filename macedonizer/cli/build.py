"""``build``: the whole model family from one config, and the hidden ``pretrain-job`` its torchrun processes run."""

from __future__ import annotations

import sys

import click


# The demo: the bundled sample is small (803 sentences), so a small
# vocabulary, and short CPU runs; on 803 sentences tiny learns in 300 steps
# of 32 sequences (mini needs more: its card says so).
@click.command(epilog="""\b
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
    from ..build.config import read, to_toml  # torch-free: --print-config and a bad config answer at once

    loaded = read(config, overrides, sizes=sizes, push_namespace=push_namespace)
    if print_config:
        click.echo(to_toml(loaded), nl=False)
        return
    from ..build.executor import run  # the stages load torch and transformers: only when building
    from ..build.report import stage_line, summary

    try:
        result = run(loaded, out or loaded.build.out, force=force, push=push_namespace is not None
                     or bool(loaded.push.namespace), progress=not quiet,
                     on_event=lambda event: click.echo(stage_line(event)))
    except KeyboardInterrupt:
        click.echo("\nInterrupted. Run the same command again to resume where it stopped.", err=True)
        sys.exit(130)
    click.echo(summary(result))


@click.command("pretrain-job", hidden=True)
@click.argument("job", type=click.Path(dir_okay=False, exists=True))
def pretrain_job(job):
    """One torchrun process of a build's pretraining (internal)."""
    from ..build.stages import run_pretrain_job  # loads torch: only in a torchrun process

    run_pretrain_job(job)
