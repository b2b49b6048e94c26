"""Training commands: ``sizes``, ``pretrain``, ``sweep`` (the learnability grid) and ``prune``."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import click

from ..configs import LR_SCALINGS, RECIPE_FIELDS, SIZES, VARIANTS, RunConfig, TrainConfig
from ..errors import MacedonizerError
from ..fields import click_options, settings_from
from ..prune import DEFAULT_SPARSITIES, REPORT_JSON, SCOPES
from ..sweep.config import HALVE_PER
from ..verdict import judge


@click.command()
@click.option("--vocab-size", type=click.IntRange(1), default=32000, show_default=True)
def sizes(vocab_size):
    """List the named model sizes with their parameter counts."""
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


@click.command(epilog="""\b
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
    from ..train.pretrain import run

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


def _early_stop(ctx, param, value: str | None) -> tuple[str, ...] | None:
    names = _name_list(ctx, param, value)
    return None if names is None else tuple(x for x in names if x != "none")


@click.command(epilog="""\b
Examples:
  macedonizer sweep --data wiki.txt --tokenizer tok/ -o sweep/ --sizes tiny,mini,small --lr 1e-3,3e-3,1e-2
  macedonizer sweep --data wiki.txt --tokenizer tok/ -o sweep/ --variant post-ln,pre-ln --warmup 0,0.1 --workers 2
  macedonizer sweep --data wiki.txt --tokenizer tok/ -o sweep/ --mask-rate 0.15,0.3
  macedonizer sweep --data wiki.txt --tokenizer tok/ -o sweep/ --early-stop halving --eta 3 --min-share 0.1   # a third of the compute
  macedonizer sweep --data wiki.txt --tokenizer tok/ -o sweep/ --early-stop rules
  macedonizer sweep --data wiki.txt --tokenizer tok/ -o sweep/ --resume-stopped
  macedonizer sweep --data wiki.txt --tokenizer tok/ -o early/ --early-stop halving --fidelity full/
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
@click.option("--variant", "variants", callback=_name_list,
              help=f"Any of {', '.join(VARIANTS)}  [default: post-ln]")
@click.option("--lr-scaling", "lr_scalings", callback=_name_list,
              help=f"{' and/or '.join(LR_SCALINGS)}  [default: none]")
@click.option("--clip", "max_grad_norms", callback=_float_list, help="Gradient-clipping norms; inf for none  [default: 1]")
@click.option("--mask-rate", "mask_rates", callback=_float_list,
              help="Shares of tokens masked in training  [default: 0.15]")
@click.option("--steps", type=click.IntRange(1), default=None, help="Steps per run  [default: 300]")
@click.option("--tokens", type=click.IntRange(1), default=None, help="Training tokens per run, instead of --steps.")
@click.option("--seq-len", type=click.IntRange(8), default=None, help="[default: 64]")
@click.option("--batch-size", type=click.IntRange(1), default=None, help="[default: 16]")
@click.option("--eval-every", type=click.IntRange(1), default=None, help="Steps between validations  [default: 50]")
@click.option("--early-stop", callback=_early_stop,
              help="none, or halving and/or rules: stop runs early  [default: none]")
@click.option("--eta", type=click.IntRange(2), default=None,
              help="Halving: keep the best 1/eta at each rung  [default: 2]")
@click.option("--min-share", type=float, default=None,
              help="Halving: the first rung's least share of the budget  [default: 0.25]")
@click.option("--halve-per", type=click.Choice(HALVE_PER), default=None,
              help="Halving: runs compete within each size, or each size and variant  [default: size]")
@click.option("--resume-stopped", is_flag=True, help="First train every run stopped early on to its full budget.")
@click.option("--fidelity", "full_dir", type=click.Path(file_okay=False), default=None,
              help="Also train the grid without early stopping in this folder and compare: OUT/fidelity.md.")
@click.option("--workers", type=click.IntRange(1), default=None, help="Runs in parallel processes  [default: 1]")
@click.option("--device", default=None, help="auto, cpu, cuda …  [default: auto]")
@click.option("-q", "--quiet", is_flag=True)
def sweep(data, tokenizer_dir, out, config_path, resume_stopped, full_dir, quiet, **overrides):
    """Map where each model size learns: a grid of short pretraining runs, classified and explained.

    OUT gets runs/ (one pretraining folder per grid point), runs.csv,
    report.md, learnability.png and recommended.json. With --early-stop,
    runs that halving or the rules condemn stop early (outcome "stopped",
    checkpoint kept for --resume-stopped).
    """
    from ..sweep import SweepConfig, fidelity, recommended
    from ..sweep import run as run_sweep

    config = SweepConfig.load(config_path, **overrides)
    if full_dir is not None:
        if not config.early_stop:
            raise MacedonizerError("--fidelity compares against early stopping: give --early-stop too.")
        if Path(full_dir).resolve() == Path(out).resolve():
            raise MacedonizerError("--fidelity needs a folder of its own for the full grid, not OUT.")
        run_sweep(list(data), tokenizer_dir, full_dir, replace(config, early_stop=()), progress=not quiet)
    out_dir = run_sweep(list(data), tokenizer_dir, out, config, progress=not quiet, resume_stopped=resume_stopped)
    if not quiet:
        for size, entry in recommended(out_dir).items():
            click.echo(f"{size}: lr {entry['lr']:g}, warm-up {entry['warmup']:g}, {entry['variant']} "
                       f"(val {entry['validation_loss']:.3f}, unigram {entry['unigram_loss']:.3f})")
        click.echo(f"Report: {Path(out_dir) / 'report.md'}")
    if full_dir is not None:
        path = fidelity.write(full_dir, out_dir)
        if not quiet:
            click.echo(fidelity.summary(json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))))
            click.echo(f"Fidelity: {path}")


@click.command(epilog="""\b
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
@click.option("--scope", type=click.Choice(SCOPES), default=SCOPES[0], show_default=True,
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
    from ..prune.derived import derive, summary
    from ..prune.reporting import format_report, report

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
            click.echo(format_report(json.loads((out_dir / REPORT_JSON).read_text(encoding="utf-8"))))
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
