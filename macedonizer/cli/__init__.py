"""The ``macedonizer`` command line: thin click commands over the stage functions.

One module per command group: ``data`` (clean, tokenizer, corpora),
``train`` (sizes, pretrain, sweep, prune), ``models`` (eval, card, push,
pull, export), ``serve`` (fill, serve) and ``build`` (build, and the hidden
pretrain-job). This module holds the group, which turns user errors into one
sentence and an exit status.

Each command imports its stage modules inside its function, the one kind of
import below the top in this package: ``import macedonizer.cli`` takes about
0.1 s, so ``macedonizer --help`` and a mistyped option answer at once, where
importing the stages first would take seconds (measured on two cores, each
after ``import macedonizer.cli``: torch 1.5 s, transformers' model classes
0.9 s more, ``macedonizer.sweep`` 4 s, ``macedonizer.serve`` 2.8 s,
``macedonizer.prune.derived`` 3.6 s, ``macedonizer.cards`` 0.5 s,
``macedonizer.corpus.pipeline`` 0.4 s).
"""

from __future__ import annotations

import sys

import click

from .. import __version__
from ..errors import MacedonizerError
from .build import build, pretrain_job
from .data import clean, corpora, tokenizer
from .downstream import finetune
from .models import card, eval_command, export, pull, push
from .serve import fill, serve
from .train import pretrain, prune, sizes, sweep

COMMANDS = (clean, tokenizer, corpora, sizes, pretrain, sweep, prune, finetune, eval_command, card, push, pull,
            export, fill, serve, build, pretrain_job)


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


@click.group(cls=_Group, commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="macedonizer")
def main():
    """From raw Macedonian text to a published family of BERT models."""
