"""``macedonizer build``: the whole family from one config, redoing only what changed.

The modules, one idea each:

* ``config``: ``BuildConfig``, the TOML sections as the stages' config
  objects; ``read`` (a file, ``--set`` overrides, ``--sizes``),
  ``from_table``, and the resolved config as TOML (``to_toml``). Torch-free.
* ``stages``: what each stage does (clean, tokenizer, sweep, pretrain per
  size, derive, eval, downstream, cards, push): its fingerprint inputs, its work and its
  done-check; ``plan`` lists them in order.
* ``executor``: fingerprints and manifests, the skip / resume / run loop, and
  ``run``, which returns a ``BuildResult`` and writes ``OUT/build.json``.
* ``report``: the stage lines and the summary table as text, for the command
  line to print.
* ``downstream``: the ``[downstream]`` table (CoNLL-U files and fine-tuning
  settings) and the ``downstream.json`` each model's card reads. Torch-free.

``from macedonizer import build; build.run(build.read("my.toml"), "mk-bert/")``
is ``macedonizer build my.toml -o mk-bert`` without the printing.
"""

from __future__ import annotations

from .config import BuildConfig, read

__all__ = ["BuildConfig", "read", "run"]


def __getattr__(name: str):
    # Loaded on first use: the stages import torch and transformers, and `import macedonizer.build.config`
    # (the CLI's --print-config, the config tests) must not.
    if name == "run":
        from .executor import run

        return run
    raise AttributeError(f"module 'macedonizer.build' has no attribute {name!r}")
